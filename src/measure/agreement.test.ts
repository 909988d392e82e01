import { describe, expect, it } from 'vitest';
import { IDENTITY, type Vec3, type VolumeGeometry } from '../core/geometry';
import { mulberry32 } from '../core/phantom/rng';
import { compareMasks, compareStructure, SHEARED_GRID_NOTE, squaredDistanceTransform } from './agreement';

const rng = mulberry32;

const grid = (dims: Vec3, spacing: Vec3): VolumeGeometry => ({ dimensions: dims, spacing, origin: [0, 0, 0], direction: [...IDENTITY] });

/** Brute force: squared distance (mm²) from each voxel to the nearest feature voxel. */
function bruteSquared(feature: Uint8Array, [nx, ny, nz]: Vec3, s: Vec3): Float64Array {
  const pts: Vec3[] = [];
  for (let k = 0, p = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, p++) if (feature[p]) pts.push([i * s[0], j * s[1], k * s[2]]);
  const out = new Float64Array(nx * ny * nz);
  for (let k = 0, p = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++) {
        let best = Infinity;
        for (const [x, y, z] of pts) best = Math.min(best, (i * s[0] - x) ** 2 + (j * s[1] - y) ** 2 + (k * s[2] - z) ** 2);
        out[p] = best;
      }
  return out;
}

/** Brute-force reference of the surface distances on the FULL grid (the definition in agreement.ts). */
function bruteSurfaceDistances(a: Uint8Array, b: Uint8Array, dims: Vec3, s: Vec3) {
  const [nx, ny, nz] = dims;
  const surf = (m: Uint8Array) => {
    const pts: Vec3[] = [];
    const at = (i: number, j: number, k: number) => (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz ? 0 : m[i + nx * (j + ny * k)]);
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++)
          if (at(i, j, k) && (!at(i - 1, j, k) || !at(i + 1, j, k) || !at(i, j - 1, k) || !at(i, j + 1, k) || !at(i, j, k - 1) || !at(i, j, k + 1)))
            pts.push([i * s[0], j * s[1], k * s[2]]);
    return pts;
  };
  const sa = surf(a);
  const sb = surf(b);
  const directed = (from: Vec3[], to: Vec3[]) => from.map((p) => Math.sqrt(Math.min(...to.map((q) => (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 + (p[2] - q[2]) ** 2)))).sort((x, y) => x - y);
  const ab = directed(sa, sb);
  const ba = directed(sb, sa);
  const pct = (v: number[], q: number) => {
    const r = q * (v.length - 1);
    const lo = Math.floor(r);
    const hi = Math.min(lo + 1, v.length - 1);
    return v[lo] + (v[hi] - v[lo]) * (r - lo);
  };
  return {
    assd: [...ab, ...ba].reduce((x, y) => x + y, 0) / (ab.length + ba.length),
    hd95: Math.max(pct(ab, 0.95), pct(ba, 0.95)),
    hd: Math.max(ab[ab.length - 1], ba[ba.length - 1]),
  };
}

/** A random blob: union of a few balls (voxel index space), value 1. */
function blob(dims: Vec3, rand: () => number, balls: number): Uint8Array {
  const [nx, ny, nz] = dims;
  const m = new Uint8Array(nx * ny * nz);
  for (let b = 0; b < balls; b++) {
    const c = [rand() * nx, rand() * ny, rand() * nz];
    const r = 1.5 + rand() * 3;
    for (let k = 0, p = 0; k < nz; k++)
      for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, p++) if ((i - c[0]) ** 2 + (j - c[1]) ** 2 + (k - c[2]) ** 2 <= r * r) m[p] = 1;
  }
  return m;
}

describe('squaredDistanceTransform', () => {
  it.each([
    [[7, 5, 4], [1, 1, 1], 1],
    [[9, 6, 5], [0.7, 0.9, 3], 2],
    [[4, 11, 6], [2, 0.5, 1.25], 3],
    [[1, 1, 13], [1, 1, 2.5], 4],
  ] as Array<[Vec3, Vec3, number]>)('dims %j, spacing %j mm: equals brute force (seed %i)', (dims, spacing, seed) => {
    const rand = rng(seed);
    const n = dims[0] * dims[1] * dims[2];
    for (const density of [0.02, 0.2, 0.7]) {
      const f = new Uint8Array(n);
      for (let p = 0; p < n; p++) f[p] = rand() < density ? 1 : 0;
      f[Math.floor(rand() * n)] = 1;
      const got = squaredDistanceTransform(f, dims, spacing);
      const want = bruteSquared(f, dims, spacing);
      // float32 storage: relative 1e-6
      for (let p = 0; p < n; p++) expect(Math.abs(got[p] - want[p])).toBeLessThanOrEqual(1e-6 * Math.max(1, want[p]));
    }
  });

  it('is Infinity everywhere without a feature, and 0 on the features', () => {
    expect([...squaredDistanceTransform(new Uint8Array(24), [2, 3, 4], [1, 1, 1])].every((d) => d === Infinity)).toBe(true);
    const f = new Uint8Array(24);
    f[5] = 1;
    const d = squaredDistanceTransform(f, [2, 3, 4], [1, 2, 3]);
    expect(d[5]).toBe(0);
    expect(d[5 + 6]).toBe(9); // one slice up: 3 mm
  });
});

describe('compareStructure', () => {
  const dims: Vec3 = [16, 16, 12];
  const n = dims[0] * dims[1] * dims[2];
  const cuboid = (k0: number, k1: number, label = 1) => {
    const m = new Uint8Array(n);
    for (let k = k0; k <= k1; k++) for (let j = 3; j < 13; j++) for (let i = 3; i < 13; i++) m[i + 16 * (j + 16 * k)] = label;
    return m;
  };

  it('identical masks: Dice 1, no difference, all distances 0', () => {
    const a = cuboid(2, 9);
    const r = compareStructure(a, a, grid(dims, [0.8, 0.8, 2.5]), 1, 1);
    expect(r).toMatchObject({ dice: 1, jaccard: 1, volume_diff_ml: 0, volume_diff_percent: 0, false_positive_voxels: 0, false_negative_voxels: 0, assd_mm: 0, hd95_mm: 0, hd_mm: 0 });
    expect(r.volume_ml).toBeCloseTo((800 * 0.8 * 0.8 * 2.5) / 1000, 12);
  });

  it('a 10x10x8 cuboid and the same two 3 mm slices higher: Dice 6/8, HD 6 mm, figures as the brute-force definition', () => {
    const a = cuboid(2, 9);
    const b = cuboid(4, 11, 2); // touches the top slice (series edge) and uses another label value
    const s: Vec3 = [1, 1, 3];
    const r = compareStructure(a, b, grid(dims, s), 1, 2);
    expect(r.dice).toBeCloseTo(6 / 8, 12);
    expect(r.jaccard).toBeCloseTo(600 / 1000, 12);
    expect(r.volume_diff_ml).toBe(0);
    expect(r.false_positive_voxels).toBe(200);
    expect(r.false_negative_voxels).toBe(200);
    expect(r.hd_mm).toBeCloseTo(6, 6);
    const bb = b.map((v) => (v === 2 ? 1 : 0));
    const want = bruteSurfaceDistances(a, bb, dims, s);
    expect(r.assd_mm).toBeCloseTo(want.assd, 5);
    expect(r.hd95_mm).toBeCloseTo(want.hd95, 5);
    expect(r.hd_mm).toBeCloseTo(want.hd, 5);
  });

  it.each([1, 2, 3, 4, 5, 6])('random blobs (seed %i), some on the series edge: exact against the brute-force definition', (seed) => {
    const rand = rng(100 + seed);
    const d: Vec3 = [14, 12, 9];
    const s: Vec3 = [0.5 + rand(), 0.5 + rand(), 1 + 3 * rand()];
    const a = blob(d, rand, 3);
    const b = blob(d, rand, 3);
    const r = compareStructure(a, b, grid(d, s), 1, 1);
    const want = bruteSurfaceDistances(a, b, d, s);
    expect(r.assd_mm).toBeCloseTo(want.assd, 5);
    expect(r.hd95_mm).toBeCloseTo(want.hd95, 5);
    expect(r.hd_mm).toBeCloseTo(want.hd, 5);
    // Symmetric in its distances; Dice from the counts.
    const back = compareStructure(b, a, grid(d, s), 1, 1);
    expect(back.hd_mm).toBeCloseTo(r.hd_mm as number, 12);
    expect(back.assd_mm).toBeCloseTo(r.assd_mm as number, 12);
    expect(back.dice).toBeCloseTo(r.dice as number, 12);
    expect(back.false_positive_voxels).toBe(r.false_negative_voxels);
  });

  it('concentric balls of radius 8 and 10 mm (1 mm voxels): Dice near the analytic 2·512/(512+1000), HD about 2 mm', () => {
    const d: Vec3 = [28, 28, 28];
    const ball = (r: number) => {
      const m = new Uint8Array(28 ** 3);
      for (let k = 0, p = 0; k < 28; k++) for (let j = 0; j < 28; j++) for (let i = 0; i < 28; i++, p++) if ((i - 13.5) ** 2 + (j - 13.5) ** 2 + (k - 13.5) ** 2 <= r * r) m[p] = 1;
      return m;
    };
    const r = compareStructure(ball(8), ball(10), grid(d, [1, 1, 1]), 1, 1);
    expect(Math.abs((r.dice as number) - (2 * 512) / 1512)).toBeLessThan(0.02);
    expect(r.volume_diff_percent as number).toBeCloseTo(((512 - 1000) / 1000) * 100, -1);
    expect(Math.abs((r.hd_mm as number) - 2)).toBeLessThanOrEqual(1);
    expect(Math.abs((r.assd_mm as number) - 2)).toBeLessThan(0.5);
  });

  it('an empty side: Dice 0 and no distances; both empty: Dice null', () => {
    const a = cuboid(2, 9);
    const none = new Uint8Array(n);
    expect(compareStructure(a, none, grid(dims, [1, 1, 1]), 1, 1)).toMatchObject({ dice: 0, volume_diff_percent: null, false_positive_voxels: 800, assd_mm: null, hd95_mm: null, hd_mm: null });
    expect(compareStructure(none, a, grid(dims, [1, 1, 1]), 1, 1)).toMatchObject({ dice: 0, volume_diff_percent: -100, false_negative_voxels: 800, hd_mm: null });
    expect(compareStructure(none, none, grid(dims, [1, 1, 1]), 1, 1)).toMatchObject({ dice: null, jaccard: null, hd_mm: null });
  });

  it('a sheared grid keeps the overlap figures and leaves the distances out with a note; a size mismatch throws, naming the pair', () => {
    const a = cuboid(2, 9);
    const b = cuboid(3, 9);
    const sheared: VolumeGeometry = { ...grid(dims, [1, 1, 1]), direction: [1, 0, 0, 0, 1, 0, 0, 0.3, 0.954] };
    const r = compareStructure(a, b, sheared, 1, 1);
    expect(r).toMatchObject({ dice: 1400 / 1500, hd_mm: null, assd_mm: null, note: SHEARED_GRID_NOTE });
    // volumes with the sheared voxel's true size, |det| = 0.954 mm³, not the spacing product
    expect(r.volume_ml).toBeCloseTo((800 * 0.954) / 1000, 12);
    expect(r.volume_diff_ml).toBeCloseTo((100 * 0.954) / 1000, 12);
    expect(compareStructure(a, b, grid(dims, [1, 1, 1]), 1, 1).note).toBeUndefined();
    expect(() => compareStructure(a, a.subarray(1), grid(dims, [1, 1, 1]), 1, 1, 'm vs r')).toThrow('m vs r: 3072 and 3071 voxels');
  });
});

describe('compareMasks', () => {
  it('maps names to label values in each mask', () => {
    const dims: Vec3 = [6, 6, 6];
    const m = new Uint8Array(216);
    const r = new Uint8Array(216);
    m[0] = 1;
    m[1] = 2;
    r[0] = 7;
    r[1] = 9;
    const out = compareMasks(m, r, grid(dims, [1, 1, 1]), { psoas_left: 1, psoas_right: 2 }, { psoas_left: 7, psoas_right: 9 });
    expect(out.psoas_left).toMatchObject({ label: 1, ref_label: 7, dice: 1 });
    expect(out.psoas_right).toMatchObject({ label: 2, ref_label: 9, dice: 1 });
    expect(() => compareMasks(m, r, grid(dims, [1, 1, 1]), { psoas_left: 1 }, {}, 'r.nii')).toThrow('r.nii: no reference label for psoas_left');
  });
});
