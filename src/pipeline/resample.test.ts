import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { indexToWorld, worldToIndex, type Mat3, type Vec3, type VolumeGeometry } from '../core/geometry';
import { applyReorient, reorientTransform } from './reorient';
import {
  cropGeometry,
  geometryForSpacing,
  obliqueAngleDeg,
  patientAlignedGeometry,
  resampleNearest,
  resampleTrilinear,
  resampleTrilinearSlabs,
  roundHalfEven,
  shiftGeometry,
} from './resample';

const rot = (deg: number): Mat3 => {
  const c = Math.cos((deg * Math.PI) / 180);
  const s = Math.sin((deg * Math.PI) / 180);
  // rotation about z, columns = rotated i, j; k = +z
  return [c, s, 0, -s, c, 0, 0, 0, 1];
};

/** Samples f (a function of LPS mm) at every voxel centre of g. */
function sample(g: VolumeGeometry, f: (p: Vec3) => number): Float32Array {
  const [nx, ny, nz] = g.dimensions;
  const out = new Float32Array(nx * ny * nz);
  let o = 0;
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) out[o++] = f(indexToWorld(g, [i, j, k]));
  return out;
}

/** Physical extent (mm) along each axis, voxel edge to voxel edge, and the box centre (LPS). */
function extent(g: VolumeGeometry) {
  const c = indexToWorld(g, [(g.dimensions[0] - 1) / 2, (g.dimensions[1] - 1) / 2, (g.dimensions[2] - 1) / 2]);
  return { size: g.dimensions.map((d, a) => d * g.spacing[a]), centre: c };
}

describe('geometryForSpacing', () => {
  const cases: Array<[string, VolumeGeometry, Vec3]> = [
    ['axial CT to 3 mm', { dimensions: [512, 512, 300], spacing: [0.78, 0.78, 1], origin: [-200, -180, -400], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] }, [3, 3, 3]],
    ['thick slices to 1.5 mm', { dimensions: [256, 256, 40], spacing: [1.5, 1.5, 5], origin: [0, 0, 0], direction: rot(0) }, [1.5, 1.5, 1.5]],
    ['oblique, anisotropic', { dimensions: [101, 77, 33], spacing: [0.9, 1.3, 2.7], origin: [5, -7, 9], direction: rot(30) }, [2, 2, 2]],
    ['tiny volume coarser than spacing', { dimensions: [3, 2, 1], spacing: [1, 1, 1], origin: [0, 0, 0], direction: rot(0) }, [5, 5, 5]],
  ];
  it.each(cases)('%s: same centre; extent within half a target voxel (exact-spacing) and exact (exact-extent)', (_n, g, sp) => {
    const src = extent(g);
    const a = geometryForSpacing(g, sp);
    expect(a.spacing).toEqual(sp);
    expect(a.direction).toEqual(g.direction);
    const ea = extent(a);
    for (let i = 0; i < 3; i++) {
      expect(Math.abs(ea.centre[i] - src.centre[i])).toBeLessThan(1e-9);
      // a 1-voxel result can be smaller than any rounding allows: the whole extent fits one voxel then
      if (a.dimensions[i] > 1) expect(Math.abs(ea.size[i] - src.size[i])).toBeLessThanOrEqual(sp[i] / 2 + 1e-9);
    }
    const b = geometryForSpacing(g, sp, 'exact-extent');
    const eb = extent(b);
    for (let i = 0; i < 3; i++) {
      expect(eb.size[i]).toBeCloseTo(src.size[i], 9);
      expect(Math.abs(eb.centre[i] - src.centre[i])).toBeLessThan(1e-9);
    }
  });
  it('512x512x300 @0.78x0.78x1 → 3 mm gives 133x133x100', () => {
    expect(geometryForSpacing(cases[0][1], [3, 3, 3]).dimensions).toEqual([133, 133, 100]);
  });
  it.each([
    [22.5, 22],
    [23.5, 24],
    [22.4999, 22],
    [22.5001, 23],
    [0.5, 0],
    [7, 7],
  ])('roundHalfEven(%f) = %i (Python round, as training)', (x, want) => expect(roundHalfEven(x)).toBe(want));
  it('rejects non-positive spacing', () => {
    expect(() => geometryForSpacing(cases[0][1], [3, 0, 3])).toThrow(/spacing must be > 0/);
  });
});

describe('resampleTrilinear', () => {
  const src: VolumeGeometry = { dimensions: [40, 36, 24], spacing: [1.2, 1.0, 2.5], origin: [-20, -15, 30], direction: rot(0) };
  // A smooth field (LPS mm): wavelengths of 60-120 mm, like soft anatomy after blurring.
  const smooth = (p: Vec3) => 100 * Math.sin(p[0] / 15) + 50 * Math.cos(p[1] / 12) + 2 * p[2];

  it('reproduces a linear field exactly at interior points on an oblique grid', () => {
    const lin = (p: Vec3) => 3 * p[0] - 2 * p[1] + 0.5 * p[2] + 7;
    const data = sample(src, lin);
    // oblique target well inside the source
    const target: VolumeGeometry = { dimensions: [10, 10, 6], spacing: [1.7, 1.3, 2], origin: [-8, -6, 40], direction: rot(20) };
    const out = resampleTrilinear({ geometry: src, data }, target);
    const want = sample(target, lin);
    let maxErr = 0;
    for (let v = 0; v < out.length; v++) maxErr = Math.max(maxErr, Math.abs(out[v] - want[v]));
    expect(maxErr).toBeLessThan(1e-3); // float32 storage of values up to ~150
  });

  it('resample → inverse-resample returns a smooth field within interpolation error', () => {
    const data = sample(src, smooth);
    const coarse = geometryForSpacing(src, [2, 2, 3]);
    const there = resampleTrilinear({ geometry: src, data }, coarse);
    const back = resampleTrilinear({ geometry: coarse, data: there }, src);
    // Interior (2 voxels from each face) where both grids interpolate rather than clamp.
    let maxErr = 0;
    let sumErr = 0;
    let count = 0;
    const [nx, ny, nz] = src.dimensions;
    for (let k = 2; k < nz - 2; k++)
      for (let j = 2; j < ny - 2; j++)
        for (let i = 2; i < nx - 2; i++) {
          const v = i + nx * (j + ny * k);
          const e = Math.abs(back[v] - data[v]);
          maxErr = Math.max(maxErr, e);
          sumErr += e;
          count++;
        }
    // Trilinear error bound ~ h^2/8 * |f''|: h ≤ 3 mm, |f''| ≤ 100/15^2 + 50/12^2 ≈ 0.79 → ≈ 0.9 per pass.
    // Field range is ±150 + z term, so this is < 1 % of the amplitude.
    expect(maxErr).toBeLessThan(2);
    expect(sumErr / count).toBeLessThan(0.6);
  });

  it('oblique target (rotated 30°): interpolation error inside, fill outside', () => {
    const data = sample(src, smooth);
    const target: VolumeGeometry = { dimensions: [20, 20, 12], spacing: [1.5, 1.5, 2.5], origin: [-5, -12, 38], direction: rot(30) };
    const out = resampleTrilinear({ geometry: src, data }, target, { fill: -999 });
    const want = sample(target, smooth);
    // Interior: source continuous index at least 1 voxel from every face (the edge half-voxel is clamped, i.e.
    // constant extrapolation, whose error is gradient x distance rather than interpolation error).
    const inside = sample(target, (p) => {
      const s = worldToIndex(src, p);
      return s.every((x, a) => x >= 1 && x <= src.dimensions[a] - 2) ? 1 : 0;
    });
    let maxErr = 0;
    let filled = 0;
    let checked = 0;
    for (let v = 0; v < out.length; v++) {
      if (out[v] === -999) filled++;
      if (inside[v]) {
        checked++;
        maxErr = Math.max(maxErr, Math.abs(out[v] - want[v]));
      }
    }
    // single trilinear pass: h^2/8 * |f''| per axis ≈ (1.44*0.44 + 1*0.35)/8 ≈ 0.12
    expect(maxErr).toBeLessThan(0.2);
    expect(checked).toBeGreaterThan(out.length / 2);
    expect(filled).toBeGreaterThan(0); // the rotated box pokes out of the source
  });

  it('fills outside the physical extent only when fill is given; clamps within half a voxel', () => {
    const g: VolumeGeometry = { dimensions: [4, 1, 1], spacing: [1, 1, 1], origin: [0, 0, 0], direction: rot(0) };
    const data = Float32Array.from([10, 20, 30, 40]);
    // target points at x = -0.4 (inside extent), -0.6 (outside), 1.5, 3.4 (inside), 3.6 (outside)
    const xs = [-0.4, -0.6, 1.5, 3.4, 3.6];
    const vals = xs.map((x) => {
      const t: VolumeGeometry = { dimensions: [1, 1, 1], spacing: [1, 1, 1], origin: [x, 0, 0], direction: rot(0) };
      return [resampleTrilinear({ geometry: g, data }, t, { fill: -1 })[0], resampleTrilinear({ geometry: g, data }, t)[0]];
    });
    expect(vals).toEqual([
      [10, 10],
      [-1, 10],
      [25, 25],
      [40, 40],
      [-1, 40],
    ]);
  });

  it.each([
    // x (voxel index of the 4-voxel source [10, 20, 30, 40]) → clamped, mirrored about the outermost voxel centres
    [-1.5, 10, 25],
    [-0.5, 10, 15],
    [1.25, 22.5, 22.5], // inside: the same either way
    [4, 40, 30],
    [5.5, 40, 15],
    [8, 40, 10], // the mirror image falls beyond the opposite edge (x' = -2): clamped there
  ])('reflect: x = %s reads %s clamped, %s mirrored; a fill wins over reflect', (x, clamped, mirrored) => {
    const g: VolumeGeometry = { dimensions: [4, 1, 1], spacing: [1, 1, 1], origin: [0, 0, 0], direction: rot(0) };
    const data = Float32Array.from([10, 20, 30, 40]);
    const t: VolumeGeometry = { dimensions: [1, 1, 1], spacing: [1, 1, 1], origin: [x, 0, 0], direction: rot(0) };
    expect(resampleTrilinear({ geometry: g, data }, t)[0]).toBeCloseTo(clamped, 5);
    expect(resampleTrilinear({ geometry: g, data }, t, { reflect: true })[0]).toBeCloseTo(mirrored, 5);
    const filled = resampleTrilinear({ geometry: g, data }, t, { reflect: true, fill: -1 })[0];
    expect(filled).toBe(x < -0.5 || x > 3.5 ? -1 : resampleTrilinear({ geometry: g, data }, t)[0]);
  });

  it('multi-channel slabs: same values as one pass, buffer bounded by maxSlabValues', () => {
    const C = 3;
    const one = sample(src, smooth);
    const data = new Float32Array(C * one.length);
    for (let c = 0; c < C; c++) for (let v = 0; v < one.length; v++) data[c * one.length + v] = one[v] * (c + 1) - c;
    const target = geometryForSpacing(src, [0.8, 0.8, 1]);
    const whole = resampleTrilinear({ geometry: src, data, channels: C }, target);
    const plane = target.dimensions[0] * target.dimensions[1];
    const n = plane * target.dimensions[2];
    const maxSlabValues = C * plane * 4 + 5;
    let slabs = 0;
    let maxLen = 0;
    let maxDiff = 0;
    let covered = 0;
    resampleTrilinearSlabs(
      { geometry: src, data, channels: C },
      target,
      (k0, k1, values) => {
        slabs++;
        maxLen = Math.max(maxLen, values.length);
        const slabN = plane * (k1 - k0);
        covered += k1 - k0;
        for (let c = 0; c < C; c++)
          for (let v = 0; v < slabN; v++) maxDiff = Math.max(maxDiff, Math.abs(values[c * slabN + v] - whole[c * n + k0 * plane + v]));
      },
      { maxSlabValues },
    );
    expect(covered).toBe(target.dimensions[2]);
    expect(slabs).toBe(Math.ceil(target.dimensions[2] / 4));
    expect(maxLen).toBeLessThanOrEqual(maxSlabValues);
    expect(maxDiff).toBe(0);
    // channel 1 = 2*ch0 - 1 survives interpolation (linear in values)
    expect(Math.abs(whole[n + 1234] - (2 * whole[1234] - 1))).toBeLessThan(1e-3);
  });

  it('abort signal stops between slabs', () => {
    const ac = new AbortController();
    ac.abort();
    expect(() => resampleTrilinear({ geometry: src, data: new Float32Array(40 * 36 * 24) }, src, { signal: ac.signal })).toThrow();
  });
});

/** Rotation by `deg` about the unit vector along `axis` (Rodrigues), column-major. */
function rotAbout(axis: Vec3, deg: number): Mat3 {
  const n = Math.hypot(...axis);
  const [x, y, z] = axis.map((v) => v / n);
  const c = Math.cos((deg * Math.PI) / 180), s = Math.sin((deg * Math.PI) / 180), t = 1 - c;
  // rows of R; stored column-major below
  const R = [
    [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
    [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
    [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
  ];
  return [R[0][0], R[1][0], R[2][0], R[0][1], R[1][1], R[2][1], R[0][2], R[1][2], R[2][2]];
}

describe('obliqueAngleDeg / patientAlignedGeometry', () => {
  it.each([
    ['axial', rot(0), 0],
    ['rotated 90° about z (a permutation)', rot(90), 0],
    ['feet-first, flipped rows', [1, 0, 0, 0, -1, 0, 0, 0, -1] as Mat3, 0],
    ['rotated 16° about z', rot(16), 16],
    // the phantom generator's oblique grid: 16° about n = (1, 0.5, 0.25)/|.|; the axis tilted most is k:
    // cos = n_z² + (1 - n_z²) cos 16° with n_z² = 0.0625 / 1.3125, i.e. 15.61°
    ['16° about (1, 0.5, 0.25)', rotAbout([1, 0.5, 0.25], 16), 15.61],
  ])('tilt of %s', (_n, dir, deg) => {
    expect(obliqueAngleDeg({ dimensions: [2, 2, 2], spacing: [1, 1, 1], origin: [0, 0, 0], direction: dir })).toBeCloseTo(deg, 1);
  });

  it.each([
    ['rotated 30° about z', rot(30)],
    ['16° about (1, 0.5, 0.25)', rotAbout([1, 0.5, 0.25], 16)],
    ['16° about (1, 0.5, 0.25), feet first', ((m: Mat3) => [m[0], m[1], m[2], -m[3], -m[4], -m[5], -m[6], -m[7], -m[8]] as Mat3)(rotAbout([1, 0.5, 0.25], 16))],
  ])('%s: axes snapped to the nearest patient axes, the box is the tight bounding box of the series', (_n, dir) => {
    const g: VolumeGeometry = { dimensions: [101, 77, 33], spacing: [0.9, 1.3, 2.7], origin: [5, -7, 9], direction: dir };
    const s: Vec3 = [2, 2, 3];
    const a = patientAlignedGeometry(g, s);
    expect(obliqueAngleDeg(a)).toBe(0);
    // same index order and signs: each axis of a is the patient axis its counterpart of g points along most
    for (let c = 0; c < 3; c++) {
      const gc = [dir[3 * c], dir[3 * c + 1], dir[3 * c + 2]];
      const ac = a.direction.slice(3 * c, 3 * c + 3);
      expect(gc[0] * ac[0] + gc[1] * ac[1] + gc[2] * ac[2]).toBeGreaterThan(0.8);
    }
    // the 8 corners of the series (voxel edges) span exactly [-0.5, n - 0.5] of a's index along each axis
    const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    for (let c = 0; c < 8; c++) {
      const corner = [0, 1, 2].map((x) => (c & (1 << x) ? g.dimensions[x] - 0.5 : -0.5)) as Vec3;
      const idx = worldToIndex(a, indexToWorld(g, corner));
      for (let x = 0; x < 3; x++) {
        lo[x] = Math.min(lo[x], idx[x]);
        hi[x] = Math.max(hi[x], idx[x]);
      }
    }
    for (let x = 0; x < 3; x++) {
      expect(lo[x]).toBeCloseTo(-0.5, 9);
      expect(hi[x]).toBeCloseTo(a.dimensions[x] - 0.5, 9);
      // spacing within half a voxel's worth of the requested one
      expect(Math.abs(a.spacing[x] - s[x])).toBeLessThanOrEqual((0.5 * s[x]) / a.dimensions[x] + 1e-12);
    }
    // larger than the series (the tilted box's corners stick out), but not absurdly
    const vol = (q: VolumeGeometry) => q.dimensions[0] * q.spacing[0] * q.dimensions[1] * q.spacing[1] * q.dimensions[2] * q.spacing[2];
    expect(vol(a)).toBeGreaterThan(vol(g));
    expect(vol(a)).toBeLessThan(2 * vol(g));
  });

  it('a series that is not oblique gets the exact-extent grid (same as geometryForSpacing)', () => {
    const g: VolumeGeometry = { dimensions: [101, 77, 33], spacing: [0.9, 1.3, 2.7], origin: [5, -7, 9], direction: [1, 0, 0, 0, -1, 0, 0, 0, -1] };
    const a = patientAlignedGeometry(g, [2, 2, 3]);
    const b = geometryForSpacing(g, [2, 2, 3], 'exact-extent');
    expect(a.dimensions).toEqual(b.dimensions);
    expect(a.direction).toEqual(b.direction);
    for (let x = 0; x < 3; x++) {
      expect(a.spacing[x]).toBeCloseTo(b.spacing[x], 12);
      expect(a.origin[x]).toBeCloseTo(b.origin[x], 9);
    }
  });

  it('refuses a 45° tilt (two axes equally close to one patient axis)', () => {
    const h = Math.SQRT1_2;
    const g: VolumeGeometry = { dimensions: [4, 4, 4], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [h, h, 0, -h, h, 0, 0, 0, 1] };
    expect(() => patientAlignedGeometry(g, [2, 2, 2])).toThrow(/same patient axis/);
  });
});

describe('shiftGeometry', () => {
  it.each([0, 17, 90])('moves the grid by a fraction of a voxel along its own axes (rotated %d° about z)', (deg) => {
    const g: VolumeGeometry = { dimensions: [7, 5, 3], spacing: [2, 2.5, 3], origin: [10, -4, 7], direction: rot(deg) };
    const s: Vec3 = [0.5, -0.25, 0.5];
    const h = shiftGeometry(g, s);
    expect(h.dimensions).toEqual(g.dimensions);
    expect(h.spacing).toEqual(g.spacing);
    expect(h.direction).toEqual(g.direction);
    for (const idx of [[0, 0, 0], [6, 4, 2], [3, 1, 2]] as Vec3[]) {
      const a = indexToWorld(h, idx);
      const b = indexToWorld(g, [idx[0] + s[0], idx[1] + s[1], idx[2] + s[2]]);
      for (let c = 0; c < 3; c++) expect(a[c]).toBeCloseTo(b[c], 10);
    }
    // and back
    const back = shiftGeometry(h, [-s[0], -s[1], -s[2]]);
    for (let c = 0; c < 3; c++) expect(back.origin[c]).toBeCloseTo(g.origin[c], 10);
  });
});

describe('resampleNearest / cropGeometry', () => {
  it('onto a reoriented grid equals the exact permutation', () => {
    const g: VolumeGeometry = { dimensions: [5, 4, 3], spacing: [0.7, 1.1, 2.5], origin: [3, 4, 5], direction: [0, 0, -1, 1, 0, 0, 0, -1, 0] };
    const t = reorientTransform(g, 'LPS');
    const labels = Uint8Array.from({ length: 60 }, (_, v) => v);
    expect(resampleNearest({ geometry: g, data: labels }, t.target)).toEqual(applyReorient(labels, t));
  });
  it('labels stay labels when upsampling 2x (each voxel → its 2x2x2 children)', () => {
    const g: VolumeGeometry = { dimensions: [3, 2, 2], spacing: [2, 2, 2], origin: [0, 0, 0], direction: rot(0) };
    const labels = Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const fine = geometryForSpacing(g, [1, 1, 1]);
    const out = resampleNearest({ geometry: g, data: labels }, fine);
    expect(fine.dimensions).toEqual([6, 4, 4]);
    for (let k = 0; k < 4; k++)
      for (let j = 0; j < 4; j++)
        for (let i = 0; i < 6; i++) expect(out[i + 6 * (j + 4 * k)]).toBe(labels[(i >> 1) + 3 * ((j >> 1) + 2 * (k >> 1))]);
  });
  it('crop keeps the voxel positions', () => {
    const g: VolumeGeometry = { dimensions: [10, 10, 10], spacing: [1, 2, 3], origin: [1, 2, 3], direction: rot(40) };
    const c = cropGeometry(g, [2, 3, 4], [5, 6, 7]);
    expect(c.dimensions).toEqual([3, 3, 3]);
    const a = indexToWorld(c, [1, 1, 1]);
    const b = indexToWorld(g, [3, 4, 5]);
    for (let i = 0; i < 3; i++) expect(a[i]).toBeCloseTo(b[i], 10);
    expect(() => cropGeometry(g, [0, 0, 0], [11, 1, 1])).toThrow(/outside dimensions/);
  });
});

describe('agreement with training (PyTorch interpolate, align_corners=False)', () => {
  // Fixtures from src/pipeline/fixtures/make-torch-resample.py: the same formula field, resampled by torch.
  const [nx, ny, nz] = [13, 11, 9];
  const g: VolumeGeometry = { dimensions: [nx, ny, nz], spacing: [0.8, 1.1, 2.5], origin: [12, -40, 300], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  const data = new Float32Array(nx * ny * nz);
  for (let k = 0, v = 0; k < nz; k++)
    for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, v++) data[v] = Math.sin(0.7 * i + 0.3 * j * j) + Math.cos(1.3 * k - 0.2 * i * j);
  it.each([
    ['torch-down-3mm.f32', 3, [3, 4, 8]],
    ['torch-up-1mm.f32', 1, [10, 12, 22]],
  ] as const)('%s: same grid size and values within 1e-5', (file, mm, dims) => {
    const buf = readFileSync(path.resolve(__dirname, 'fixtures', file));
    const want = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const target = geometryForSpacing(g, [mm, mm, mm], 'exact-extent');
    expect(target.dimensions).toEqual(dims);
    const got = resampleTrilinear({ geometry: g, data }, target);
    expect(got.length).toBe(want.length);
    let maxDiff = 0;
    for (let v = 0; v < got.length; v++) maxDiff = Math.max(maxDiff, Math.abs(got[v] - want[v]));
    expect(maxDiff).toBeLessThan(1e-5);
  });
});
