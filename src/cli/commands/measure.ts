/**
 * `psoasview measure <image> --mask <mask.nii.gz> [--map psoas_left=1,psoas_right=2] --out <dir>`
 * `psoasview measure --list <cohort.csv> --out <dir>`: one image + mask per row (commands/batch.ts).
 * Measures an existing label map (from any tool) on the CT's grid, exactly as `segment` measures its own mask.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PsoasError } from '../../core/errors';
import { measureAll } from '../../measure';
import {
  DEFAULT_LABEL_MAP,
  ensureOutDir,
  parseCommandArgs,
  parseLevelAndHeight,
  parseLabelMap,
  since,
  UsageError,
  type CliIO,
} from './common';
import { alignMaskToImage, labelCensus } from './grid';
import { loadImage, loadMask } from './input';
import { toolVersion } from './model';
import { describeInput, formatSummary, measurementWarnings, REPORT_FILE, REPORT_FORMAT_VERSION, reportOptions, resultFields, type MeasurementsReport } from './report';
import { compareWithReference, prepareReference, type ReferenceReport } from './reference';
import { batchEntries, LIST_COLUMNS, runCohort, type BatchEntry } from './batch';
import { NOT_CT_HINT, requireCt } from './segment';

export const MEASURE_USAGE = `Usage: psoasview measure <image> --mask <mask.nii[.gz]> --out <dir> [options]
       psoasview measure --list <cohort.csv> --out <dir> [--map ...]   (a batch)

Measures the psoas in an existing label map (from psoasview or any other tool) on the CT's own grid and writes
<dir>/measurements.json. Same figures as 'psoasview segment' (volume, centreline length, craniocaudal extent,
max axial CSA and its level, mean HU, truncation; TPA/PMI at a level).

  <image>                    the CT: a .nii/.nii.gz file, a folder of DICOM files, or a DICOMweb URL
                             http(s)://host/dicom-web/studies/<StudyUID>/series/<SeriesUID>
  --mask <file>              NIfTI label map (integers 0..255). On another grid than the image it is resampled
                             nearest-neighbour onto the image grid (with a warning); labels outside the image
                             are an error.
  --map name=value,...       label values in the mask (default psoas_left=1,psoas_right=2; patient's sides)
  --ref <mask>               a reference label map (e.g. an expert's) to compare the mask with: Dice, Jaccard,
                             volume difference, surface distances (ASSD, HD95, HD in mm) per structure
  --ref-map name=value,...   label values in the reference (default: those of --map)
  --out <dir>                output folder (created if missing)
  --level <z mm>             axial level (patient z, LPS mm, +z = head) for CSA-at-level and TPA, e.g. mid-L3
  --height <m>               patient height in metres, for the psoas muscle index (needs --level)
  --series <uid>             series to load when the folder/study holds several
  --list <file>              a cohort instead of one <image>: a CSV whose header names image and mask, and any of
                             case (its folder name), level_z_mm, height_m, series, ref; each case is written to
                             <dir>/<case>/measurements.json and one row per case to <dir>/summary.csv and
                             summary.json (a failed case is recorded there; exit status 1). --map applies to all.
  --json                     print measurements.json (with --list: summary.json) to stdout instead of the table
  -q, --quiet                no progress messages on stderr
  -h, --help                 this text
`;

export async function measureCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs('measure', argv, {
    mask: { type: 'string' },
    map: { type: 'string' },
    out: { type: 'string' },
    level: { type: 'string' },
    height: { type: 'string' },
    series: { type: 'string' },
    list: { type: 'string' },
    ref: { type: 'string' },
    'ref-map': { type: 'string' },
    json: { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(MEASURE_USAGE);
    return 0;
  }
  const batch = values.list !== undefined;
  if (batch) {
    // Each row of the list names its own image and mask; a level, a height and a series belong to one patient's scan.
    if (positionals.length) throw new UsageError(`psoasview measure: with --list, the images come from the list, not the command line (got ${positionals.join(' ')})`, positionals);
    for (const [opt, v] of [['--mask', values.mask], ['--level', values.level], ['--height', values.height], ['--series', values.series], ['--ref', values.ref]] as const)
      if (v !== undefined)
        throw new UsageError(`psoasview measure: ${opt} applies to one scan; with --list give it per case (columns: ${LIST_COLUMNS.measure.join(', ')})`, v);
  } else {
    if (positionals.length !== 1)
      throw new UsageError(`psoasview measure: expected one <image> (or --list <file>), got ${positionals.length}${positionals.length ? ` (${positionals.join(' ')})` : ''}`, positionals);
    if (!values.mask) throw new UsageError('psoasview measure: --mask <file> is required (the label map to measure)');
  }
  const labelMap = values.map !== undefined ? parseLabelMap(values.map) : { ...DEFAULT_LABEL_MAP };
  const refMap = values['ref-map'] !== undefined ? parseLabelMap(values['ref-map'], '--ref-map') : undefined;
  const { levelZmm, heightM } = parseLevelAndHeight(values);
  const entries = batch ? await batchEntries([], values.list, 'measure') : [{ input: positionals[0], mask: values.mask, levelZmm, heightM, series: values.series, ref: values.ref, from: 'argument 1' }];
  if (refMap && !entries.some((e) => e.ref !== undefined))
    throw new UsageError('psoasview measure: --ref-map names the labels of a reference; give the reference with --ref <mask> (or a ref column in --list)', values['ref-map']);
  const outDir = await ensureOutDir(values.out, 'measure');
  const progress = (t: string) => {
    if (!values.quiet) io.err(t);
  };
  if (batch)
    return await runCohort(entries, outDir, {
      command: 'measure',
      backend: null,
      structureNames: Object.keys(labelMap),
      files: [REPORT_FILE],
      runCase: (entry, caseDir, p) => measureOne(entry, caseDir, labelMap, p, refMap),
      json: !!values.json,
      progress,
      io,
    });
  const report = await measureOne(entries[0], outDir, labelMap, progress, refMap);
  const jsonPath = path.join(outDir, REPORT_FILE);
  io.out(values.json ? JSON.stringify(report, null, 2) : `${formatSummary(report)}\nwrote   ${jsonPath}`);
  return 0;
}

/** Measures one image + mask into `outDir`/measurements.json (the folder is made once there is a result). */
async function measureOne(
  entry: BatchEntry,
  outDir: string,
  labelMap: Record<string, number>,
  progress: (t: string) => void,
  refMap?: Record<string, number>,
): Promise<MeasurementsReport> {
  const maskFile = entry.mask as string;
  const { levelZmm, heightM } = entry;
  const t0 = performance.now();
  const timings: Record<string, number> = {};
  let t = performance.now();
  const loaded = await loadImage(entry.input, { series: entry.series, onProgress: progress });
  requireCt(loaded.volume, loaded.source, NOT_CT_HINT);
  const rawMask = await loadMask(maskFile);
  const rawRef = entry.ref !== undefined ? await loadMask(entry.ref) : undefined;
  timings.load = since(t);

  const warnings = [...loaded.warnings];
  const aligned = alignMaskToImage(loaded.volume, rawMask, maskFile, loaded.source);
  warnings.push(...aligned.warnings);
  const mask = aligned.mask;
  // The reference is checked (grid, labels, --ref-map) before anything is measured, as `segment` does.
  const preparedRef = rawRef && entry.ref !== undefined ? prepareReference(loaded.volume, loaded.source, rawRef, entry.ref, labelMap, refMap) : undefined;

  // Labels in the mask that the map does not name (a multi-label map from another tool, or a wrong --map).
  const { counts, absent, unnamed: unmapped } = labelCensus(mask.data, labelMap);
  const mappedPresent = absent.length < Object.keys(labelMap).length;
  if (!mappedPresent && unmapped.length > 0)
    throw new PsoasError(
      'BAD_ARGUMENT',
      `None of the labels of --map (${Object.entries(labelMap).map(([n, v]) => `${n}=${v}`).join(',')}) is in mask ${maskFile}; ` +
        `it holds label(s) ${unmapped.map((v) => `${v} (${counts[v]} voxels)`).join(', ')}: give them with --map psoas_left=<v>,psoas_right=<v>`,
      unmapped,
      maskFile,
    );
  for (const [name, v] of absent)
    warnings.push(`${name} (label ${v}) is absent from ${maskFile}` + (unmapped.length ? `; the mask holds label(s) ${unmapped.join(', ')}: check --map` : ''));
  if (unmapped.length && mappedPresent)
    warnings.push(`${maskFile} also holds label(s) ${unmapped.join(', ')}, not named in --map; ignored`);

  t = performance.now();
  progress('measuring');
  const all = measureAll(loaded.volume, mask, labelMap, { levelZmm, heightM, source: maskFile });
  timings.measure = since(t);
  warnings.push(...measurementWarnings(all));
  let reference: ReferenceReport | undefined;
  if (preparedRef) {
    t = performance.now();
    progress(`comparing with the reference ${preparedRef.file}`);
    reference = compareWithReference(loaded.volume, loaded.source, mask.data, labelMap, preparedRef);
    warnings.push(...reference.warnings);
    timings.compare = since(t);
  }

  const report: MeasurementsReport = {
    format_version: REPORT_FORMAT_VERSION,
    tool: { name: 'psoasview', version: await toolVersion(), command: 'measure' },
    created: new Date().toISOString(),
    input: describeInput(loaded),
    mask: { file: path.resolve(maskFile), labels: labelMap, resampled: aligned.resampled, reordered: aligned.reordered },
    backend: null,
    timings_ms: timings,
    ...resultFields(all, warnings, reportOptions(levelZmm, heightM, entry.series), reference),
  };
  // total = everything up to the result (load, align, measure); writing the JSON itself is not timed.
  timings.total = since(t0);
  await ensureOutDir(outDir, 'measure');
  await writeFile(path.join(outDir, REPORT_FILE), JSON.stringify(report, null, 2) + '\n');
  return report;
}
