/**
 * Left–right mirror test-time augmentation: each tile is predicted as it is and mirrored across the patient's
 * left–right axis; the mirrored prediction is mirrored back with its left/right channels swapped (a left psoas
 * seen in a mirror is a right psoas), and the two are averaged. Pure over typed arrays; wraps any PredictTile.
 *
 * Tile layout as in sliding-window.ts: `size` = [x, y, z] voxels of the model grid, i fastest; scores are
 * channel-major.
 */
import { PsoasError } from '../core/errors';
import type { Vec3 } from '../core/geometry';
import type { ModelManifest } from './manifest';
import type { PredictTile } from './sliding-window';

/** Mirror of a channel-major array of `channels` volumes of `size` along `axis` (0 = i, 1 = j, 2 = k). */
export function flipAxis(src: Float32Array, size: Vec3, axis: 0 | 1 | 2, channels = 1): Float32Array {
  const [X, Y, Z] = size;
  const n = X * Y * Z;
  if (src.length !== n * channels) throw new PsoasError('BAD_ARGUMENT', `flipAxis: ${src.length} values for ${channels}×${size.join('x')}`, src.length);
  const out = new Float32Array(src.length);
  for (let c = 0; c < channels; c++) {
    const base = c * n;
    for (let k = 0; k < Z; k++)
      for (let j = 0; j < Y; j++) {
        const row = base + X * (j + Y * k);
        if (axis === 0) {
          for (let i = 0; i < X; i++) out[row + i] = src[row + X - 1 - i];
        } else {
          const from = axis === 1 ? base + X * (Y - 1 - j + Y * k) : base + X * (j + Y * (Z - 1 - k));
          out.set(src.subarray(from, from + X), row);
        }
      }
  }
  return out;
}

/**
 * What mirroring needs from a package: the model-grid axis that runs left–right (from input.orientation) and the
 * channel each channel becomes in a mirror (`*_left` ↔ `*_right` by label name; others stay).
 */
export function mirrorPlan(manifest: ModelManifest): { axis: 0 | 1 | 2; channelOf: Int32Array } {
  const code = manifest.input.orientation.toUpperCase();
  const axis = [...code].findIndex((ch) => ch === 'L' || ch === 'R');
  if (axis < 0) throw new PsoasError('BAD_MODEL', `Model ${manifest.name}: mirror_lr needs an L or R axis in input.orientation (${code})`, code);
  const C = manifest.output.channels;
  const names = Array.from({ length: C }, (_, c) => manifest.output.labels[String(c)]);
  const channelOf = new Int32Array(C);
  for (let c = 0; c < C; c++) {
    const m = /^(.*)_(left|right)$/.exec(names[c]);
    const twin = m ? `${m[1]}_${m[2] === 'left' ? 'right' : 'left'}` : names[c];
    const t = names.indexOf(twin);
    if (t < 0) throw new PsoasError('BAD_MODEL', `Model ${manifest.name}: mirror_lr needs a "${twin}" output for "${names[c]}"`, names);
    channelOf[c] = t;
  }
  return { axis: axis as 0 | 1 | 2, channelOf };
}

/** Network runs per sliding-window tile under a package's settings: 2 with mirror averaging, else 1. */
export function runsPerTile(sw: ModelManifest['sliding_window']): 1 | 2 {
  return sw.mirror_lr ? 2 : 1;
}

/** `predict` with left–right mirror averaging (two network runs per tile). */
export function withMirror(predict: PredictTile, plan: { axis: 0 | 1 | 2; channelOf: Int32Array }): PredictTile {
  return async (tile, size, signal) => {
    const a = await predict(tile, size, signal);
    const b = flipAxis(await predict(flipAxis(tile, size, plan.axis), size, signal), size, plan.axis, plan.channelOf.length);
    const n = size[0] * size[1] * size[2];
    const out = new Float32Array(a.length);
    for (let c = 0; c < plan.channelOf.length; c++) {
      const oa = c * n;
      const ob = plan.channelOf[c] * n;
      for (let v = 0; v < n; v++) out[oa + v] = 0.5 * (a[oa + v] + b[ob + v]);
    }
    return out;
  };
}
