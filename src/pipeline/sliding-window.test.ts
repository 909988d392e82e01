import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../core/geometry';
import {
  fitPatchToLimit,
  gaussianImportanceMap,
  maxTileVoxelsForDevice,
  slidingWindowInference,
  tilePositions,
  tileStarts,
  type PredictTile,
} from './sliding-window';

/** Per-voxel "network": C channels, channel c = (c+1)*x + c (receptive field of one voxel). */
const pointwise =
  (C: number): PredictTile =>
  async (tile) => {
    const P = tile.length;
    const out = new Float32Array(C * P);
    for (let c = 0; c < C; c++) for (let v = 0; v < P; v++) out[c * P + v] = (c + 1) * tile[v] + c;
    return out;
  };

function field(dims: Vec3): Float32Array {
  const [nx, ny, nz] = dims;
  const a = new Float32Array(nx * ny * nz);
  for (let k = 0, v = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, v++) a[v] = Math.sin(i / 3) + Math.cos(j / 5) * k;
  return a;
}

describe('tileStarts / tilePositions', () => {
  it.each([
    // dim, patch, overlap, starts
    [64, 64, 0.5, [0]],
    [30, 64, 0.5, [0]],
    [100, 64, 0.5, [0, 18, 36]], // (100-64)/32 → 2 steps needed for ≥ 50 % overlap
    [128, 64, 0.5, [0, 32, 64]],
    [129, 64, 0.5, [0, 22, 43, 65]],
    [128, 64, 0, [0, 64]],
    [130, 64, 0, [0, 33, 66]],
    [200, 96, 0.5, [0, 35, 69, 104]],
  ])('dim %i patch %i overlap %f → %j', (dim, patch, overlap, want) => {
    const s = tileStarts(dim, patch, overlap);
    expect(s).toEqual(want);
    // invariants: first at 0, last flush with the end, neighbours overlap at least `overlap`
    expect(s[0]).toBe(0);
    if (dim > patch) expect(s[s.length - 1]).toBe(dim - patch);
    for (let t = 1; t < s.length; t++) expect(s[t] - s[t - 1]).toBeLessThanOrEqual(patch * (1 - overlap) + 0.5);
  });
  it('covers every voxel of a 3D volume', () => {
    const dims: Vec3 = [70, 33, 50];
    const patch: Vec3 = [32, 32, 16];
    const pos = tilePositions(dims, patch, 0.5);
    const hit = new Uint8Array(70 * 33 * 50);
    for (const [x, y, z] of pos)
      for (let k = z; k < z + 16; k++) for (let j = y; j < y + 32; j++) for (let i = x; i < x + 32; i++) hit[i + 70 * (j + 33 * k)] = 1;
    expect(hit.every((h) => h === 1)).toBe(true);
    expect(pos.length).toBe(4 * 2 * 6);
  });
});

describe('gaussianImportanceMap', () => {
  it('peaks at 1 in the centre, symmetric, positive everywhere', () => {
    const p: Vec3 = [16, 8, 5];
    const g = gaussianImportanceMap(p, 0.125);
    const at = (i: number, j: number, k: number) => g[i + 16 * (j + 8 * k)];
    let max = 0;
    for (const v of g) max = Math.max(max, v);
    expect(max).toBeLessThanOrEqual(1);
    // next to the centre (7.5, 3.5, 2): 0.5 voxel off in x (sigma 2) and y (sigma 1)
    expect(at(7, 3, 2)).toBeCloseTo(Math.exp(-0.25 / 8) * Math.exp(-0.25 / 2), 6);
    expect(at(0, 0, 0)).toBeCloseTo(at(15, 7, 4), 7);
    expect(at(3, 2, 1)).toBeCloseTo(at(12, 5, 3), 7);
    expect(Math.min(...g)).toBeGreaterThan(0);
    // sigma = 2 voxels along x: value at distance 7.5 = exp(-7.5^2/8) relative to the centre line
    expect(at(0, 3, 2) / at(7, 3, 2)).toBeCloseTo(Math.exp(-(7.5 ** 2) / 8) / Math.exp(-(0.5 ** 2) / 8), 5);
  });
});

describe('device limits', () => {
  it('maxTileVoxelsForDevice: WebGPU default 128 MiB binding, 32 channels → 1 Mi voxels', () => {
    expect(maxTileVoxelsForDevice(128 * 1024 * 1024, 32)).toBe(1024 * 1024);
  });
  it.each([
    [[128, 128, 128], 1024 * 1024, 16, [96, 96, 112]], // stays near-cubic
    [[128, 128, 128], 128 ** 3, 16, [128, 128, 128]],
    [[96, 160, 64], 500_000, 8, [88, 88, 64]],
    [[64, 64, 64], 100_000, 8, [40, 48, 48]],
  ])('fitPatchToLimit(%j, %i, %i) → %j', (patch, max, mult, want) => {
    const p = fitPatchToLimit(patch as Vec3, max, mult);
    expect(p).toEqual(want);
    expect(p[0] * p[1] * p[2]).toBeLessThanOrEqual(max);
    for (const s of p) expect(s % mult).toBe(0);
  });
  it('throws when nothing fits', () => {
    expect(() => fitPatchToLimit([64, 64, 64], 100, 8)).toThrow(/No tile/);
  });
});

describe('slidingWindowInference', () => {
  const C = 3;
  const cases: Array<[string, Vec3, Vec3, number, 'gaussian' | 'constant']> = [
    ['gaussian, 50 % overlap', [40, 37, 23], [16, 16, 8], 0.5, 'gaussian'],
    ['constant, no overlap, uneven', [41, 19, 9], [16, 16, 8], 0, 'constant'],
    ['volume smaller than the patch (padded)', [10, 7, 3], [16, 16, 8], 0.5, 'gaussian'],
    ['mixed: one axis smaller', [50, 5, 20], [16, 16, 8], 0.25, 'gaussian'],
  ];
  it.each(cases)('%s: stitched output equals whole-volume output of a per-voxel model', async (_n, dims, patch, overlap, blending) => {
    const input = field(dims);
    const whole = await pointwise(C)(input, dims);
    let calls = 0;
    const stitched = await slidingWindowInference(input, dims, {
      patchSize: patch,
      overlap,
      blending,
      sigmaScale: 0.125,
      outChannels: C,
      predict: async (tile, size) => {
        calls++;
        expect(size).toEqual(patch);
        return pointwise(C)(tile, size);
      },
      padValue: -7,
    });
    expect(calls).toBe(tilePositions(dims, patch, overlap).length);
    let maxDiff = 0;
    let maxAbs = 0;
    for (let v = 0; v < whole.length; v++) {
      maxDiff = Math.max(maxDiff, Math.abs(stitched[v] - whole[v]));
      maxAbs = Math.max(maxAbs, Math.abs(whole[v]));
    }
    // equal up to float32 rounding of the weighted sums (values up to ~70 here)
    expect(maxDiff / maxAbs).toBeLessThan(1e-6);
  });

  // A "network" whose output depends on where the tile falls (tile-local coordinates), as a real one's does: so
  // only the same tiles at the same positions reproduce the full run.
  const positional: PredictTile = async (tile, size) => {
    const P = tile.length;
    const out = new Float32Array(C * P);
    for (let v = 0; v < P; v++) {
      const i = v % size[0], k = Math.floor(v / (size[0] * size[1]));
      out[v] = 0.5 + 0.01 * i;
      out[P + v] = tile[v] * (1 + 0.05 * k);
      out[2 * P + v] = 0.2 * tile[v] - 0.003 * i * k;
    }
    return out;
  };
  const regionCases: Array<[string, Vec3, Vec3, number, Vec3, Vec3]> = [
    ['inner box, 25 % overlap', [70, 60, 40], [16, 16, 8], 0.25, [20, 25, 10], [35, 33, 19]],
    ['box at a corner, 50 % overlap', [41, 37, 23], [16, 16, 8], 0.5, [0, 0, 0], [5, 6, 3]],
    ['one voxel', [41, 37, 23], [16, 16, 8], 0.5, [20, 20, 11], [21, 21, 12]],
    ['padded axis', [50, 5, 20], [16, 16, 8], 0.25, [30, 1, 4], [44, 4, 9]],
  ];
  it.each(regionCases)('region (%s): bit-equal to the full run inside the box, fewer tiles, background outside it', async (_n, dims, patch, overlap, lo, hi) => {
    const input = field(dims);
    const opts = { patchSize: patch, overlap, blending: 'gaussian' as const, sigmaScale: 0.125, outChannels: C, padValue: -7 };
    const full = await slidingWindowInference(input, dims, { ...opts, predict: positional });
    let calls = 0;
    const part = await slidingWindowInference(input, dims, { ...opts, region: { lo, hi }, predict: async (t, s) => (calls++, positional(t, s)) });
    const all = tilePositions(dims, patch, overlap).length;
    expect(calls).toBeGreaterThan(0);
    if (dims.every((d, a) => d > 2 * patch[a])) expect(calls).toBeLessThan(all);
    const n = dims[0] * dims[1] * dims[2];
    let inside = 0, unequal = 0, background = 0;
    for (let k = 0, v = 0; k < dims[2]; k++)
      for (let j = 0; j < dims[1]; j++)
        for (let i = 0; i < dims[0]; i++, v++) {
          const inBox = i >= lo[0] && i < hi[0] && j >= lo[1] && j < hi[1] && k >= lo[2] && k < hi[2];
          if (inBox) {
            inside++;
            for (let c = 0; c < C; c++) if (part[c * n + v] !== full[c * n + v]) unequal++;
          } else if (part[v] === 1 && part[n + v] === 0 && part[2 * n + v] === 0) background++;
        }
    expect(inside).toBe((hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]));
    expect(unequal).toBe(0);
    expect(background).toBe(n - inside);
  });

  it('rejects a region outside the volume or empty', async () => {
    const dims: Vec3 = [20, 20, 10];
    const run = (lo: Vec3, hi: Vec3) =>
      slidingWindowInference(field(dims), dims, { patchSize: [16, 16, 8], overlap: 0.25, blending: 'gaussian', sigmaScale: 0.125, outChannels: C, predict: positional, region: { lo, hi } });
    await expect(run([0, 0, 0], [21, 5, 5])).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    await expect(run([4, 4, 4], [4, 8, 8])).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });

  it('a constant model gives a constant output with overlap and Gaussian blending', async () => {
    const dims: Vec3 = [45, 30, 21];
    const out = await slidingWindowInference(field(dims), dims, {
      patchSize: [16, 16, 16],
      overlap: 0.5,
      blending: 'gaussian',
      sigmaScale: 0.125,
      outChannels: 2,
      predict: async (tile) => {
        const o = new Float32Array(2 * tile.length);
        o.fill(0.25, 0, tile.length);
        o.fill(0.75, tile.length);
        return o;
      },
    });
    const n = 45 * 30 * 21;
    let maxDev = 0;
    for (let v = 0; v < n; v++) maxDev = Math.max(maxDev, Math.abs(out[v] - 0.25), Math.abs(out[n + v] - 0.75));
    expect(maxDev).toBeLessThan(1e-6);
  });

  it('pads with padValue (the model sees it) but the output keeps the volume size', async () => {
    const dims: Vec3 = [4, 4, 4];
    const seen: number[] = [];
    const out = await slidingWindowInference(new Float32Array(64).fill(1), dims, {
      patchSize: [8, 8, 8],
      overlap: 0.5,
      blending: 'gaussian',
      sigmaScale: 0.125,
      outChannels: 2,
      padValue: -1,
      predict: async (tile) => {
        seen.push(tile.filter((v) => v === 1).length, tile.filter((v) => v === -1).length);
        return pointwise(2)(tile, [8, 8, 8]);
      },
    });
    expect(seen).toEqual([64, 512 - 64]);
    expect(out.length).toBe(2 * 64);
    expect(Array.from(out.subarray(64))).toEqual(new Array(64).fill(3)); // channel 1 = 2*1 + 1
  });

  it('reports progress per tile, shrinks tiles to the device limit, and cancels', async () => {
    const dims: Vec3 = [64, 64, 32];
    const progress: string[] = [];
    const sizes = new Set<string>();
    await slidingWindowInference(new Float32Array(64 * 64 * 32), dims, {
      patchSize: [64, 64, 32],
      overlap: 0.5,
      blending: 'gaussian',
      sigmaScale: 0.125,
      outChannels: 2,
      maxTileVoxels: 32 * 32 * 32,
      sizeMultiple: 8,
      predict: async (tile, size) => {
        sizes.add(size.join('x'));
        return pointwise(2)(tile, size);
      },
      onProgress: (d, t) => progress.push(`${d}/${t}`),
    });
    expect([...sizes]).toEqual(['32x32x32']);
    expect(progress).toEqual(['0/9', '1/9', '2/9', '3/9', '4/9', '5/9', '6/9', '7/9', '8/9', '9/9']);

    const ac = new AbortController();
    let calls = 0;
    const run = slidingWindowInference(new Float32Array(64 * 64 * 32), dims, {
      patchSize: [16, 16, 16],
      overlap: 0.5,
      blending: 'gaussian',
      sigmaScale: 0.125,
      outChannels: 2,
      signal: ac.signal,
      predict: async (tile, size) => {
        if (++calls === 3) ac.abort();
        return pointwise(2)(tile, size);
      },
    });
    await expect(run).rejects.toThrow(/abort/i);
    expect(calls).toBe(3);
  });

  it('rejects a model output of the wrong size with INFERENCE_FAILED', async () => {
    await expect(
      slidingWindowInference(new Float32Array(8), [2, 2, 2], {
        patchSize: [2, 2, 2],
        overlap: 0,
        blending: 'constant',
        sigmaScale: 0.125,
        outChannels: 3,
        predict: async () => new Float32Array(16),
      }),
    ).rejects.toMatchObject({ code: 'INFERENCE_FAILED', message: expect.stringMatching(/16 values.*expected 3 channels x 8 = 24/) });
  });
});
