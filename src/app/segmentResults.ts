/**
 * Pure logic of the segmentation panel: which label is which structure, the measurement options (the CLI's),
 * measurements.json as the CLI writes it, the figures shown per side with their units, progress and backend
 * lines, the height field, the measurement level taken from the axial view.
 *
 * Units: lengths and z levels in mm (patient LPS, +z = head), areas in mm² (cm² where named), volumes in mL,
 * densities in HU, times in ms. Nothing here touches the DOM, React, Cornerstone or a worker.
 */
import { PsoasError } from '../core/errors';
import { indexToWorld, type VolumeGeometry } from '../core/geometry';
import type { Volume } from '../core/volume';
import { HEIGHT_RANGE_M, type AllMeasurements, type MeasureAllOptions, type StructureMeasurements } from '../measure';
import type { Stage } from '../pipeline/run';
import { STAGES } from '../pipeline/run';
import {
  ABSENT_NOTE,
  MASK_FILE,
  REPORT_FILE,
  REPORT_FORMAT_VERSION,
  addTotals,
  describeInput,
  measurementWarnings,
  reportOptions,
  type MeasurementsReport,
} from '../cli/commands/report';
import type { InputKind } from '../cli/commands/input';

/** File names of the downloads and the absent-structure note: the CLI's (src/cli/commands/report.ts). */
export { ABSENT_NOTE, MASK_FILE, REPORT_FILE };

/**
 * Structure name → label value, from the pipeline's `labels` (value → name): background (0) left out, as
 * `psoasview segment` builds measurements.json "mask.labels" and the label map it measures.
 */
export function labelMapOf(labels: Record<number, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [value, name] of Object.entries(labels)) if (Number(value) !== 0) out[name] = Number(value);
  return out;
}

/** NIfTI description of the mask file, as the CLI writes it ("psoasview <model> <version>: 1=psoas_left 2=…"). */
export function maskDescription(model: { name: string; version: string }, labelMap: Record<string, number>): string {
  const d = Object.entries(labelMap)
    .map(([n, v]) => `${v}=${n}`)
    .join(' ');
  return `psoasview ${model.name} ${model.version}: ${d}`.slice(0, 79);
}

/**
 * measureAll options for a level (patient z, mm) and height (m): exactly the object `psoasview segment` passes
 * ({ levelZmm, heightM, source }), so the browser's figures are the CLI's.
 */
export function measureOptionsFor(levelZmm: number | null, heightM: number | null, source = MASK_FILE): MeasureAllOptions {
  return { levelZmm: levelZmm ?? undefined, heightM: levelZmm !== null ? (heightM ?? undefined) : undefined, source };
}

/** The CLI's input kind for what the viewer loaded (sample and local DICOM = a DICOM folder). */
export function inputKindOf(sourceKind: 'dicomweb' | 'local' | 'sample' | null, source: string): InputKind {
  if (sourceKind === 'dicomweb') return 'dicomweb';
  return /\.nii(\.gz)?$/i.test(source) ? 'nifti' : 'dicom-folder';
}

export interface BrowserRun {
  model: { name: string; version: string; sha256: string; source: string };
  backend: string;
  labels: Record<string, number>;
  timings: Record<string, number>;
  steps: string[];
}

/** measurements.json of a browser run: the CLI's MeasurementsReport, tool.runtime = 'browser'. */
export type BrowserReport = MeasurementsReport & {
  tool: MeasurementsReport['tool'] & { runtime: 'browser' };
  fallback_reason?: string;
};

/**
 * measurements.json as `psoasview segment` writes it, for a segmentation run in the browser: the same
 * structures (measureAll's output verbatim), options (reportOptions), totals (TPA/PMI) and warnings
 * (input warnings, then measurementWarnings with the CLI's note for absent structures).
 */
export function buildReport(a: {
  ct: Volume;
  source: string;
  sourceKind: 'dicomweb' | 'local' | 'sample' | null;
  run: BrowserRun;
  all: AllMeasurements;
  levelZmm: number | null;
  heightM: number | null;
  toolVersion: string;
  created: Date;
  fallbackReason?: string;
}): BrowserReport {
  const opts = measureOptionsFor(a.levelZmm, a.heightM);
  const report: BrowserReport = {
    format_version: REPORT_FORMAT_VERSION,
    tool: { name: 'psoasview', version: a.toolVersion, command: 'segment', runtime: 'browser' },
    created: a.created.toISOString(),
    model: { name: a.run.model.name, version: a.run.model.version, sha256: a.run.model.sha256, path: a.run.model.source },
    input: describeInput({ volume: a.ct, kind: inputKindOf(a.sourceKind, a.source), source: a.source, warnings: [] }),
    mask: { file: MASK_FILE, labels: { ...a.run.labels } },
    backend: a.run.backend,
    timings_ms: { ...a.run.timings },
    steps: [...a.run.steps],
    options: reportOptions(opts.levelZmm, opts.heightM),
    structures: a.all.structures,
    warnings: [...(a.ct.meta.warnings ?? []), ...measurementWarnings(a.all, ABSENT_NOTE)],
  };
  if (a.fallbackReason) report.fallback_reason = a.fallbackReason;
  addTotals(report, a.all);
  return report;
}

/** A number with fixed decimals, or '–' for null/undefined/NaN. */
export function formatFigure(x: number | null | undefined, digits: number): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits);
}

/** One row of the results table: label (with unit), decimals, and how to read it from a structure. */
export interface ResultRow {
  id: string;
  label: string;
  unit: string;
  digits: number;
  value(s: StructureMeasurements): number | null | undefined;
  /** Only shown once a level is chosen. */
  atLevel?: boolean;
}

export const RESULT_ROWS: readonly ResultRow[] = [
  { id: 'volume', label: 'Volume', unit: 'mL', digits: 2, value: (s) => s.volume_ml },
  { id: 'length', label: 'Centreline length', unit: 'mm', digits: 1, value: (s) => s.length_mm },
  { id: 'extent', label: 'Craniocaudal extent', unit: 'mm', digits: 1, value: (s) => s.extent_mm },
  { id: 'max-csa', label: 'Max axial CSA', unit: 'mm²', digits: 0, value: (s) => s.max_csa_mm2 },
  { id: 'max-csa-z', label: 'Max CSA level z', unit: 'mm', digits: 1, value: (s) => s.max_csa_z_mm },
  { id: 'mean-hu', label: 'Mean density', unit: 'HU', digits: 1, value: (s) => s.mean_hu },
  { id: 'csa-level', label: 'CSA at level', unit: 'mm²', digits: 0, value: (s) => s.csa_at_level_mm2, atLevel: true },
  { id: 'hu-level', label: 'Mean density at level', unit: 'HU', digits: 1, value: (s) => s.mean_hu_at_level, atLevel: true },
];

/** A structure's figure for display: '–' when the structure is absent. */
export function rowText(row: ResultRow, s: StructureMeasurements | undefined): string {
  if (!s || !s.present) return '–';
  return formatFigure(row.value(s), row.digits);
}

/** Truncation note of a structure: '' when complete, else "yes (first slice, …): lower limits". */
export function truncationText(s: StructureMeasurements | undefined): string {
  if (!s || !s.present || !s.truncated) return '';
  return `yes (${s.truncated_reasons.join(', ')})`;
}

const STAGE_TEXT: Partial<Record<Stage, string>> = {
  reorient: 'reorient',
  resample: 'resample',
  normalise: 'normalise',
  inference: 'inference',
  argmax: 'argmax',
  mapBack: 'map back to the CT grid',
  postprocess: 'post-process',
};

/** Stage position for the progress line (1-based) and the count of stages; unknown stages get none. */
export function stagePosition(stage: string): { step?: number; steps: number } {
  const i = STAGES.indexOf(stage as Stage);
  return i >= 0 ? { step: i + 1, steps: STAGES.length } : { steps: STAGES.length };
}

/**
 * Share of a typical run's time per stage (inference dominates: the rest is resampling and one pass or two over
 * the CT), for ONE progress bar over the whole run instead of one that restarts at every stage.
 */
const STAGE_WEIGHT: Partial<Record<Stage, number>> = {
  reorient: 0.01,
  resample: 0.04,
  normalise: 0.01,
  inference: 0.78,
  argmax: 0.02,
  mapBack: 0.06,
  postprocess: 0.08,
};

/** Whole-run progress 0..1 from a stage and the fraction done within it (unknown stages: 0). */
export function overallFraction(stage: string, fraction: number): number {
  const i = STAGES.indexOf(stage as Stage);
  if (i < 0) return 0;
  // A stage added to the pipeline later counts as a small one until it gets a weight here.
  const w = (s: Stage) => STAGE_WEIGHT[s] ?? 0.02;
  const total = STAGES.reduce((a, s) => a + w(s), 0);
  let before = 0;
  for (let k = 0; k < i; k++) before += w(STAGES[k]);
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  return Math.min(1, (before + f * w(STAGES[i])) / total);
}

/** "inference: tile 3/12" during inference, else the stage name ("resample"). */
export function progressLine(p: { stage: string; tile?: { done: number; total: number } }): string {
  const name = STAGE_TEXT[p.stage as Stage] ?? p.stage;
  return p.tile ? `${name}: tile ${p.tile.done}/${p.tile.total}` : name;
}

/** "onnxruntime-web/wasm · 4 threads" (threads only for WASM, where they apply). */
export function backendLine(backend: string, numThreads?: number): string {
  if (/\/wasm$/.test(backend) && numThreads && numThreads > 0) return `${backend} · ${numThreads} thread${numThreads === 1 ? '' : 's'}`;
  return backend;
}

/** First 12 hex digits of a sha256 (as the CLI's summary). */
export function shortSha(sha: string): string {
  return sha.length > 12 ? `${sha.slice(0, 12)}…` : sha;
}

/** "850 ms", "8.2 s", "2 min 05 s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/**
 * The outcome line after a run: "Done in 1 min 59 s (48 tiles)", plus what made it take longer when the package
 * asked for it: ", 2 grid placements" (one inference step per placement, sliding_window.grid_shifts) and
 * ", oblique series run upright" (input.align_to_patient_axes on a tilted series: the resample step records its tilt).
 */
export function doneNote(wallMs: number, tiles: number, steps: readonly { step: string; uprightFromTiltDeg?: number }[]): string {
  const placements = steps.filter((s) => s.step === 'inference').length;
  const upright = steps.some((s) => s.step === 'resample' && s.uprightFromTiltDeg !== undefined);
  return `Done in ${formatDuration(wallMs)} (${tiles} tiles${placements > 1 ? `, ${placements} grid placements` : ''}${upright ? ', oblique series run upright' : ''})`;
}

/** Model package loading progress: "downloading model 1.2/1.6 MB", "verifying sha256"… */
export function packageProgressText(p: { stage: string; loaded?: number; total?: number }): string {
  const mb = (b: number) => (b / 1e6).toFixed(1);
  switch (p.stage) {
    case 'manifest':
      return 'reading the manifest';
    case 'onnx':
      return p.loaded !== undefined ? `reading the model ${mb(p.loaded)}${p.total ? `/${mb(p.total)}` : ''} MB` : 'reading the model';
    case 'verify':
      return 'verifying sha256';
    case 'cache':
      return 'model cache';
    default:
      return p.stage;
  }
}

/**
 * The height field: '' → no height; a number in metres within HEIGHT_RANGE_M (the CLI's --height rule) → value;
 * otherwise an error naming what is wrong (and the metres value when it looks like centimetres).
 */
export function parseHeightText(text: string): { heightM: number | null; error: string | null } {
  const t = text.trim().replace(',', '.');
  if (t === '') return { heightM: null, error: null };
  const h = Number(t);
  if (!Number.isFinite(h)) return { heightM: null, error: `Height must be a number in metres, got "${text}"` };
  if (!(h >= HEIGHT_RANGE_M[0] && h <= HEIGHT_RANGE_M[1]))
    return {
      heightM: null,
      error: `Height must be in metres (${HEIGHT_RANGE_M[0]}–${HEIGHT_RANGE_M[1]} m), got ${t}` + (h > 100 && h < 280 ? ` (in cm? that is ${(h / 100).toFixed(2)} m)` : ''),
    };
  return { heightM: h, error: null };
}

/**
 * The measurement level (patient z, mm) for the axial slice the view shows, whose focal point has patient z
 * `focalZ`. On a standard axial stack (k axis along ±z) it is snapped to the nearest slice CENTRE (Cornerstone's
 * focal point may sit a rounding error off it), which is also the plane measureAll measures; other grids keep the
 * focal z. Clamped to the volume's z range (voxel centres).
 */
export function axialLevelZ(g: VolumeGeometry, focalZ: number): { zMm: number; slice?: number } {
  const d = g.direction;
  const nz = g.dimensions[2];
  const z0 = indexToWorld(g, [0, 0, 0])[2];
  const zLast = indexToWorld(g, [0, 0, nz - 1])[2];
  const lo = Math.min(z0, zLast);
  const hi = Math.max(z0, zLast);
  const axialStack = Math.abs(d[8]) > 0.999 && Math.abs(d[2]) < 1e-6 && Math.abs(d[5]) < 1e-6;
  if (!axialStack || nz < 2) return { zMm: Math.min(hi, Math.max(lo, focalZ)) };
  const dz = d[8] * g.spacing[2];
  const k = Math.min(nz - 1, Math.max(0, Math.round((focalZ - z0) / dz)));
  return { zMm: z0 + k * dz, slice: k };
}

/**
 * Splits a picked local model package into its manifest (.json) and ONNX (.onnx) file. Exactly one of each is
 * needed; anything else is BAD_ARGUMENT naming the files.
 */
export function pickPackageFiles<F extends { name: string }>(files: readonly F[]): { manifest: F; onnx: F } {
  const manifests = files.filter((f) => /\.json$/i.test(f.name));
  const onnx = files.filter((f) => /\.onnx$/i.test(f.name));
  if (manifests.length !== 1 || onnx.length !== 1)
    throw new PsoasError(
      'BAD_ARGUMENT',
      `A model package is two files: its manifest (.json) and its model (.onnx); got ${files.length ? files.map((f) => f.name).join(', ') : 'no file'}`,
      files.map((f) => f.name),
    );
  return { manifest: manifests[0], onnx: onnx[0] };
}
