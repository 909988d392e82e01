/**
 * `psoasview segment <DICOM folder | .nii(.gz) | DICOMweb series URL> --out <dir> [--model <dir>]`
 * Runs the model package through pipeline/run.ts `segment` (onnxruntime-node, CPU), writes
 * <dir>/psoas-mask.nii.gz (1 = psoas_left, 2 = psoas_right, on the source grid) and <dir>/measurements.json.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PsoasError } from '../../core/errors';
import { writeNifti } from '../../core/io/nifti';
import type { Volume } from '../../core/volume';
import { measureAll } from '../../measure';
import type { ModelSession } from '../../inference/types';
import type { ModelManifest } from '../../pipeline/manifest';
import { labelLookup, segment, type Stage } from '../../pipeline/run';
import { ensureOutDir, parseCommandArgs, parseIntOption, parseLabelMap, parseLevelAndHeight, round, since, UsageError, type CliIO } from './common';
import { loadImage, loadMask } from './input';
import { findDefaultModel, modelsDir, sha256File, toolVersion } from './model';
import { batchEntries, LIST_COLUMNS, reusableReport, runCohort, SUMMARY_CSV, SUMMARY_JSON, type BatchEntry } from './batch';
import { compareWithReference, prepareReference, type ReferenceReport } from './reference';
import { ABSENT_NOTE, describeInput, formatSummary, MASK_FILE, measurementWarnings, REPORT_FILE, REPORT_FORMAT_VERSION, reportOptions, resultFields, type MeasurementsReport } from './report';

export const SEGMENT_USAGE = `Usage: psoasview segment <input> --out <dir> [options]
       psoasview segment <input> <input> ... | --list <file>  --out <dir> [--resume] [options]   (a batch)

Segments the left and right psoas with a model package (onnxruntime-node, CPU) and writes
  <dir>/${MASK_FILE}   label map on the input's own grid: 1 = psoas_left, 2 = psoas_right (patient's sides)
  <dir>/${REPORT_FILE}  model, input geometry, stage timings, and per side: volume, centreline length,
                          craniocaudal extent, max axial CSA and its level, mean HU, truncation
With several inputs (a batch) the model is loaded once and each case gets <dir>/<case>/ with those two files;
<dir>/${SUMMARY_CSV} and <dir>/${SUMMARY_JSON} hold one row per case (figures, or the error of a case that failed)
and are rewritten after every case. A failed case does not stop the batch; the exit status is then 1.
<case> is the list's case column, else the file name without .nii(.gz), the folder's name or the URL's last
UID (parent folders are prepended where two inputs share a name).

  <input>                    a .nii/.nii.gz CT (HU), a folder of DICOM files (searched recursively), or a
                             DICOMweb URL http(s)://host/dicom-web/studies/<StudyUID>/series/<SeriesUID>
                             (a study URL picks its best CT series)
  --out <dir>                output folder (created if missing)
  --model <dir>              model package (manifest.json + model.onnx); default: the first in models/
  --level <z mm>             axial level (patient z, LPS mm, +z = head) for CSA-at-level and TPA, e.g. mid-L3
  --height <m>               patient height in metres, for the psoas muscle index (needs --level)
  --series <uid>             series to load when the folder/study holds several
  --threads <n>              onnxruntime CPU threads (default: onnxruntime's choice)
  --ref <mask>               a reference label map (e.g. an expert's) to compare the model's mask with: Dice,
                             Jaccard, volume difference, surface distances (ASSD, HD95, HD in mm) per side
  --ref-map name=value,...   label values in the reference (default: the model's, psoas_left=1,psoas_right=2)
  --list <file>              batch inputs: one path or URL per line, or a CSV with a header naming input and
                             any of case (its folder name, e.g. a study ID), level_z_mm, height_m, series, ref
                             (per-case --level, --height, --series, --ref)
  --resume                   batch: keep a case whose <case>/${REPORT_FILE} came from the same psoasview version,
                             model, input, series, level, height and reference (after an interrupted or partly
                             failed run); cases are matched by folder, so give them a case column or keep the
                             list as it was
  --json                     print measurements.json (batch: summary.json) to stdout instead of the table
  -q, --quiet                no progress messages on stderr
  -h, --help                 this text
`;

export const NOT_CT_HINT = 'psoasview needs a CT in Hounsfield units';

/** Throws NOT_CT unless the volume holds CT in HU (a label map or another modality given as the image). */
export function requireCt(v: Volume, source: string, hint = NOT_CT_HINT): void {
  if (v.units === 'label')
    throw new PsoasError(
      'NOT_CT',
      `${source} is a label map (${String(v.meta.niftiDatatype ?? 'uint8')} / NIfTI intent LABEL), not an image: ${hint}`,
      v.units,
      source,
    );
  if (v.meta.modality && String(v.meta.modality).toUpperCase() !== 'CT')
    throw new PsoasError('NOT_CT', `${source} is modality ${String(v.meta.modality)}, not CT: ${hint}`, v.meta.modality, source);
}

/**
 * The model's structure → label value map as the mask holds them ({psoas_left: 1, psoas_right: 2}), in label order:
 * the pipeline's own labelLookup (known names take the project's values whatever their channel).
 */
function modelLabelMap(manifest: ModelManifest): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [value, name] of Object.entries(labelLookup(manifest).names)) if (Number(value) !== 0) out[name] = Number(value);
  return out;
}

/** What every case of one `segment` run shares: the model package and its session (loaded and verified once). */
interface ModelContext {
  modelDir: string;
  manifest: ModelManifest;
  session: ModelSession;
  sha256: string;
  /** Structure → label value in the masks this model writes (modelLabelMap). */
  labels: Record<string, number>;
  /** ms to load and verify the model; charged to the case's timings only for a single input (a batch pays it once). */
  modelLoadMs: number;
  batch: boolean;
}

/**
 * Segments and measures one input into `outDir` (psoas-mask.nii.gz + measurements.json) and returns the report.
 * Throws (PsoasError naming the input) on bad input; nothing is written for a case that fails before the mask.
 */
async function segmentOne(entry: BatchEntry, outDir: string, ctx: ModelContext, progress: (t: string) => void, refMap?: Record<string, number>): Promise<MeasurementsReport> {
  const { manifest, session, sha256, modelDir } = ctx;
  const { levelZmm, heightM } = entry;
  const t0 = performance.now();
  const timings: Record<string, number> = ctx.batch ? {} : { model_load: ctx.modelLoadMs };

  let t = performance.now();
  // The reference first: a missing or unreadable file fails before the segmentation, not after it.
  const refVolume = entry.ref !== undefined ? await loadMask(entry.ref) : undefined;
  const loaded = await loadImage(entry.input, { series: entry.series, onProgress: progress });
  requireCt(loaded.volume, loaded.source);
  timings.load = since(t);
  const image = loaded.volume;
  progress(`image ${image.geometry.dimensions.join('x')} @ ${image.geometry.spacing.map((s) => +s.toFixed(3)).join('x')} mm`);
  const labelMap = ctx.labels;
  const preparedRef = refVolume && entry.ref !== undefined ? prepareReference(image, loaded.source, refVolume, entry.ref, labelMap, refMap) : undefined;

  let lastStage: Stage | undefined;
  let lastTenth = -1;
  const result = await segment(image, manifest, session.predictTile, {
    onProgress: (p) => {
      if (p.stage !== lastStage) {
        lastStage = p.stage;
        lastTenth = -1;
        progress(`  ${p.stage}`);
      }
      if (p.stage === 'inference') {
        const tenth = Math.floor(p.fraction * 10);
        if (tenth !== lastTenth && tenth > 0 && tenth < 10) {
          lastTenth = tenth;
          progress(`    ${tenth * 10}% of tiles`);
        }
      }
    },
  });
  for (const [k, v] of Object.entries(result.timings)) if (k !== 'total') timings[k] = round(v, 1);
  timings.segment_total = round(result.timings.total, 1);

  t = performance.now();
  await ensureOutDir(outDir, 'segment'); // a batch case's folder: made only once there is something to write
  // An earlier run's report must not sit beside this run's mask if this run fails before writing its own.
  await rm(path.join(outDir, REPORT_FILE), { force: true });
  const maskPath = path.join(outDir, MASK_FILE);
  const description = Object.entries(labelMap)
    .map(([n, v]) => `${v}=${n}`)
    .join(' ');
  await writeFile(maskPath, writeNifti(result.mask, { description: `psoasview ${manifest.name} ${manifest.version}: ${description}`.slice(0, 79) }));
  timings.write_mask = since(t);

  t = performance.now();
  progress('measuring');
  const all = measureAll(image, result.mask, labelMap, { levelZmm, heightM, source: maskPath });
  timings.measure = since(t);

  const warnings = [...loaded.warnings, ...measurementWarnings(all, ABSENT_NOTE)];
  let reference: ReferenceReport | undefined;
  if (preparedRef) {
    t = performance.now();
    progress(`comparing with the reference ${preparedRef.file}`);
    reference = compareWithReference(image, loaded.source, result.mask.data, labelMap, preparedRef);
    warnings.push(...reference.warnings);
    timings.compare = since(t);
  }
  // One input: model_load is part of this run's total; in a batch it was paid once (summary.json's model_load_ms).
  timings.total = round(since(t0) + (ctx.batch ? 0 : ctx.modelLoadMs), 1);
  const report: MeasurementsReport = {
    format_version: REPORT_FORMAT_VERSION,
    tool: { name: 'psoasview', version: await toolVersion(), command: 'segment' },
    created: new Date().toISOString(),
    model: { name: manifest.name, version: manifest.version, sha256, path: path.resolve(modelDir) },
    input: describeInput(loaded),
    mask: { file: path.resolve(maskPath), labels: labelMap },
    backend: session.backend,
    timings_ms: timings,
    steps: result.steps.map((s) => `${s.step}: ${s.summary}`),
    ...resultFields(all, warnings, reportOptions(levelZmm, heightM, entry.series), reference),
  };
  await writeFile(path.join(outDir, REPORT_FILE), JSON.stringify(report, null, 2) + '\n');
  return report;
}

export async function segmentCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs('segment', argv, {
    out: { type: 'string' },
    model: { type: 'string' },
    level: { type: 'string' },
    height: { type: 'string' },
    series: { type: 'string' },
    threads: { type: 'string' },
    list: { type: 'string' },
    resume: { type: 'boolean' },
    ref: { type: 'string' },
    'ref-map': { type: 'string' },
    json: { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(SEGMENT_USAGE);
    return 0;
  }
  const batch = values.list !== undefined || positionals.length > 1;
  if (!batch && positionals.length !== 1)
    throw new UsageError(`psoasview segment: expected an <input> (or several, or --list <file>), got none`, positionals);
  const { levelZmm, heightM } = parseLevelAndHeight(values);
  if (batch) {
    // A level, a height and a series UID belong to one patient's scan: in a batch they come per case from --list.
    for (const [opt, v] of [['--level', values.level], ['--height', values.height], ['--series', values.series], ['--ref', values.ref]] as const)
      if (v !== undefined)
        throw new UsageError(`psoasview segment: ${opt} applies to one scan; for several inputs give it per case in a --list CSV (columns: ${LIST_COLUMNS.segment.join(', ')})`, v);
  } else if (values.resume) throw new UsageError('psoasview segment: --resume is for several inputs (a batch); one input always runs', values.resume);
  const threads = parseIntOption('--threads', values.threads, 1, 256);
  const refMap = values['ref-map'] !== undefined ? parseLabelMap(values['ref-map'], '--ref-map') : undefined;
  // Inputs first (a bad --list fails before the model is loaded), then the output folder.
  const entries = batch ? await batchEntries(positionals, values.list, 'segment') : [{ input: positionals[0], levelZmm, heightM, series: values.series, ref: values.ref, from: 'argument 1' }];
  if (refMap && !entries.some((e) => e.ref !== undefined))
    throw new UsageError('psoasview segment: --ref-map names the labels of a reference; give the reference with --ref <mask> (or a ref column in --list)', values['ref-map']);
  const outDir = await ensureOutDir(values.out, 'segment');
  const progress = (t: string) => {
    if (!values.quiet) io.err(t);
  };

  // Model first: a bad package fails in a second, before a large series is downloaded.
  const t = performance.now();
  const modelDir = values.model ?? (await findDefaultModel(modelsDir()));
  progress(`model ${modelDir}${values.model ? '' : ' (default: first package in models/)'}`);
  // Imported here so that `measure` and `--help` never load the native onnxruntime module.
  const { loadNodeModel } = await import('../../inference/ort-node');
  const { manifest, session } = await loadNodeModel(modelDir, threads ? { intraOpNumThreads: threads } : {});
  try {
    const onnxPath = path.join(modelDir, manifest.onnx ?? 'model.onnx');
    const sha256 = manifest.sha256 ? manifest.sha256.toLowerCase() : await sha256File(onnxPath);
    const ctx: ModelContext = { modelDir, manifest, session, sha256, labels: modelLabelMap(manifest), modelLoadMs: since(t), batch };
    if (!batch) {
      const report = await segmentOne(entries[0], outDir, ctx, progress, refMap);
      const maskPath = path.join(outDir, MASK_FILE);
      io.out(values.json ? JSON.stringify(report, null, 2) : `${formatSummary(report)}\nwrote   ${maskPath}\n        ${path.join(outDir, REPORT_FILE)}`);
      return 0;
    }
    return await runCohort(entries, outDir, {
      command: 'segment',
      model: { name: manifest.name, version: manifest.version, sha256, path: path.resolve(modelDir) },
      backend: session.backend,
      modelLoadMs: ctx.modelLoadMs,
      structureNames: Object.keys(ctx.labels),
      files: [MASK_FILE, REPORT_FILE],
      runCase: (entry, caseDir, p) => segmentOne(entry, caseDir, ctx, p, refMap),
      reuse: values.resume
        ? (entry, caseDir) => reusableReport(path.join(caseDir, REPORT_FILE), path.join(caseDir, MASK_FILE), entry, sha256, refMap ?? ctx.labels)
        : undefined,
      json: !!values.json,
      progress,
      io,
    });
  } finally {
    await session.dispose();
  }
}
