/**
 * Psoas measurement engine: volume, craniocaudal extent, centreline length, axial CSA (max and at a chosen level),
 * mean HU, truncation, TPA and PMI. Definitions: shared/notes/measurements.md.
 *
 * Everything is computed on the mask's SOURCE grid with its spacing and direction cosines (LPS mm).
 * Cost: one pass over the whole label map for all labels together (per-slice accumulators, no full-size copies),
 * then a few passes over each label's bounding box only.
 */
import type { Vec3, VolumeGeometry } from '../core/geometry';
import { PsoasError } from '../core/errors';
import type { VoxelArray } from '../core/volume';
import { accumulateLabels, type LabelAccumulator } from './accumulate';
import { affineOf, gridZRange, sameGrid, type Affine } from './grid';
import { binAlong, centrelineFromBins, principalAxis, type SlabBins } from './centreline';
import { sampleAxialPlane, type XYBox } from './crossSection';
import type {
  AllMeasurements,
  ImageInput,
  LengthMethod,
  MaskInput,
  MeasureAllOptions,
  MeasureOptions,
  StructureMeasurements,
} from './types';

/** Skeletal-muscle HU window used for "mean HU within the muscle window" (inclusive). */
export const DEFAULT_HU_WINDOW: [number, number] = [-29, 150];
/** Default half-width (mm) of the centreline smoothing window. */
export const DEFAULT_SMOOTHING_MM = 5;
/** Default label map (patient's sides). */
export const DEFAULT_LABELS: Record<string, number> = { psoas_left: 1, psoas_right: 2 };
/** Plausible patient height range (m) for PMI; outside it the value was most likely given in cm or ft. */
export const HEIGHT_RANGE_M: [number, number] = [0.4, 2.8];

/** A structure is walked along its principal axis instead of z only when that axis is > 45° from z ... */
const WALK_AXIS_MIN_ANGLE_COS = Math.cos(Math.PI / 4);
/** ... and the mask is clearly elongated (λ1 > 4 x mean of the other two eigenvalues of its covariance). */
const WALK_AXIS_MIN_ELONGATION = 4;

function validate(image: ImageInput, mask: MaskInput, source: string): void {
  const g = mask.geometry;
  const n = g.dimensions[0] * g.dimensions[1] * g.dimensions[2];
  if (!(mask.data instanceof Uint8Array)) {
    throw new PsoasError('BAD_ARGUMENT', `Label map of ${source} must be a Uint8Array (labels 0..255)`, typeof mask.data, source);
  }
  if (mask.data.length !== n) {
    throw new PsoasError(
      'BAD_ARGUMENT',
      `Label map of ${source} holds ${mask.data.length} voxels but its geometry ${g.dimensions.join('x')} needs ${n}`,
      mask.data.length,
      source,
    );
  }
  if (image) {
    if (!sameGrid(image.geometry, g)) {
      throw new PsoasError(
        'BAD_ARGUMENT',
        `CT and label map of ${source} are on different grids (CT ${image.geometry.dimensions.join('x')} at ` +
          `[${image.geometry.spacing.join(', ')}] mm, mask ${g.dimensions.join('x')} at [${g.spacing.join(', ')}] mm); ` +
          'measurements need the mask on the source CT grid',
        { image: image.geometry, mask: g },
        source,
      );
    }
    if (image.data.length !== n) {
      throw new PsoasError('BAD_ARGUMENT', `CT of ${source} holds ${image.data.length} voxels, expected ${n}`, image.data.length, source);
    }
  }
}

function checkLabel(label: number, source: string): void {
  if (!Number.isInteger(label) || label < 1 || label > 255) {
    throw new PsoasError('BAD_ARGUMENT', `Label must be an integer 1..255, got ${label} (${source})`, label, source);
  }
}

const SIDE_NAMES: Record<string, string> = {
  L: 'left',
  R: 'right',
  P: 'posterior',
  A: 'anterior',
  S: 'superior',
  I: 'inferior',
};

/** Patient side an in-plane grid edge faces: the high edge faces where the axis points, the low edge the opposite. */
function edgeSide(g: VolumeGeometry, axis: 0 | 1, high: boolean): string {
  const d = g.direction;
  const v = [d[3 * axis], d[3 * axis + 1], d[3 * axis + 2]];
  let best = 0;
  for (let c = 1; c < 3; c++) if (Math.abs(v[c]) > Math.abs(v[best])) best = c;
  const letters = [
    ['R', 'L'],
    ['A', 'P'],
    ['I', 'S'],
  ][best];
  const positive = v[best] >= 0 === high;
  return SIDE_NAMES[letters[positive ? 1 : 0]];
}

/**
 * The six edges of the series and how far the mask stays from each: mm between the mask's outermost voxel centre and
 * the edge voxel centre along that grid axis (0 = the mask touches it), named by slice or by the patient side faced.
 */
function edgeFaces(g: VolumeGeometry, q: LabelAccumulator): { mm: number; to: string }[] {
  const [nx, ny, nz] = g.dimensions;
  const [sx, sy, sz] = g.spacing;
  return [
    { mm: q.min[2] * sz, to: 'first slice' },
    { mm: (nz - 1 - q.max[2]) * sz, to: 'last slice' },
    { mm: q.min[0] * sx, to: `${edgeSide(g, 0, false)} FOV edge` },
    { mm: (nx - 1 - q.max[0]) * sx, to: `${edgeSide(g, 0, true)} FOV edge` },
    { mm: q.min[1] * sy, to: `${edgeSide(g, 1, false)} FOV edge` },
    { mm: (ny - 1 - q.max[1]) * sy, to: `${edgeSide(g, 1, true)} FOV edge` },
  ];
}

function emptyResult(label: number, huWindow: [number, number], axial: boolean): StructureMeasurements {
  return {
    label,
    present: false,
    voxel_count: 0,
    volume_mm3: 0,
    volume_ml: 0,
    extent_mm: 0,
    extent_z_range_mm: [0, 0],
    length_mm: 0,
    length_method: 'none',
    centreline_endpoints_lps: null,
    centreline_lps: [],
    max_csa_mm2: 0,
    max_csa_cm2: 0,
    max_csa_z_mm: null,
    csa_method: axial ? 'slice-count' : 'axial-plane-sampling',
    csa_profile: { z_mm: [], csa_mm2: [] },
    mean_hu: null,
    mean_hu_muscle_window: null,
    muscle_window_fraction: null,
    hu_window: huWindow,
    truncated: false,
    truncated_reasons: [],
    edge_margin_mm: null,
    edge_margin_to: null,
    warnings: [],
  };
}

interface LevelResult {
  z: number;
  area: number;
  huMean: number | null;
  winMean: number | null;
}

/** Pixel area (mm²) of one voxel's k-face projected onto the axial plane: |(M col0 × M col1)_z|. */
function axialPixelArea(a: Affine): number {
  const m = a.m;
  return Math.abs(m[0][0] * m[1][1] - m[1][0] * m[0][1]);
}

/** x/y box of the voxel boxes whose centres fall in z-bins b-span..b+span (centres' range ± half-extents). */
function xyBoxAround(a: Affine, zb: SlabBins, lo: number, hi: number): XYBox {
  const xy = zb.xy!;
  const box: XYBox = { xmin: Infinity, xmax: -Infinity, ymin: Infinity, ymax: -Infinity };
  for (let b = Math.max(0, lo); b <= Math.min(zb.n.length - 1, hi); b++) {
    if (zb.n[b] === 0) continue;
    box.xmin = Math.min(box.xmin, xy.xmin[b]);
    box.xmax = Math.max(box.xmax, xy.xmax[b]);
    box.ymin = Math.min(box.ymin, xy.ymin[b]);
    box.ymax = Math.max(box.ymax, xy.ymax[b]);
  }
  box.xmin -= a.halfExtent[0];
  box.xmax += a.halfExtent[0];
  box.ymin -= a.halfExtent[1];
  box.ymax += a.halfExtent[1];
  return box;
}

/** Nearest-voxel inside test of `label` at an LPS point (mm): the voxel whose box contains the point. */
function insideTest(a: Affine, mask: Uint8Array, label: number): (p: Vec3) => boolean {
  const [nx, ny, nz] = a.dims;
  const inv = a.inv;
  const o = a.origin;
  return (p) => {
    const x = p[0] - o[0];
    const y = p[1] - o[1];
    const z = p[2] - o[2];
    const i = Math.floor(inv[0][0] * x + inv[0][1] * y + inv[0][2] * z + 0.5);
    const j = Math.floor(inv[1][0] * x + inv[1][1] * y + inv[1][2] * z + 0.5);
    const k = Math.floor(inv[2][0] * x + inv[2][1] * y + inv[2][2] * z + 0.5);
    if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) return false;
    return mask[i + nx * (j + ny * k)] === label;
  };
}

function measureOne(
  a: Affine,
  g: VolumeGeometry,
  mask: Uint8Array,
  hu: VoxelArray | null,
  q: LabelAccumulator,
  opts: Required<Pick<MeasureOptions, 'huWindow' | 'smoothingMm'>> & MeasureOptions,
): StructureMeasurements {
  const label = q.label;
  const res = emptyResult(label, opts.huWindow, a.axialSlices);
  const nz = g.dimensions[2];
  const source = opts.source ?? 'mask';
  if (opts.levelZmm !== undefined) {
    const [zlo, zhi] = gridZRange(a);
    if (!Number.isFinite(opts.levelZmm) || opts.levelZmm < zlo || opts.levelZmm > zhi) {
      throw new PsoasError(
        'BAD_ARGUMENT',
        `Measurement level z = ${opts.levelZmm} mm lies outside the series of ${source} (z ${zlo.toFixed(1)}..${zhi.toFixed(1)} mm)`,
        opts.levelZmm,
        source,
      );
    }
  }
  if (q.count === 0) {
    if (opts.levelZmm !== undefined) {
      res.csa_at_level_mm2 = 0;
      res.csa_at_level_cm2 = 0;
      res.level_z_mm = opts.levelZmm;
      res.mean_hu_at_level = null;
      res.mean_hu_muscle_window_at_level = null;
    }
    res.warnings.push(`label ${label} is absent from the mask`);
    return res;
  }
  res.present = true;
  res.voxel_count = q.count;
  res.volume_mm3 = q.count * a.voxelMm3;
  res.volume_ml = res.volume_mm3 / 1000;
  const hz = a.halfExtent[2];
  res.extent_z_range_mm = [q.zcMin - hz, q.zcMax + hz];
  res.extent_mm = res.extent_z_range_mm[1] - res.extent_z_range_mm[0];

  const faces = edgeFaces(g, q);
  res.truncated_reasons = faces.filter((f) => f.mm === 0).map((f) => f.to);
  res.truncated = res.truncated_reasons.length > 0;
  const nearest = faces.reduce((a, b) => (b.mm < a.mm ? b : a));
  res.edge_margin_mm = nearest.mm;
  res.edge_margin_to = nearest.to;
  if (res.truncated) {
    res.warnings.push(
      `label ${label} touches the ${res.truncated_reasons.join(', ')}: volume, extent and length are lower limits`,
    );
  }

  if (hu) {
    res.mean_hu = q.huSum / q.count;
    res.mean_hu_muscle_window = q.winCount > 0 ? q.winHuSum / q.winCount : null;
    res.muscle_window_fraction = q.winCount / q.count;
  }

  // --- centreline ---
  const box = { min: q.min, max: q.max };
  const pa = principalAxis(a, q);
  let w: Vec3 = [0, 0, 1];
  let method: LengthMethod = 'axial-centroid';
  if (Math.abs(pa.axis[2]) < WALK_AXIS_MIN_ANGLE_COS && pa.elongation > WALK_AXIS_MIN_ELONGATION) {
    const ax = pa.axis;
    let big = 0;
    for (let c = 1; c < 3; c++) if (Math.abs(ax[c]) > Math.abs(ax[big])) big = c;
    w = ax[big] < 0 ? [-ax[0], -ax[1], -ax[2]] : [ax[0], ax[1], ax[2]];
    method = 'principal-axis-centroid';
  }
  const needZBins = !a.axialSlices;
  const walkBins = binAlong(a, mask, label, box, w, needZBins && method === 'axial-centroid');
  // Ends cut by the first/last slice of an axial stack walked along z are plane ends by construction.
  const planeEnds = a.axialSlices && method === 'axial-centroid';
  const kLowZ = a.m[2][2] > 0 ? 0 : nz - 1; // slice with the lowest z (feet-first stacks run top-down)
  const touchesLowZ = planeEnds && (kLowZ === 0 ? q.min[2] === 0 : q.max[2] === nz - 1);
  const touchesHighZ = planeEnds && (kLowZ === 0 ? q.max[2] === nz - 1 : q.min[2] === 0);
  const cl = centrelineFromBins(a, walkBins, opts.smoothingMm, {
    inside: insideTest(a, mask, label),
    planeLo: touchesLowZ,
    planeHi: touchesHighZ,
  });
  res.length_mm = cl.length_mm;
  res.length_method = method;
  res.centreline_lps = cl.points;
  res.centreline_endpoints_lps = cl.endpoints;
  for (const wmsg of cl.warnings) res.warnings.push(`label ${label}: ${wmsg}`);
  if (method === 'principal-axis-centroid') {
    res.warnings.push(
      `label ${label} lies closer to horizontal than craniocaudal; length walked along its principal axis`,
    );
  }

  // --- axial cross-sections ---
  const profZ: number[] = [];
  const profA: number[] = [];
  let level: LevelResult | undefined;
  if (a.axialSlices) {
    const pix = axialPixelArea(a);
    // Slice plane z; the in-plane axes have (almost) no z component, so evaluate it at the mask's mean (i, j).
    const zOff = a.origin[2] + a.m[2][0] * (q.s1[0] / q.count) + a.m[2][1] * (q.s1[1] / q.count);
    const zk = a.m[2][2];
    for (let k = q.min[2]; k <= q.max[2]; k++) {
      if (q.sliceCount[k] === 0) continue;
      profZ.push(zOff + zk * k);
      profA.push(q.sliceCount[k] * pix);
    }
    if (opts.levelZmm !== undefined) {
      const k = Math.min(nz - 1, Math.max(0, Math.round((opts.levelZmm - zOff) / zk)));
      const n = q.sliceCount[k];
      level = {
        z: zOff + zk * k,
        area: n * pix,
        huMean: hu && n > 0 ? q.sliceHu[k] / n : null,
        winMean: hu && q.sliceWinCount[k] > 0 ? q.sliceWinHu[k] / q.sliceWinCount[k] : null,
      };
    }
  } else {
    const zb = method === 'axial-centroid' ? walkBins : binAlong(a, mask, label, box, [0, 0, 1], true);
    const step = Math.min(g.spacing[0], g.spacing[1], g.spacing[2]) / 3;
    // Voxel boxes reach hz beyond their centre: a plane can cut voxels of bins up to `span` away.
    const span = Math.ceil(hz / zb.h + 0.5);
    for (let b = 0; b < zb.n.length; b++) {
      const z = zb.endLo + (b + 0.5) * zb.h;
      const sec = sampleAxialPlane(a, mask, label, null, z, xyBoxAround(a, zb, b - span, b + span), step, opts.huWindow);
      if (sec.area === 0) continue;
      profZ.push(z);
      profA.push(sec.area);
    }
    if (opts.levelZmm !== undefined) {
      const z = opts.levelZmm;
      const bLo = Math.floor((z - hz - zb.endLo) / zb.h) - 1;
      const bHi = Math.floor((z + hz - zb.endLo) / zb.h) + 1;
      const sec = sampleAxialPlane(a, mask, label, hu, z, xyBoxAround(a, zb, bLo, bHi), step, opts.huWindow);
      level = {
        z,
        area: sec.area,
        huMean: hu && sec.samples > 0 ? sec.huSum / sec.samples : null,
        winMean: hu && sec.winSamples > 0 ? sec.winHuSum / sec.winSamples : null,
      };
    }
  }
  // Ascending z (a feet-first stack lists slices top-down).
  const order = profZ.map((_, n) => n).sort((x, y) => profZ[x] - profZ[y]);
  res.csa_profile = { z_mm: order.map((n) => profZ[n]), csa_mm2: order.map((n) => profA[n]) };
  let best = -1;
  for (let n = 0; n < profA.length; n++) if (best < 0 || profA[n] > profA[best]) best = n;
  if (best >= 0) {
    res.max_csa_mm2 = profA[best];
    res.max_csa_cm2 = profA[best] / 100;
    res.max_csa_z_mm = profZ[best];
  }
  if (level) {
    res.level_z_mm = level.z;
    res.csa_at_level_mm2 = level.area;
    res.csa_at_level_cm2 = level.area / 100;
    res.mean_hu_at_level = level.huMean;
    res.mean_hu_muscle_window_at_level = level.winMean;
  }
  return res;
}

function resolveOptions(opts: MeasureOptions | undefined) {
  const huWindow = opts?.huWindow ?? DEFAULT_HU_WINDOW;
  const source = opts?.source ?? 'mask';
  if (!(huWindow[0] <= huWindow[1])) {
    throw new PsoasError('BAD_ARGUMENT', `HU window must be [low, high], got [${huWindow.join(', ')}] (${source})`, huWindow, source);
  }
  const smoothingMm = opts?.smoothingMm ?? DEFAULT_SMOOTHING_MM;
  if (!(smoothingMm >= 0)) {
    throw new PsoasError('BAD_ARGUMENT', `Smoothing half-width must be ≥ 0 mm, got ${smoothingMm} (${source})`, smoothingMm, source);
  }
  return { ...opts, huWindow: [huWindow[0], huWindow[1]] as [number, number], smoothingMm, source };
}

/**
 * Measures several labels with ONE pass over the label map. Returns results in the order of `labels`.
 */
export function measureLabels(
  image: ImageInput,
  mask: MaskInput,
  labels: number[],
  opts?: MeasureOptions,
): StructureMeasurements[] {
  const o = resolveOptions(opts);
  validate(image, mask, o.source);
  for (const l of labels) checkLabel(l, o.source);
  if (new Set(labels).size !== labels.length) {
    throw new PsoasError('BAD_ARGUMENT', `Labels listed twice: [${labels.join(', ')}] (${o.source})`, labels, o.source);
  }
  const a = affineOf(mask.geometry, o.source);
  const hu = image ? image.data : null;
  const acc = accumulateLabels(a, mask.data, hu, labels, o.huWindow);
  return acc.map((q) => measureOne(a, mask.geometry, mask.data, hu, q, o));
}

/**
 * All figures for one label (see StructureMeasurements for units and definitions).
 * @param image CT in HU on the same grid as `mask`, or null (then HU figures are null).
 * @param mask  label map on the source grid.
 * @param label the label value to measure (1..255).
 */
export function measureStructure(
  image: ImageInput,
  mask: MaskInput,
  label: number,
  opts?: MeasureOptions,
): StructureMeasurements {
  return measureLabels(image, mask, [label], opts)[0];
}

/**
 * Both psoas muscles (or any label map) in one pass, plus TPA (sum of CSA at opts.levelZmm, mm² and cm²) and
 * PMI = TPA (cm²) / height (m)² when opts.heightM is given. TPA is reported only when every listed structure is
 * present: half a TPA would read as severe sarcopenia.
 */
export function measureAll(
  image: ImageInput,
  mask: MaskInput,
  labelMap: Record<string, number> = DEFAULT_LABELS,
  opts?: MeasureAllOptions,
): AllMeasurements {
  const source = opts?.source ?? 'mask';
  const h = opts?.heightM;
  if (h !== undefined && !(h >= HEIGHT_RANGE_M[0] && h <= HEIGHT_RANGE_M[1])) {
    throw new PsoasError(
      'BAD_ARGUMENT',
      `Patient height must be in metres (${HEIGHT_RANGE_M[0]}..${HEIGHT_RANGE_M[1]}), got ${h}` +
        (h !== undefined && h > 100 ? ' — was it given in cm?' : ''),
      h,
      source,
    );
  }
  const names = Object.keys(labelMap);
  const results = measureLabels(image, mask, names.map((n) => labelMap[n]), opts);
  const out: AllMeasurements = { structures: {}, warnings: [] };
  names.forEach((n, idx) => {
    out.structures[n] = results[idx];
  });
  if (h !== undefined) out.height_m = h;
  if (opts?.levelZmm !== undefined) {
    out.level_z_mm = opts.levelZmm;
    const missing = names.filter((n) => !out.structures[n].present);
    if (missing.length > 0) {
      out.warnings.push(`TPA not computed: ${missing.join(', ')} absent from the mask`);
    } else {
      const tpa = names.reduce((s, n) => s + (out.structures[n].csa_at_level_mm2 ?? 0), 0);
      out.tpa_mm2 = tpa;
      out.tpa_cm2 = tpa / 100;
      const zero = names.filter((n) => (out.structures[n].csa_at_level_mm2 ?? 0) === 0);
      if (zero.length > 0) out.warnings.push(`${zero.join(', ')} not present at z = ${opts.levelZmm} mm: TPA is partial`);
      if (h !== undefined) out.pmi_cm2_per_m2 = out.tpa_cm2 / (h * h);
    }
  } else if (h !== undefined) {
    out.warnings.push('PMI needs a measurement level (levelZmm), e.g. the L3 level');
  }
  return out;
}
