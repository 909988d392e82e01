/**
 * `psoasview segment <DICOM folder | .nii(.gz) | DICOMweb series URL> --out <dir> [--model <dir>]`
 * Runs the model package through pipeline/run.ts `segment` (onnxruntime-node, CPU), writes
 * <dir>/psoas-mask.nii.gz (1 = psoas_left, 2 = psoas_right, on the source grid) and <dir>/measurements.json.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PsoasError } from '../../core/errors';
import { writeNifti } from '../../core/io/nifti';
import type { Volume } from '../../core/volume';
import { measureAll } from '../../measure';
import { segment, type Stage } from '../../pipeline/run';
import { ensureOutDir, parseCommandArgs, parseIntOption, parseLevelAndHeight, round, since, UsageError, type CliIO } from './common';
import { loadImage } from './input';
import { findDefaultModel, modelsDir, sha256File, toolVersion } from './model';
import { addTotals, describeInput, formatSummary, measurementWarnings, REPORT_FORMAT_VERSION, reportOptions, type MeasurementsReport } from './report';

export const MASK_FILE = 'psoas-mask.nii.gz';
export const REPORT_FILE = 'measurements.json';

export const SEGMENT_USAGE = `Usage: psoasview segment <input> --out <dir> [options]

Segments the left and right psoas with a model package (onnxruntime-node, CPU) and writes
  <dir>/${MASK_FILE}   label map on the input's own grid: 1 = psoas_left, 2 = psoas_right (patient's sides)
  <dir>/${REPORT_FILE}  model, input geometry, stage timings, and per side: volume, centreline length,
                          craniocaudal extent, max axial CSA and its level, mean HU, truncation

  <input>                    a .nii/.nii.gz CT (HU), a folder of DICOM files (searched recursively), or a
                             DICOMweb URL http(s)://host/dicom-web/studies/<StudyUID>/series/<SeriesUID>
                             (a study URL picks its best CT series)
  --out <dir>                output folder (created if missing)
  --model <dir>              model package (manifest.json + model.onnx); default: the first in models/
  --level <z mm>             axial level (patient z, LPS mm, +z = head) for CSA-at-level and TPA, e.g. mid-L3
  --height <m>               patient height in metres, for the psoas muscle index (needs --level)
  --series <uid>             series to load when the folder/study holds several
  --threads <n>              onnxruntime CPU threads (default: onnxruntime's choice)
  --json                     print measurements.json to stdout instead of the table
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

export async function segmentCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs('segment', argv, {
    out: { type: 'string' },
    model: { type: 'string' },
    level: { type: 'string' },
    height: { type: 'string' },
    series: { type: 'string' },
    threads: { type: 'string' },
    json: { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(SEGMENT_USAGE);
    return 0;
  }
  if (positionals.length !== 1)
    throw new UsageError(`psoasview segment: expected one <input>, got ${positionals.length}${positionals.length ? ` (${positionals.join(' ')})` : ''}`, positionals);
  const { levelZmm, heightM } = parseLevelAndHeight(values);
  const threads = parseIntOption('--threads', values.threads, 1, 256);
  const outDir = await ensureOutDir(values.out, 'segment');
  const progress = (t: string) => {
    if (!values.quiet) io.err(t);
  };

  const t0 = performance.now();
  const timings: Record<string, number> = {};

  // Model first: a bad package fails in a second, before a large series is downloaded.
  let t = performance.now();
  const modelDir = values.model ?? (await findDefaultModel(modelsDir()));
  progress(`model ${modelDir}${values.model ? '' : ' (default: first package in models/)'}`);
  // Imported here so that `measure` and `--help` never load the native onnxruntime module.
  const { loadNodeModel } = await import('../../inference/ort-node');
  const { manifest, session } = await loadNodeModel(modelDir, threads ? { intraOpNumThreads: threads } : {});
  try {
    const onnxPath = path.join(modelDir, manifest.onnx ?? 'model.onnx');
    const sha256 = manifest.sha256 ? manifest.sha256.toLowerCase() : await sha256File(onnxPath);
    timings.model_load = since(t);

    t = performance.now();
    const loaded = await loadImage(positionals[0], { series: values.series, onProgress: progress });
    requireCt(loaded.volume, loaded.source);
    timings.load = since(t);
    const image = loaded.volume;
    progress(`image ${image.geometry.dimensions.join('x')} @ ${image.geometry.spacing.map((s) => +s.toFixed(3)).join('x')} mm`);

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
    const maskPath = path.join(outDir, MASK_FILE);
    const labelMap: Record<string, number> = {};
    for (const [value, name] of Object.entries(result.labels)) if (Number(value) !== 0) labelMap[name] = Number(value);
    const description = Object.entries(labelMap)
      .map(([n, v]) => `${v}=${n}`)
      .join(' ');
    await writeFile(maskPath, writeNifti(result.mask, { description: `psoasview ${manifest.name} ${manifest.version}: ${description}`.slice(0, 79) }));
    timings.write_mask = since(t);

    t = performance.now();
    progress('measuring');
    const all = measureAll(image, result.mask, labelMap, { levelZmm, heightM, source: maskPath });
    timings.measure = since(t);

    const warnings = [...loaded.warnings, ...measurementWarnings(all, 'the model found nothing')];
    timings.total = since(t0);
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
      options: {
        ...reportOptions(levelZmm, heightM),
      },
      structures: all.structures,
      warnings,
    };
    addTotals(report, all);
    const jsonPath = path.join(outDir, REPORT_FILE);
    await writeFile(jsonPath, JSON.stringify(report, null, 2) + '\n');
    io.out(values.json ? JSON.stringify(report, null, 2) : `${formatSummary(report)}\nwrote   ${maskPath}\n        ${jsonPath}`);
    return 0;
  } finally {
    await session.dispose();
  }
}
