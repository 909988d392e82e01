/**
 * Optional map-back refinement by the muscle HU window, declared by a model package
 * (`postprocess.hu_refine: { window: [lo, hi], min_probability: p }`).
 *
 * Why: a network run at 2–3 mm cannot place a boundary to the source grid's 0.7–1.5 mm; but along most of the psoas
 * surface the neighbour is fat (≈ −100 HU) or bone, and the CT itself says where muscle ends. Skeletal muscle is
 * conventionally −29..+150 HU (body-composition standard, Mitsiopoulos et al. 1998), and a partial-volume voxel
 * half muscle (+50) half fat (−100) reads ≈ −25 HU, so −29 is close to the 50 % boundary. The rule, per SOURCE voxel,
 * with p = class probabilities interpolated from the model grid:
 *   - argmax is a foreground label but the voxel's HU is outside the window → background (trims fat / bone);
 *   - argmax is background, the HU is inside the window and the best foreground probability ≥ min_probability →
 *     that foreground label (extends to the muscle's edge where the network was unsure).
 * Where the psoas touches another soft tissue of muscle HU (vessels, kidney, other muscles) the window cannot
 * separate them and the network's boundary (shifted to the min_probability iso-surface) decides.
 */
import { PsoasError } from '../core/errors';
import type { Vec3 } from '../core/geometry';
import { dilateBox } from './postprocess';

export interface HuRefine {
  /** Inclusive HU window of the structure's tissue. */
  window: [number, number];
  /** Lowest foreground probability that may claim a background-argmax voxel inside the window, (0, 0.5]. */
  min_probability: number;
  /**
   * Optional: per series, the window's low bound becomes the HU half-way between the muscle's interior and the fat
   * around it (tissueLevels), i.e. the 50 % partial-volume level of that series' own tissues, limited to
   * window[0] ± PV_LOW_RANGE_HU. Absent/false: window[0] as declared.
   */
  partial_volume_low?: boolean;
  /**
   * Optional (mm, > 0): the extension (a background-argmax voxel claimed at p >= min_probability) applies only
   * within this distance, along each in-plane axis of the source grid, of a voxel below the window's low bound
   * (fat, air). Elsewhere the network's argmax stands. Why: where the psoas meets fat the CT bounds the growth, so a
   * lower probability may claim up to the fat; where it meets tissue of its own HU (iliacus, thigh and body-wall
   * muscle, liver, kidney) nothing bounds it and claiming the 0.4 iso-surface instead of the 0.5 one adds a rim of
   * over-segmentation there. Absent: the extension applies wherever the HU is inside the window.
   */
  extend_within_mm?: number;
}

/** How far (HU) the per-series low bound may move from the declared window[0]. */
export const PV_LOW_RANGE_HU = 25;
/** HU range a voxel of the shell around the muscle must fall in to count as fat (excludes air, gas, bone, and
 *  voxels that are mostly muscle by partial volume). */
export const FAT_RANGE_HU: [number, number] = [-190, -40];
/** Fewer voxels than this in the muscle interior or in the fat shell: the estimate is not trusted. */
export const MIN_LEVEL_VOXELS = 200;

export interface TissueLevels {
  /** Median HU of the foreground's interior (eroded by one voxel: no partial volume with a neighbour). */
  muscle: number;
  /** Median HU of the fat (FAT_RANGE_HU) in a shell 2–4 voxels outside the foreground. */
  fat: number;
  muscleVoxels: number;
  fatVoxels: number;
  /** The low bound to use (HU): (muscle + fat) / 2 within window[0] ± PV_LOW_RANGE_HU, or window[0] when not trusted. */
  low: number;
  /** Why `low` is window[0] or was limited; undefined when it is the midpoint itself. */
  note?: string;
}

function median(xs: Float32Array, n: number): number {
  const v = xs.subarray(0, n).sort();
  return n % 2 ? v[(n - 1) / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/**
 * The HU levels of one series' muscle and surrounding fat, from a grid where `fg` marks the segmented muscle
 * (1 = foreground) and `hu` holds HU at the same voxels (any grid; the pipeline uses the model grid of the first
 * placement). Why: the voxel that the surface cuts in half reads the mean of its two tissues, so a voxel belongs to
 * the muscle (centre inside, as the labels are defined) when its HU is above half-way between the two. With
 * muscle ≈ +50 and retroperitoneal fat ≈ −100 HU that is the conventional −29 bound (−25); where the fat around
 * the muscle is denser (e.g. −80) or the muscle brighter, a fixed −29 takes in voxels that are mostly fat, and the
 * mask grows by a rim. Medians, so noise and a few voxels of other tissue do not move the levels.
 */
export function tissueLevels(hu: ArrayLike<number>, fg: Uint8Array, dims: Vec3, declaredLow: number): TissueLevels {
  const n = dims[0] * dims[1] * dims[2];
  if (hu.length !== n || fg.length !== n)
    throw new PsoasError('BAD_ARGUMENT', `tissueLevels: ${hu.length} HU and ${fg.length} mask voxels for dims ${dims.join('x')}`, dims);
  const bg = new Uint8Array(n);
  for (let v = 0; v < n; v++) bg[v] = fg[v] ? 0 : 1;
  const nearBg = dilateBox(bg, dims, [1, 1, 1]); // interior = foreground not within one voxel of background
  const inner = dilateBox(fg, dims, [1, 1, 1]);
  const outer = dilateBox(fg, dims, [4, 4, 4]);
  const m = new Float32Array(n), f = new Float32Array(n);
  let nm = 0, nf = 0;
  for (let v = 0; v < n; v++) {
    if (fg[v]) {
      if (!nearBg[v]) m[nm++] = hu[v];
    } else if (outer[v] && !inner[v]) {
      const h = hu[v];
      if (h >= FAT_RANGE_HU[0] && h <= FAT_RANGE_HU[1]) f[nf++] = h;
    }
  }
  if (nm < MIN_LEVEL_VOXELS || nf < MIN_LEVEL_VOXELS)
    return { muscle: nm ? median(m, nm) : NaN, fat: nf ? median(f, nf) : NaN, muscleVoxels: nm, fatVoxels: nf, low: declaredLow,
      note: `too few voxels to estimate (muscle ${nm}, fat ${nf}; need ${MIN_LEVEL_VOXELS}): declared ${declaredLow} HU kept` };
  const muscle = median(m, nm), fat = median(f, nf);
  const mid = 0.5 * (muscle + fat);
  const low = Math.min(declaredLow + PV_LOW_RANGE_HU, Math.max(declaredLow - PV_LOW_RANGE_HU, mid));
  return { muscle, fat, muscleVoxels: nm, fatVoxels: nf, low,
    note: low !== mid ? `half-way ${mid.toFixed(1)} HU limited to ${declaredLow} ± ${PV_LOW_RANGE_HU} HU` : undefined };
}

/**
 * Where the extension of `refineByHu` may act under `extend_within_mm`: 1 at the voxels of a slab (dims x, y, slices;
 * `hu(v)` the HU of slab voxel v = i + x (j + y k)) that lie within `radiusVox` voxels, along each in-plane axis (a
 * square, slice by slice), of a voxel whose HU is below `low`. In-plane only: the map back runs slab by slab, and the
 * psoas, running craniocaudally, meets its fat mostly across the slice.
 */
export function nearLowMask(hu: (v: number) => number, dims: Vec3, low: number, radiusVox: [number, number]): Uint8Array {
  const n = dims[0] * dims[1] * dims[2];
  const below = new Uint8Array(n);
  for (let v = 0; v < n; v++) below[v] = hu(v) < low ? 1 : 0;
  return dilateBox(below, dims, [radiusVox[0], radiusVox[1], 0]);
}

/** In-plane radius (voxels of each in-plane axis) for `extend_within_mm` on a grid of this spacing (mm). */
export function extendRadiusVoxels(mm: number, spacing: Vec3): [number, number] {
  if (!(mm > 0)) throw new PsoasError('BAD_ARGUMENT', `extend_within_mm must be > 0 mm, got ${mm}`, mm);
  return [Math.max(1, Math.round(mm / Math.abs(spacing[0]))), Math.max(1, Math.round(mm / Math.abs(spacing[1])))];
}

/**
 * Refines `labels` (argmax of `scores`, channel-major: scores[c * n + v]) in place. `hu(v)` returns the HU of slab
 * voxel v. Channel 0 is background. `extendAt` (optional, 1 per voxel): the extension acts only where it is 1
 * (nearLowMask, for `extend_within_mm`). Returns how many voxels were removed and added.
 */
export function refineByHu(
  scores: ArrayLike<number>,
  channels: number,
  n: number,
  labels: Uint8Array,
  hu: (v: number) => number,
  opts: HuRefine,
  extendAt?: Uint8Array,
): { removed: number; added: number } {
  if (extendAt && extendAt.length !== n)
    throw new PsoasError('BAD_ARGUMENT', `refineByHu: extension mask of ${extendAt.length} voxels for ${n}`, extendAt.length);
  const [lo, hi] = opts.window;
  if (!(lo < hi)) throw new PsoasError('BAD_ARGUMENT', `hu_refine window must be [low, high] with low < high, got [${lo}, ${hi}]`, opts.window);
  const pMin = opts.min_probability;
  let removed = 0, added = 0;
  for (let v = 0; v < n; v++) {
    const h = hu(v);
    const inside = h >= lo && h <= hi;
    if (labels[v] !== 0) {
      if (!inside) {
        labels[v] = 0;
        removed++;
      }
    } else if (inside && (!extendAt || extendAt[v])) {
      let best = 0, bp = -Infinity;
      for (let c = 1; c < channels; c++) {
        const p = scores[c * n + v];
        if (p > bp) {
          bp = p;
          best = c;
        }
      }
      if (best !== 0 && bp >= pMin) {
        labels[v] = best;
        added++;
      }
    }
  }
  return { removed, added };
}

/**
 * Optional stricter foreground decision at map back (`postprocess.foreground_threshold: t`, t in [0.5, 1)).
 *
 * Why: a network trained with cross-entropy on a 2–3 mm grid and interpolated to a finer source grid may place its
 * 50 % iso-surface systematically outside the true boundary (a shell of over-segmentation, measured as a volume
 * bias). Raising the probability a voxel's label needs moves the surface inwards without retraining; the value is
 * chosen on validation phantoms (never on the evaluation ones) and declared by the package.
 * Rule, per SOURCE voxel after argmax: a foreground label whose own probability is below t becomes background.
 * Returns how many voxels were removed.
 */
export function thresholdForeground(scores: ArrayLike<number>, n: number, labels: Uint8Array, t: number): number {
  if (!(t >= 0.5 && t < 1)) throw new PsoasError('BAD_ARGUMENT', `foreground_threshold must be in [0.5, 1), got ${t}`, t);
  let removed = 0;
  for (let v = 0; v < n; v++) {
    const c = labels[v];
    if (c !== 0 && scores[c * n + v] < t) {
      labels[v] = 0;
      removed++;
    }
  }
  return removed;
}
