import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { isPsoasError } from '../errors';
import { indexToWorld, type Mat3, type Vec3, type VolumeGeometry } from '../geometry';
import type { Volume } from '../volume';
import { readNifti, writeNifti } from './nifti';

const DATA = path.resolve(__dirname, '../../..', '../shared/data/real');
const haveData = fs.existsSync(DATA);
if (!haveData) console.warn(`[nifti.test] skipping real-data tests: ${DATA} is absent (needs ../shared/data)`);

function range(d: ArrayLike<number>): [number, number] {
  let mn = Infinity, mx = -Infinity;
  for (let i = 0; i < d.length; i++) {
    mn = Math.min(mn, d[i]);
    mx = Math.max(mx, d[i]);
  }
  return [mn, mx];
}

function rotZX(degZ: number, degX: number): Mat3 {
  const a = (degZ * Math.PI) / 180, b = (degX * Math.PI) / 180;
  // columns of Rz·Rx
  const c0: Vec3 = [Math.cos(a), Math.sin(a), 0];
  const c1: Vec3 = [-Math.sin(a) * Math.cos(b), Math.cos(a) * Math.cos(b), Math.sin(b)];
  const c2: Vec3 = [Math.sin(a) * Math.sin(b), -Math.cos(a) * Math.sin(b), Math.cos(b)];
  return [...c0, ...c1, ...c2] as Mat3;
}

function expectGeometryClose(a: VolumeGeometry, b: VolumeGeometry, tol = 1e-4): void {
  expect(a.dimensions).toEqual(b.dimensions);
  for (let i = 0; i < 3; i++) expect(Math.abs(a.spacing[i] - b.spacing[i])).toBeLessThan(tol);
  for (let i = 0; i < 9; i++) expect(Math.abs(a.direction[i] - b.direction[i])).toBeLessThan(tol);
  // corners in patient space agree (the real test of a geometry)
  for (const c of [[0, 0, 0], [a.dimensions[0] - 1, a.dimensions[1] - 1, a.dimensions[2] - 1]] as Vec3[]) {
    const p = indexToWorld(a, c), q = indexToWorld(b, c);
    for (let i = 0; i < 3; i++) expect(Math.abs(p[i] - q[i])).toBeLessThan(1e-3);
  }
}

/** A hand-made NIfTI-2 file (little endian) with an sform, float64 data and scl_slope/inter. */
function makeNifti2(dims: Vec3, affine: number[][], values: number[], slope = 1, inter = 0): Uint8Array {
  const n = dims[0] * dims[1] * dims[2];
  const off = 544;
  const b = new Uint8Array(off + 8 * n);
  const dv = new DataView(b.buffer);
  dv.setInt32(0, 540, true);
  b.set([0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], 4); // "n+2\0\r\n\032\n"
  dv.setInt16(12, 64, true); // float64
  dv.setInt16(14, 64, true);
  [3, ...dims, 1, 1, 1, 1].forEach((d, i) => dv.setBigInt64(16 + 8 * i, BigInt(d), true));
  [1, 1, 1, 1, 1, 1, 1, 1].forEach((p, i) => dv.setFloat64(104 + 8 * i, p, true));
  dv.setBigInt64(168, BigInt(off), true);
  dv.setFloat64(176, slope, true);
  dv.setFloat64(184, inter, true);
  dv.setInt32(348, 1, true); // sform_code
  affine.forEach((row, r) => row.forEach((v, c) => dv.setFloat64(400 + 32 * r + 8 * c, v, true)));
  values.forEach((v, i) => dv.setFloat64(off + 8 * i, v, true));
  return b;
}

describe('readNifti on real CT (../shared/data)', () => {
  it.skipIf(!haveData)('abdomen-ct-3mm.nii.gz: 122x101x112, 3 mm, int32 HU -1207..3382, RAS → LPS', () => {
    const v = readNifti(fs.readFileSync(path.join(DATA, 'abdomen-ct-3mm.nii.gz')), 'abdomen-ct-3mm.nii.gz');
    expect(v.geometry.dimensions).toEqual([122, 101, 112]);
    expect(v.geometry.spacing).toEqual([3, 3, 3]);
    expect(v.units).toBe('HU');
    expect(v.data).toBeInstanceOf(Int16Array);
    expect(range(v.data)).toEqual([-1207, 3382]);
    // sform diag(3,3,3) in RAS ⇒ i points to patient Right (−x LPS), j Anterior (−y), k Superior
    expect(v.geometry.direction).toEqual([-1, 0, 0, 0, -1, 0, 0, 0, 1]);
    expect(v.geometry.origin[0]).toBeCloseTo(177.9563, 3); // RAS x −177.96 → LPS +177.96
    expect(v.geometry.origin[2]).toBeCloseTo(94.3018, 3);
  });

  it.skipIf(!haveData)('chest-ct-1p5mm.nii.gz: 120x126x164 at 1.5 mm, HU range plausible', () => {
    const v = readNifti(fs.readFileSync(path.join(DATA, 'chest-ct-1p5mm.nii.gz')), 'chest-ct-1p5mm.nii.gz');
    expect(v.geometry.dimensions).toEqual([120, 126, 164]);
    expect(v.geometry.spacing).toEqual([1.5, 1.5, 1.5]);
    // sform diag(-1.5,-1.5,1.5) in RAS ⇒ LPS-aligned axes
    expect(v.geometry.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const [mn, mx] = range(v.data);
    expect(mn).toBeGreaterThanOrEqual(-1100);
    expect(mn).toBeLessThan(-900);
    expect(mx).toBeGreaterThan(1000);
  });
});

describe('writeNifti → readNifti round trip', () => {
  const cases: { name: string; vol: Volume }[] = [
    {
      name: 'int16 HU, oblique head-first grid, odd origin',
      vol: {
        geometry: { dimensions: [7, 5, 4], spacing: [0.78125, 0.9, 2.5], origin: [-123.456, 87.125, -901.75], direction: rotZX(17, -12) },
        data: Int16Array.from({ length: 140 }, (_, i) => ((i * 37) % 3000) - 1024),
        units: 'HU',
        meta: {},
      },
    },
    {
      name: 'uint8 labels, reflected (head-first LPS, det −1)',
      vol: {
        geometry: { dimensions: [6, 6, 3], spacing: [2, 2, 3], origin: [10, -20, 30], direction: [1, 0, 0, 0, 1, 0, 0, 0, -1] },
        data: Uint8Array.from({ length: 108 }, (_, i) => i % 3),
        units: 'label',
        meta: {},
      },
    },
    {
      name: 'float32, feet-first oblique',
      vol: {
        geometry: { dimensions: [3, 4, 5], spacing: [1.5, 1.25, 3], origin: [0.5, 0.25, -10], direction: rotZX(-30, 20) },
        data: Float32Array.from({ length: 60 }, (_, i) => i * 0.5 - 7.25),
        units: 'HU',
        meta: {},
      },
    },
  ];
  for (const { name, vol } of cases) {
    it(name, () => {
      for (const gzip of [true, false]) {
        const bytes = writeNifti(vol, { gzip });
        expect(bytes[0] === 0x1f && bytes[1] === 0x8b).toBe(gzip);
        const back = readNifti(bytes, 'roundtrip.nii');
        expectGeometryClose(back.geometry, vol.geometry);
        expect(back.units).toBe(vol.units);
        expect(Array.from(back.data)).toEqual(Array.from(vol.data));
        expect(back.data.constructor).toBe(vol.data.constructor);
      }
    });
  }

  it('qform alone gives the same geometry as the sform (reader fallback)', () => {
    const vol = cases[0].vol;
    const raw = writeNifti(vol, { gzip: false });
    new DataView(raw.buffer).setInt16(254, 0, true); // sform_code = 0
    const back = readNifti(raw, 'qform-only.nii');
    expectGeometryClose(back.geometry, vol.geometry);
  });
});

describe('readNifti: NIfTI-2, scaling, errors', () => {
  it('reads NIfTI-2 float64 with scl_slope/inter and a sheared affine (spacing = column norms)', () => {
    // RAS affine: columns (−2, 0, 0), (0, −3, 0), (0, 1, 4) → k axis is sheared towards anterior
    const A = [[-2, 0, 0, 50], [0, -3, 1, 60], [0, 0, 4, -70]];
    const vals = Array.from({ length: 24 }, (_, i) => i);
    const bytes = gzipSync(makeNifti2([2, 3, 4], A, vals, 2, -1000));
    const v = readNifti(bytes, 'two.nii.gz');
    expect(v.meta.niftiVersion).toBe(2);
    expect(v.geometry.dimensions).toEqual([2, 3, 4]);
    expect(v.geometry.spacing[0]).toBeCloseTo(2, 12);
    expect(v.geometry.spacing[1]).toBeCloseTo(3, 12);
    expect(v.geometry.spacing[2]).toBeCloseTo(Math.hypot(1, 4), 12);
    expect(v.geometry.origin).toEqual([-50, -60, -70]);
    expect(v.geometry.direction.slice(0, 3)).toEqual([1, 0, 0]); // RAS −x → LPS +x
    expect(Array.from(v.data)).toEqual(vals.map((x) => 2 * x - 1000));
    expect(v.meta.warnings?.join(' ')).toMatch(/not orthogonal/);
    // world position of a voxel = LPS of the RAS affine
    const p = indexToWorld(v.geometry, [1, 2, 3]);
    expect(p[0]).toBeCloseTo(-(50 - 2), 9);
    expect(p[1]).toBeCloseTo(-(60 - 6 + 3), 9);
    expect(p[2]).toBeCloseTo(-70 + 12, 9);
  });

  const bad: { name: string; bytes: () => Uint8Array; code: string; msg: RegExp }[] = [
    { name: 'random bytes', bytes: () => Uint8Array.from({ length: 400 }, (_, i) => (i * 7) & 255), code: 'NOT_NIFTI', msg: /bad\.nii is not a NIfTI file/ },
    { name: 'too short', bytes: () => new Uint8Array(10), code: 'NOT_NIFTI', msg: /only 10 bytes/ },
    {
      name: '4-D image',
      bytes: () => {
        const b = writeNifti({ geometry: { dimensions: [2, 2, 2], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] }, data: new Int16Array(8), units: 'HU', meta: {} }, { gzip: false });
        const dv = new DataView(b.buffer);
        dv.setInt16(40, 4, true);
        dv.setInt16(48, 3, true);
        return b;
      },
      code: 'UNSUPPORTED_NIFTI',
      msg: /4-D image.*dim\[4\] = 3/,
    },
    {
      name: 'complex datatype',
      bytes: () => {
        const b = writeNifti({ geometry: { dimensions: [2, 2, 2], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] }, data: new Int16Array(8), units: 'HU', meta: {} }, { gzip: false });
        new DataView(b.buffer).setInt16(70, 32, true);
        return b;
      },
      code: 'UNSUPPORTED_NIFTI',
      msg: /datatype 32 \(complex64\)/,
    },
    {
      name: 'truncated data',
      bytes: () => writeNifti({ geometry: { dimensions: [4, 4, 4], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] }, data: new Int16Array(64), units: 'HU', meta: {} }, { gzip: false }).slice(0, 400),
      code: 'CORRUPT_FILE',
      msg: /truncated/,
    },
  ];
  for (const c of bad) {
    it(`${c.name} → ${c.code} naming the file`, () => {
      try {
        readNifti(c.bytes(), 'bad.nii');
        expect.unreachable('should have thrown');
      } catch (e) {
        expect(isPsoasError(e)).toBe(true);
        expect((e as { code: string }).code).toBe(c.code);
        expect((e as Error).message).toMatch(c.msg);
        expect((e as Error).message).toContain('bad.nii');
      }
    });
  }
});
