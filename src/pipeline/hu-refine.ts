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

export interface HuRefine {
  /** Inclusive HU window of the structure's tissue. */
  window: [number, number];
  /** Lowest foreground probability that may claim a background-argmax voxel inside the window, (0, 0.5]. */
  min_probability: number;
}

/**
 * Refines `labels` (argmax of `scores`, channel-major: scores[c * n + v]) in place. `hu(v)` returns the HU of slab
 * voxel v. Channel 0 is background. Returns how many voxels were removed and added.
 */
export function refineByHu(
  scores: ArrayLike<number>,
  channels: number,
  n: number,
  labels: Uint8Array,
  hu: (v: number) => number,
  opts: HuRefine,
): { removed: number; added: number } {
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
    } else if (inside) {
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
