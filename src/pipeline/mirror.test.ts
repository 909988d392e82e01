import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../core/geometry';
import type { ModelManifest } from './manifest';
import { flipAxis, mirrorPlan, runsPerTile, withMirror } from './mirror';
import { tinyManifest } from './synthetic';

const SIZE: Vec3 = [4, 3, 2];
const ramp = (n: number) => Float32Array.from({ length: n }, (_, v) => v);
const at = (i: number, j: number, k: number, c = 0) => c * 24 + i + 4 * (j + 3 * k);

describe('flipAxis', () => {
  it.each([0, 1, 2] as const)('axis %i: voxel (i,j,k) moves to its mirror, every channel; twice is the identity', (axis) => {
    const src = ramp(48);
    const f = flipAxis(src, SIZE, axis, 2);
    for (let c = 0; c < 2; c++)
      for (let k = 0; k < 2; k++)
        for (let j = 0; j < 3; j++)
          for (let i = 0; i < 4; i++) {
            const m = [i, j, k];
            m[axis] = SIZE[axis] - 1 - m[axis];
            expect(f[at(i, j, k, c)]).toBe(src[at(m[0], m[1], m[2], c)]);
          }
    expect(Array.from(flipAxis(f, SIZE, axis, 2))).toEqual(Array.from(src));
  });

  it('rejects an array that does not match the size', () => {
    expect(() => flipAxis(new Float32Array(10), SIZE, 0)).toThrow(/10 values for 1×4x3x2/);
  });
});

describe('mirrorPlan', () => {
  const m = (orientation: string, labels: Record<string, string>) => ({
    ...tinyManifest(),
    input: { ...tinyManifest().input, orientation },
    output: { ...tinyManifest().output, channels: Object.keys(labels).length, labels },
  });
  it.each([
    ['LPS', { 0: 'background', 1: 'psoas_left', 2: 'psoas_right' }, 0, [0, 2, 1]],
    ['PSR', { 0: 'background', 1: 'psoas_right', 2: 'psoas_left', 3: 'spine' }, 2, [0, 2, 1, 3]],
  ])('%s %j: L–R axis %i, channels %j', (o, labels, axis, channels) => {
    const p = mirrorPlan(m(o, labels));
    expect(p.axis).toBe(axis);
    expect(Array.from(p.channelOf)).toEqual(channels);
  });
  it('a left label without its right twin is a BAD_MODEL error naming it', () => {
    expect(() => mirrorPlan(m('LPS', { 0: 'background', 1: 'psoas_left' }))).toThrow(/needs a "psoas_right" output for "psoas_left"/);
  });
});

describe('withMirror', () => {
  const plan = { axis: 0 as const, channelOf: Int32Array.from([0, 2, 1]) };
  it('a mirror-equivariant network is unchanged; a biased one is averaged with its mirror', async () => {
    // "left" = input × w(i), "right" = input × w(X-1-i), background = the rest: mirroring the input mirrors the
    // output with left and right swapped (mirror-equivariant), though each side alone is not symmetric.
    const sym = async (t: Float32Array) => {
      const w = (v: number) => [0.2, 0.3, 0.1, 0.25][v % 4];
      const left = t.map((x, v) => x * w(v));
      const right = t.map((x, v) => x * w(3 - (v % 4)));
      return Float32Array.from([...t.map((_, v) => 1 - left[v] - right[v]), ...left, ...right]);
    };
    const tile = ramp(24).map((x) => x / 100);
    expect(Array.from(await withMirror(sym, plan)(tile, SIZE))).toEqual(Array.from(await sym(tile)).map((x) => expect.closeTo(x, 6)));
    // Always says "left" = 1 wherever i < 2: mirrored, that is "right" wherever i >= 2, so TTA gives 0.5 / 0.5.
    const biased = async (_t: Float32Array, s: Vec3) => {
      const n = s[0] * s[1] * s[2];
      const y = new Float32Array(3 * n);
      for (let v = 0; v < n; v++) y[n + v] = v % 4 < 2 ? 1 : 0;
      for (let v = 0; v < n; v++) y[v] = 1 - y[n + v];
      return y;
    };
    const y = await withMirror(biased, plan)(tile, SIZE);
    expect(y[24 + at(0, 1, 1)]).toBeCloseTo(0.5);
    expect(y[48 + at(3, 1, 1)]).toBeCloseTo(0.5);
    expect(y[at(0, 1, 1)] + y[24 + at(0, 1, 1)] + y[48 + at(0, 1, 1)]).toBeCloseTo(1);
  });
});

describe('runsPerTile', () => {
  it.each<[ModelManifest['sliding_window'], number]>([
    [{ overlap: 0.5, blending: 'gaussian', sigma_scale: 0.125 }, 1],
    [{ overlap: 0.5, blending: 'gaussian', sigma_scale: 0.125, mirror_lr: false }, 1],
    [{ overlap: 0.5, blending: 'gaussian', sigma_scale: 0.125, mirror_lr: true }, 2],
  ])('%o → %i network run(s), as many as withMirror makes', async (sw, n) => {
    expect(runsPerTile(sw)).toBe(n);
    let calls = 0;
    const net = async (t: Float32Array) => {
      calls++;
      return Float32Array.from([...t.map(() => 1), ...t.map(() => 0), ...t.map(() => 0)]);
    };
    const predict = sw.mirror_lr ? withMirror(net, { axis: 0, channelOf: Int32Array.from([0, 2, 1]) }) : net;
    await predict(ramp(24), SIZE);
    expect(calls).toBe(n);
  });
});
