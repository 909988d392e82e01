/**
 * Intensity preparation for the network: clip to an HU window, then normalise.
 * - { mean, std }: (clip(x) - mean) / std  (mean and std in HU, as in the training code)
 * - 'minmax':      (clip(x) - lo) / (hi - lo), so the window maps to [0, 1]
 */
import { PsoasError } from '../core/errors';
import type { Normalise } from './manifest';

export interface IntensitySpec {
  /** HU window [lo, hi]. */
  clip: [number, number];
  normalise: Normalise;
}

/** The affine part as scale/offset: y = clip(x) * scale + offset. */
export function normaliseCoefficients(spec: IntensitySpec): { lo: number; hi: number; scale: number; offset: number } {
  const [lo, hi] = spec.clip;
  if (!(lo < hi)) throw new PsoasError('BAD_ARGUMENT', `Intensity clip window must have lo < hi (got [${lo}, ${hi}])`, spec.clip);
  if (spec.normalise === 'minmax') return { lo, hi, scale: 1 / (hi - lo), offset: -lo / (hi - lo) };
  const { mean, std } = spec.normalise;
  if (!(std > 0)) throw new PsoasError('BAD_ARGUMENT', `Intensity normalisation std must be > 0 (got ${std})`, std);
  return { lo, hi, scale: 1 / std, offset: -mean / std };
}

/** Clips and normalises `data` (HU) into `out` (a new Float32Array unless given; may be `data` itself). */
export function clipNormalise(data: ArrayLike<number>, spec: IntensitySpec, out?: Float32Array): Float32Array {
  const { lo, hi, scale, offset } = normaliseCoefficients(spec);
  const dst = out ?? new Float32Array(data.length);
  if (dst.length !== data.length)
    throw new PsoasError('BAD_ARGUMENT', `clipNormalise: output has ${dst.length} values, input ${data.length}`, dst.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // NaN (never expected in HU) is mapped to the low end of the window rather than poisoning the network.
    const c = v > lo ? (v < hi ? v : hi) : lo;
    dst[i] = c * scale + offset;
  }
  return dst;
}

/** The normalised value of an HU number (e.g. the value to pad tiles with: air = normalised clip lo). */
export function normaliseValue(hu: number, spec: IntensitySpec): number {
  const { lo, hi, scale, offset } = normaliseCoefficients(spec);
  return Math.min(hi, Math.max(lo, hu)) * scale + offset;
}
