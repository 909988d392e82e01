/**
 * Sliding-window inference with overlap and Gaussian blending (nnU-Net style), backend-agnostic: the network is
 * an async `predict(tile)` callback, so the same code drives onnxruntime-node, onnxruntime-web (WASM/WebGPU) or a
 * pure TypeScript stand-in in tests.
 *
 * All sizes and positions are in voxels of the model grid along [i, j, k] (= [W, H, D] of the ONNX tensor).
 * Arrays are i-fastest; multi-channel arrays are channel-major (channel c of voxel n at c*N + n).
 *
 * Where the volume is smaller than the patch along an axis it is padded (centred) with `padValue`; the padding
 * never reaches the output, which has the volume's own size.
 */
import { PsoasError } from '../core/errors';
import type { Vec3 } from '../core/geometry';

/**
 * The network: takes one tile (1 channel, `size` = [x, y, z] voxels, i fastest = ONNX [1,1,D,H,W] row-major) and
 * resolves to `channels * x*y*z` scores, channel-major (= ONNX [1,C,D,H,W] row-major).
 */
export type PredictTile = (tile: Float32Array, size: Vec3, signal?: AbortSignal) => Promise<Float32Array>;

export interface SlidingWindowOptions {
  /** Tile size [x, y, z] in voxels. */
  patchSize: Vec3;
  /** Fraction of a tile shared with its neighbour, 0 <= overlap < 1. */
  overlap: number;
  blending: 'gaussian' | 'constant';
  /** Gaussian sigma = sigmaScale * patch size (per axis). nnU-Net: 0.125. */
  sigmaScale: number;
  /** Number of output channels (classes). */
  outChannels: number;
  predict: PredictTile;
  /** Input value used where a tile extends past the volume (already normalised). Default 0. */
  padValue?: number;
  /**
   * Largest tile (voxels) the device can hold, e.g. from maxTileVoxelsForDevice(); the patch shrinks (in steps of
   * `sizeMultiple`) until it fits.
   */
  maxTileVoxels?: number;
  /** Spatial sizes must stay multiples of this (U-Net pooling). Default 1. */
  sizeMultiple?: number;
  onProgress?: (tilesDone: number, tilesTotal: number) => void;
  signal?: AbortSignal;
  /**
   * Optional: only the tiles of the full tiling (tilePositions over the whole input) whose in-volume part overlaps
   * this box [lo, hi) (input voxels) are run. Inside the box the output equals the full run's to the bit: every tile
   * that covers a voxel of the box is run, with the same positions and weights. Outside the box the output is
   * background (channel 0 = 1, the others 0), not the partial blend of the tiles that ran. Why: a second grid placement only matters near the first one's
   * foreground, and skipping the other tiles saves network time without moving a boundary.
   */
  region?: { lo: Vec3; hi: Vec3 };
}

/** Does the tile starting at `start` (padded coordinates: minus `padBefore`) of size `patch` overlap [lo, hi)? */
function tileTouches(start: Vec3, patch: Vec3, padBefore: Vec3, lo: Vec3, hi: Vec3): boolean {
  for (let a = 0; a < 3; a++) {
    const t0 = start[a] - padBefore[a];
    if (t0 + patch[a] <= lo[a] || t0 >= hi[a]) return false;
  }
  return true;
}

/**
 * Start positions along one axis: tiles of `patch` covering [0, dim) with at least `overlap` shared, evenly
 * spread, the first at 0 and the last flush with the end (dim - patch). A dim <= patch gives one tile at 0
 * (the caller pads).
 */
export function tileStarts(dim: number, patch: number, overlap: number): number[] {
  if (dim <= patch) return [0];
  const step = patch * (1 - overlap);
  const n = Math.ceil((dim - patch) / step) + 1;
  const span = dim - patch;
  const out: number[] = [];
  for (let t = 0; t < n; t++) out.push(Math.round((t * span) / (n - 1)));
  return out;
}

/** All tile start positions [x, y, z] (x fastest). */
export function tilePositions(dims: Vec3, patch: Vec3, overlap: number): Vec3[] {
  if (!(overlap >= 0 && overlap < 1))
    throw new PsoasError('BAD_ARGUMENT', `Sliding-window overlap must be in [0, 1) (got ${overlap})`, overlap);
  const [xs, ys, zs] = [0, 1, 2].map((a) => tileStarts(Math.max(dims[a], patch[a]), patch[a], overlap));
  const out: Vec3[] = [];
  for (const z of zs) for (const y of ys) for (const x of xs) out.push([x, y, z]);
  return out;
}

/**
 * Gaussian importance map over a patch (i fastest), peak 1 at the patch centre ((p-1)/2), sigma = sigmaScale * p
 * per axis. Separable. Values are floored at 1e-6 so every voxel of a tile keeps a positive weight.
 */
export function gaussianImportanceMap(patch: Vec3, sigmaScale: number): Float32Array {
  const g1 = [0, 1, 2].map((a) => {
    const p = patch[a];
    const sigma = Math.max(sigmaScale * p, 1e-6);
    const c = (p - 1) / 2;
    const v = new Float64Array(p);
    for (let t = 0; t < p; t++) v[t] = Math.exp(-((t - c) ** 2) / (2 * sigma * sigma));
    return v;
  });
  const [px, py, pz] = patch;
  const out = new Float32Array(px * py * pz);
  let o = 0;
  for (let z = 0; z < pz; z++)
    for (let y = 0; y < py; y++) {
      const wyz = g1[1][y] * g1[2][z];
      for (let x = 0; x < px; x++) out[o++] = Math.max(1e-6, g1[0][x] * wyz);
    }
  return out;
}

/**
 * Largest tile in voxels a device can hold: the biggest tensor of a U-Net is its widest full-resolution feature
 * map (`widestChannels` x tile voxels x 4 bytes for fp32), which must fit one buffer / storage binding.
 * E.g. WebGPU default maxStorageBufferBindingSize 128 MiB with 32 channels → 1,048,576 voxels (128x128x64).
 */
export function maxTileVoxelsForDevice(maxBufferBytes: number, widestChannels: number, bytesPerValue = 4): number {
  if (!(maxBufferBytes > 0) || !(widestChannels >= 1))
    throw new PsoasError('BAD_ARGUMENT', `maxTileVoxelsForDevice: need maxBufferBytes > 0 and widestChannels >= 1`, {
      maxBufferBytes,
      widestChannels,
    });
  return Math.floor(maxBufferBytes / (bytesPerValue * widestChannels));
}

/**
 * Shrinks `patch` (largest axis first, in steps of `multiple`) until x*y*z <= maxTileVoxels. Throws when even a
 * multiple^3 tile does not fit.
 */
export function fitPatchToLimit(patch: Vec3, maxTileVoxels: number, multiple = 1): Vec3 {
  const p = [...patch] as Vec3;
  const vox = () => p[0] * p[1] * p[2];
  while (vox() > maxTileVoxels) {
    let a = 0;
    for (let b = 1; b < 3; b++) if (p[b] > p[a]) a = b;
    if (p[a] - multiple < multiple)
      throw new PsoasError(
        'BAD_ARGUMENT',
        `No tile of multiples of ${multiple} voxels fits the device limit of ${maxTileVoxels} voxels (patch ${patch.join('x')})`,
        maxTileVoxels,
      );
    p[a] = Math.max(multiple, Math.floor((p[a] - 1) / multiple) * multiple);
  }
  return p;
}

/**
 * Runs `predict` over tiles covering `input` (one channel, `dims` = [x, y, z]) and blends the tile outputs with
 * the importance map. Returns channel-major scores (outChannels x N) on the input grid: the weighted mean of
 * every tile's prediction at each voxel.
 */
export async function slidingWindowInference(
  input: Float32Array,
  dims: Vec3,
  opts: SlidingWindowOptions,
): Promise<Float32Array> {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (input.length !== n)
    throw new PsoasError('BAD_ARGUMENT', `slidingWindowInference: input has ${input.length} values, dims ${dims.join('x')} = ${n}`, input.length);
  const C = opts.outChannels;
  const multiple = opts.sizeMultiple ?? 1;
  const patch =
    opts.maxTileVoxels !== undefined ? fitPatchToLimit(opts.patchSize, opts.maxTileVoxels, multiple) : ([...opts.patchSize] as Vec3);
  const [px, py, pz] = patch;
  const P = px * py * pz;
  const padValue = opts.padValue ?? 0;
  // Centred padding when the volume is smaller than the patch: padded coordinate = volume coordinate + padBefore.
  const padBefore = [0, 1, 2].map((a) => Math.max(0, Math.floor((patch[a] - dims[a]) / 2))) as Vec3;
  const allPositions = tilePositions(dims, patch, opts.overlap);
  const region = opts.region;
  if (region && !(region.lo.every((l, a) => Number.isInteger(l) && Number.isInteger(region.hi[a]) && l >= 0 && l < region.hi[a] && region.hi[a] <= dims[a])))
    throw new PsoasError('BAD_ARGUMENT', `slidingWindowInference: region ${region.lo.join(',')}..${region.hi.join(',')} is not a non-empty box within ${dims.join('x')}`, region);
  const positions = region ? allPositions.filter((t) => tileTouches(t, patch, padBefore, region.lo, region.hi)) : allPositions;
  const weight = opts.blending === 'gaussian' ? gaussianImportanceMap(patch, opts.sigmaScale) : new Float32Array(P).fill(1);

  const acc = new Float32Array(C * n);
  const wsum = new Float32Array(n);
  const tile = new Float32Array(P);
  opts.onProgress?.(0, positions.length);
  for (let t = 0; t < positions.length; t++) {
    opts.signal?.throwIfAborted();
    const x0 = positions[t][0] - padBefore[0];
    const y0 = positions[t][1] - padBefore[1];
    const z0 = positions[t][2] - padBefore[2];
    // Extract the tile (padValue outside the volume).
    let o = 0;
    for (let z = 0; z < pz; z++) {
      const vz = z0 + z;
      for (let y = 0; y < py; y++) {
        const vy = y0 + y;
        if (vz < 0 || vz >= nz || vy < 0 || vy >= ny) {
          tile.fill(padValue, o, o + px);
          o += px;
          continue;
        }
        const row = nx * (vy + ny * vz);
        for (let x = 0; x < px; x++, o++) {
          const vx = x0 + x;
          tile[o] = vx >= 0 && vx < nx ? input[row + vx] : padValue;
        }
      }
    }
    const out = await opts.predict(tile, patch, opts.signal);
    if (!out || out.length !== C * P)
      throw new PsoasError(
        'INFERENCE_FAILED',
        `Model returned ${out?.length ?? 0} values for a ${px}x${py}x${pz} tile; expected ${C} channels x ${P} = ${C * P}`,
        out?.length,
      );
    // Accumulate the weighted scores of the in-volume part of the tile.
    const xa = Math.max(0, -x0);
    const xb = Math.min(px, nx - x0);
    for (let z = 0; z < pz; z++) {
      const vz = z0 + z;
      if (vz < 0 || vz >= nz) continue;
      for (let y = 0; y < py; y++) {
        const vy = y0 + y;
        if (vy < 0 || vy >= ny) continue;
        const tRow = px * (y + py * z);
        const vRow = nx * (vy + ny * vz) + x0;
        for (let x = xa; x < xb; x++) wsum[vRow + x] += weight[tRow + x];
        for (let c = 0; c < C; c++) {
          const tc = c * P + tRow;
          const vc = c * n + vRow;
          for (let x = xa; x < xb; x++) acc[vc + x] += weight[tRow + x] * out[tc + x];
        }
      }
    }
    opts.onProgress?.(t + 1, positions.length);
  }
  for (let c = 0; c < C; c++) {
    const off = c * n;
    for (let v = 0; v < n; v++) acc[off + v] /= wsum[v];
  }
  if (region) {
    // Outside the region: background (there the blend lacks the tiles that were skipped).
    for (let k = 0, v = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++, v++) {
          const inside = i >= region.lo[0] && i < region.hi[0] && j >= region.lo[1] && j < region.hi[1] && k >= region.lo[2] && k < region.hi[2];
          if (!inside) for (let c = 0; c < C; c++) acc[c * n + v] = c === 0 ? 1 : 0;
        }
  }
  return acc;
}
