import { describe, expect, it } from 'vitest';
import { indexToWorld, orientationCode, type Mat3, type Vec3, type VolumeGeometry } from '../core/geometry';
import { applyReorient, invertReorient, planReorient, reorientTransform, reorientVolume } from './reorient';

/** All 48 signed permutation matrices (column-major: column a = ±e_perm[a]). */
function signedPermutations(): Mat3[] {
  const perms: Vec3[] = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
  const out: Mat3[] = [];
  for (const p of perms)
    for (let s = 0; s < 8; s++) {
      const m = new Array(9).fill(0);
      for (let a = 0; a < 3; a++) m[3 * a + p[a]] = s & (1 << a) ? -1 : 1;
      out.push(m as Mat3);
    }
  return out;
}

function geometry(direction: Mat3): VolumeGeometry {
  // Distinct sizes and spacings per axis so a wrong permutation cannot go unnoticed.
  return { dimensions: [5, 4, 3], spacing: [0.7, 1.1, 2.5], origin: [-12.5, 30, 101], direction };
}

const close = (a: Vec3, b: Vec3) => a.every((v, i) => Math.abs(v - b[i]) < 1e-9);

describe('reorient', () => {
  const dirs = signedPermutations();
  it('has 48 distinct orientations', () => {
    expect(new Set(dirs.map((d) => orientationCode(geometry(d)))).size).toBe(48);
  });

  for (const target of ['LPS', 'RAS', 'SAL']) {
    it(`all 48 orientations → ${target}: correct axes, every voxel keeps its LPS position, exact inverse`, () => {
      for (const d of dirs) {
        const g = geometry(d);
        const n = 60;
        // value = source linear index + 1000 so we can find where each voxel came from
        const data = Int32Array.from({ length: n }, (_, v) => v + 1000);
        const { volume, transform } = reorientVolume({ geometry: g, data, units: 'other', meta: {} }, target);
        expect(orientationCode(volume.geometry)).toBe(target);
        expect(transform.toCode).toBe(target);
        const [tx, ty] = volume.geometry.dimensions;
        for (let v = 0; v < n; v++) {
          const idx: Vec3 = [v % tx, Math.floor(v / tx) % ty, Math.floor(v / (tx * ty))];
          const s = volume.data[v] - 1000;
          const sIdx: Vec3 = [s % 5, Math.floor(s / 5) % 4, Math.floor(s / 20)];
          expect(close(indexToWorld(volume.geometry, idx), indexToWorld(g, sIdx))).toBe(true);
        }
        expect(Array.from(invertReorient(volume.data, transform))).toEqual(Array.from(data));
      }
    });
  }

  it('round-trips channel-major multi-channel float scores exactly', () => {
    const g = geometry([0, -1, 0, 0, 0, 1, -1, 0, 0]);
    const t = reorientTransform(g, 'LPS');
    const scores = Float32Array.from({ length: 3 * 60 }, (_, v) => Math.sin(v) * 100);
    const there = applyReorient(scores, t, 3);
    // channel blocks stay separate: channel 2 of the output is a permutation of channel 2 of the input
    expect(Array.from(there.subarray(120)).sort()).toEqual(Array.from(scores.subarray(120)).sort());
    expect(invertReorient(there, t, 3)).toEqual(scores);
  });

  it('identity when already in the target orientation (data not copied)', () => {
    const data = new Int16Array(60);
    const vol = { geometry: geometry([1, 0, 0, 0, 1, 0, 0, 0, 1]), data, units: 'HU' as const, meta: {} };
    const { volume, transform } = reorientVolume(vol, 'LPS');
    expect(volume.data).toBe(data);
    expect(transform.perm).toEqual([0, 1, 2]);
    expect(transform.flip).toEqual([false, false, false]);
  });

  it('oblique (25° about z, then axes swapped) → the closest permutation; residual angle stays in direction', () => {
    const c = Math.cos((25 * Math.PI) / 180);
    const s = Math.sin((25 * Math.PI) / 180);
    // i ≈ -y (A), j ≈ +x (L), k = -z (I)
    const d: Mat3 = [s, -c, 0, c, s, 0, 0, 0, -1];
    const plan = planReorient(geometry(d), 'LPS');
    expect(plan.perm).toEqual([1, 0, 2]);
    expect(plan.flip).toEqual([false, true, true]);
    const t = reorientTransform(geometry(d), 'LPS');
    expect(t.target.direction[0]).toBeCloseTo(c, 12); // i' = L-ish with the 25° residual
    expect(t.target.direction[4]).toBeCloseTo(c, 12);
  });

  it('rejects a bad target code', () => {
    expect(() => reorientTransform(geometry([1, 0, 0, 0, 1, 0, 0, 0, 1]), 'LLP')).toThrow(/LLP/);
  });
});
