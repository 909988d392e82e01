/**
 * measurements.json (the CLI's result file) and the short human summary printed to stdout.
 *
 * Units: lengths and z levels in mm (patient LPS, +z = superior), areas in mm^2 (and cm^2 where named),
 * volumes in mL, densities in HU, timings in milliseconds. Structure entries are src/measure's
 * StructureMeasurements verbatim (snake_case, see src/measure/types.ts).
 */
import { indexToWorld, orientationCode, type Mat3, type Vec3, type VolumeGeometry } from '../../core/geometry';
import type { Volume } from '../../core/volume';
import { DEFAULT_HU_WINDOW, type AllMeasurements, type StructureMeasurements } from '../../measure';
import type { StructureAgreement } from '../../measure';
import type { InputKind, LoadedInput } from './input';

/** Bumped when a field of measurements.json changes meaning or is removed. */
export const REPORT_FORMAT_VERSION = 1;

export interface ReportInput {
  source: string;
  kind: InputKind;
  dimensions: Vec3;
  /** mm along i, j, k. */
  spacing: Vec3;
  /** LPS mm of the centre of voxel (0,0,0). */
  origin: Vec3;
  /** Column-major direction cosines (LPS), as core/geometry. */
  direction: Mat3;
  /** e.g. 'LPS' (axes i, j, k point towards patient Left, Posterior, Superior). */
  orientation: string;
  /** Lowest and highest patient z (LPS mm, +z = head) of the voxel centres: the range --level can take. */
  z_range_mm: [number, number];
  units: Volume['units'];
  modality?: string;
  study_instance_uid?: string;
  series_instance_uid?: string;
  series_description?: string;
}

export interface ReportModel {
  name: string;
  version: string;
  /** sha256 (hex) of the ONNX file that ran. */
  sha256: string;
  /** Folder of the package. */
  path: string;
}

export interface MeasurementsReport {
  format_version: number;
  tool: { name: 'psoasview'; version: string; command: 'segment' | 'measure' };
  created: string;
  /** Present when a model ran (segment). */
  model?: ReportModel;
  input: ReportInput;
  mask: {
    /** File written (segment) or read (measure). */
    file: string;
    /** Structure name → label value in that file. */
    labels: Record<string, number>;
    /** True when the mask was resampled nearest-neighbour onto the image grid (measure only). */
    resampled?: boolean;
    /** True when the mask held the image's voxels in another index order and was reordered exactly (measure only). */
    reordered?: boolean;
  };
  /** Inference backend (e.g. 'onnxruntime-node/cpu'); null for measure. */
  backend: string | null;
  /** Stage timings (ms): load, each pipeline stage (segment), measure, write, total. */
  timings_ms: Record<string, number>;
  /** One line per pipeline step (segment): what was done on which grid. */
  steps?: string[];
  /** Measurement options used. */
  options: { level_z_mm?: number; height_m?: number; hu_window: [number, number]; /** --series, as given. */ series?: string };
  structures: Record<string, StructureMeasurements>;
  tpa_mm2?: number;
  tpa_cm2?: number;
  pmi_cm2_per_m2?: number;
  /** With --ref: the reference label map and the mask's agreement with it per structure (measure/agreement.ts). */
  reference?: { file: string; labels: Record<string, number>; resampled: boolean; reordered: boolean };
  agreement?: Record<string, StructureAgreement>;
  warnings: string[];
}

function zRange(g: VolumeGeometry): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let c = 0; c < 8; c++) {
    const z = indexToWorld(g, [c & 1 ? g.dimensions[0] - 1 : 0, c & 2 ? g.dimensions[1] - 1 : 0, c & 4 ? g.dimensions[2] - 1 : 0])[2];
    lo = Math.min(lo, z);
    hi = Math.max(hi, z);
  }
  return [lo, hi];
}

export function describeInput(loaded: LoadedInput): ReportInput {
  const g = loaded.volume.geometry;
  const m = loaded.volume.meta;
  const out: ReportInput = {
    source: loaded.source,
    kind: loaded.kind,
    dimensions: [...g.dimensions] as Vec3,
    spacing: [...g.spacing] as Vec3,
    origin: [...g.origin] as Vec3,
    direction: [...g.direction] as Mat3,
    orientation: orientationCode(g),
    z_range_mm: zRange(g),
    units: loaded.volume.units,
  };
  if (m.modality) out.modality = m.modality;
  if (m.studyInstanceUid) out.study_instance_uid = m.studyInstanceUid;
  if (m.seriesInstanceUid) out.series_instance_uid = m.seriesInstanceUid;
  if (m.seriesDescription) out.series_description = m.seriesDescription;
  return out;
}

/** The files `psoasview segment` writes per input, and the browser's downloads of the same. */
export const MASK_FILE = 'psoas-mask.nii.gz';
export const REPORT_FILE = 'measurements.json';
/** Note for a structure the model did not find (segment's and the browser's warnings). */
export const ABSENT_NOTE = 'the model found nothing';

/** The fields of a measurements.json that are the command's result, in the order they are written. */
type ResultFields = Pick<MeasurementsReport, 'options' | 'structures' | 'warnings' | 'tpa_mm2' | 'tpa_cm2' | 'pmi_cm2_per_m2' | 'reference' | 'agreement'>;

/**
 * The result part of a CLI report (segment and measure alike): the options, the structures and warnings, the study
 * totals (TPA, PMI) and, with --ref, the reference and the mask's agreement with it (reference.ts).
 */
export function resultFields(
  all: AllMeasurements,
  warnings: string[],
  options: MeasurementsReport['options'],
  ref: { reference: NonNullable<MeasurementsReport['reference']>; agreement: NonNullable<MeasurementsReport['agreement']> } | undefined,
): ResultFields {
  const out: ResultFields = { options, structures: all.structures, warnings };
  addTotals(out, all);
  if (ref) {
    out.reference = ref.reference;
    out.agreement = ref.agreement;
  }
  return out;
}

/** Copies the study-level figures (TPA, PMI) of measureAll's result into the report. */
export function addTotals(report: Pick<MeasurementsReport, 'tpa_mm2' | 'tpa_cm2' | 'pmi_cm2_per_m2'>, all: AllMeasurements): void {
  if (all.tpa_mm2 !== undefined) report.tpa_mm2 = all.tpa_mm2;
  if (all.tpa_cm2 !== undefined) report.tpa_cm2 = all.tpa_cm2;
  if (all.pmi_cm2_per_m2 !== undefined) report.pmi_cm2_per_m2 = all.pmi_cm2_per_m2;
}

/**
 * A plain-text table as lines: each column as wide as its widest cell, a dashed rule under the header; columns for
 * which `leftAligned(c)` holds (names, words) are padded on the right, the others (figures) on the left.
 */
export function formatTable(head: string[], rows: string[][], leftAligned: (column: number) => boolean): string[] {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (cells: string[]) => cells.map((x, c) => (leftAligned(c) ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

const fmt = (x: number | null | undefined, digits: number): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));

/** Plain-text table: one row per structure, then totals and warnings. */
export function formatSummary(r: MeasurementsReport): string {
  const lines: string[] = [];
  const i = r.input;
  lines.push(`input   ${i.source}`);
  lines.push(
    `        ${i.dimensions.join('x')} voxels @ ${i.spacing.map((s) => +s.toFixed(3)).join('x')} mm, ${i.orientation}, ` +
      `z ${i.z_range_mm[0].toFixed(1)}..${i.z_range_mm[1].toFixed(1)} mm`,
  );
  if (r.model) lines.push(`model   ${r.model.name} ${r.model.version} (sha256 ${r.model.sha256.slice(0, 12)}…) on ${r.backend}`);
  lines.push(`mask    ${r.mask.file}${r.mask.resampled ? ' (resampled onto the image grid)' : ''}`);
  const level = r.options.level_z_mm !== undefined;
  const head = ['structure', 'label', 'volume mL', 'length mm', 'extent mm', 'max CSA cm²', 'at z mm', 'mean HU', ...(level ? ['CSA@level cm²'] : []), 'truncated'];
  const rows = Object.entries(r.structures).map(([name, s]) => [
    name,
    String(s.label),
    s.present ? fmt(s.volume_ml, 2) : 'absent',
    s.present ? fmt(s.length_mm, 1) : '–',
    s.present ? fmt(s.extent_mm, 1) : '–',
    s.present ? fmt(s.max_csa_cm2, 2) : '–',
    s.present ? fmt(s.max_csa_z_mm, 1) : '–',
    s.present ? fmt(s.mean_hu, 1) : '–',
    ...(level ? [s.present ? fmt(s.csa_at_level_cm2, 2) : '–'] : []),
    s.present ? (s.truncated ? `yes (${s.truncated_reasons.join(', ')})` : 'no') : '–',
  ]);
  lines.push('');
  lines.push(...formatTable(head, rows, (c) => c < 2 || c === head.length - 1));
  if (Object.values(r.structures).some((s) => s.truncated))
    lines.push('truncated: the mask touches the edge of the scan; volume, length and extent are lower limits');
  if (level) {
    lines.push('');
    lines.push(`level z = ${r.options.level_z_mm} mm: TPA ${fmt(r.tpa_cm2, 2)} cm²` + (r.pmi_cm2_per_m2 !== undefined ? `, PMI ${fmt(r.pmi_cm2_per_m2, 2)} cm²/m² (height ${r.options.height_m} m)` : ''));
  }
  if (r.agreement && r.reference) {
    lines.push('');
    lines.push(`against reference ${r.reference.file}${r.reference.resampled ? ' (resampled onto the image grid)' : ''}`);
    const ahead = ['structure', 'Dice', 'Jaccard', 'volume Δ mL', 'volume Δ %', 'ASSD mm', 'HD95 mm', 'HD mm'];
    const arows = Object.entries(r.agreement).map(([name, a]) => [
      name,
      fmt(a.dice, 4),
      fmt(a.jaccard, 4),
      fmt(a.volume_diff_ml, 2),
      fmt(a.volume_diff_percent, 2),
      fmt(a.assd_mm, 2),
      fmt(a.hd95_mm, 2),
      fmt(a.hd_mm, 2),
    ]);
    lines.push(...formatTable(ahead, arows, (c) => c === 0));
  }
  if (r.warnings.length) {
    lines.push('');
    for (const w of r.warnings) lines.push(`warning: ${w}`);
  }
  const t = r.timings_ms;
  lines.push('');
  lines.push(`time    ${Object.entries(t).map(([k, v]) => `${k} ${v < 10 ? v.toFixed(1) : Math.round(v)} ms`).join(', ')}`);
  return lines.join('\n');
}

/** The `options` block of measurements.json: the level and height the user gave, and the muscle HU window used. */
export function reportOptions(levelZmm: number | undefined, heightM: number | undefined, series?: string): MeasurementsReport['options'] {
  return {
    ...(levelZmm !== undefined ? { level_z_mm: levelZmm } : {}),
    ...(heightM !== undefined ? { height_m: heightM } : {}),
    hu_window: [...DEFAULT_HU_WINDOW] as [number, number],
    ...(series !== undefined ? { series } : {}),
  };
}

/**
 * Warnings of the measurement engine, the global ones first, then each structure's prefixed with its name.
 * `absentNote`, when given, is added for a structure that is not in the mask (e.g. "the model found nothing").
 */
export function measurementWarnings(all: AllMeasurements, absentNote?: string): string[] {
  const out = [...all.warnings];
  for (const [name, s] of Object.entries(all.structures)) {
    if (absentNote && !s.present) out.push(`${name}: ${absentNote}`);
    for (const w of s.warnings) out.push(`${name}: ${w}`);
  }
  return out;
}
