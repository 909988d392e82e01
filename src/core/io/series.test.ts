import { describe, it, expect } from 'vitest';
import { parseDicom, type DicomSlice } from './dicom-read';
import { writeTestDicom, type TestSliceSpec } from './decode-testkit';
import { assembleVolume, groupSlices, planVolume } from './series';
import { indexToWorld, orientationCode, type Vec3 } from '../geometry';
import { isPsoasError } from '../errors';

const AXIAL: [number, number, number, number, number, number] = [1, 0, 0, 0, 1, 0];
const FEET_FIRST: [number, number, number, number, number, number] = [-1, 0, 0, 0, 1, 0];
const th = (30 * Math.PI) / 180;
const OBLIQUE: [number, number, number, number, number, number] = [1, 0, 0, 0, Math.cos(th), Math.sin(th)];

const NX = 4;
const NY = 3;

/** A 4x3 slice whose every pixel has HU = value (stored as int16, no rescale). */
function slice(name: string, ipp: Vec3, value: number, over: Partial<TestSliceSpec> = {}): DicomSlice {
  const stored = new Int16Array(NX * NY);
  for (let p = 0; p < stored.length; p++) stored[p] = value + p; // p varies in-plane so i/j mix-ups show
  return parseDicom(
    writeTestDicom({ rows: NY, columns: NX, stored, ipp, iop: AXIAL, pixelSpacing: [0.8, 0.7], sliceThickness: 5, instanceNumber: 100 - value, ...over }),
    name,
  );
}

function shuffled<T>(xs: T[], seed = 3): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 16807) % 2147483647;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (isPsoasError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a PsoasError');
}

describe('assembleVolume: sorting and geometry', () => {
  const normalOf = (iop: number[]): Vec3 => [
    iop[1] * iop[5] - iop[2] * iop[4],
    iop[2] * iop[3] - iop[0] * iop[5],
    iop[0] * iop[4] - iop[1] * iop[3],
  ];
  const cases = [
    { name: 'head-first axial, shuffled', iop: AXIAL, step: [0, 0, 2.5] as Vec3, code: 'LPS', spacingK: 2.5 },
    { name: 'feet-first (slices going down)', iop: FEET_FIRST, step: [0, 0, -2] as Vec3, code: 'RPI', spacingK: 2 },
    { name: 'oblique 30° about x', iop: OBLIQUE, step: normalOf(OBLIQUE).map((v) => v * 3) as Vec3, code: 'LPS', spacingK: 3 },
  ];
  it.each(cases)('$name', async ({ iop, step, code, spacingK }) => {
    const base: Vec3 = [-10, 20, 100];
    const files = Array.from({ length: 6 }, (_, k) =>
      slice(`f${k}.dcm`, [base[0] + k * step[0], base[1] + k * step[1], base[2] + k * step[2]], k * 10, { iop }),
    );
    // File names and InstanceNumbers deliberately disagree with the order in space.
    const vol = await assembleVolume(shuffled(files));
    const g = vol.geometry;
    expect(g.dimensions).toEqual([NX, NY, 6]);
    expect(g.spacing[0]).toBeCloseTo(0.7, 9); // PixelSpacing[1]: between columns
    expect(g.spacing[1]).toBeCloseTo(0.8, 9); // PixelSpacing[0]: between rows
    expect(g.spacing[2]).toBeCloseTo(spacingK, 6); // from positions, not SliceThickness (5)
    expect(orientationCode(g)).toBe(code);
    // Slice k holds the file whose IPP is k-th along the normal: HU at (i,j,k) = 10k + i + NX*j.
    for (const [i, j, k] of [[0, 0, 0], [3, 2, 5], [1, 2, 3]]) {
      expect(vol.data[i + NX * (j + NY * k)]).toBe(10 * k + i + NX * j);
      const w = indexToWorld(g, [i, j, k]);
      const want = files[k].imagePositionPatient!.map((v, a) => v + i * 0.7 * iop[a] + j * 0.8 * iop[3 + a]);
      w.forEach((v, a) => expect(v).toBeCloseTo(want[a], 4));
    }
    expect(vol.meta.warnings).toEqual([]);
  });

  it('gantry tilt: uses the real slice direction, warns with the angle', async () => {
    const tilt = (15 * Math.PI) / 180;
    const files = Array.from({ length: 5 }, (_, k) => slice(`t${k}.dcm`, [0, -k * 2 * Math.tan(tilt), 2 * k], k));
    const vol = await assembleVolume(shuffled(files));
    const d = vol.geometry.direction;
    expect(d[6]).toBeCloseTo(0, 9);
    expect(d[7]).toBeCloseTo(-Math.sin(tilt), 6);
    expect(d[8]).toBeCloseTo(Math.cos(tilt), 6);
    expect(vol.geometry.spacing[2]).toBeCloseTo(2 / Math.cos(tilt), 6);
    expect(vol.meta.warnings!.join(' ')).toMatch(/Gantry tilt 15(\.0)?°/);
    expect(indexToWorld(vol.geometry, [0, 0, 4])[1]).toBeCloseTo(files[4].imagePositionPatient![1], 4);
  });

  it('uneven spacing (3 mm then 6 mm block) is resampled to the median with a warning', async () => {
    const z = [0, 3, 6, 9, 12, 18, 24, 30];
    // HU linear in z (value = 10 z): linear interpolation must reproduce it exactly at the new positions.
    const files = z.map((zz, k) => slice(`u${k}.dcm`, [0, 0, zz], 10 * zz));
    const vol = await assembleVolume(shuffled(files));
    expect(vol.meta.warnings!.join(' ')).toMatch(/Uneven slice spacing 3–6 mm.*resampled/);
    expect(vol.geometry.dimensions[2]).toBe(11); // 30 mm at the median 3 mm (gaps 3,3,3,3,6,6,6 → median 3)
    expect(vol.geometry.spacing[2]).toBeCloseTo(3, 9);
    for (let k = 0; k < 11; k++) expect(vol.data[NX * NY * k]).toBe(30 * k);
    expect(vol.meta.resampled).toBe(true);
  });

  it('spacing within 0.05 mm jitter counts as even; Float32 when a slope is fractional', async () => {
    const z = [0, 2.02, 3.99, 6.01, 8];
    const files = z.map((zz, k) => slice(`j${k}.dcm`, [0, 0, zz], k, k === 2 ? { slope: 0.5 } : {}));
    const vol = await assembleVolume(files);
    expect(vol.meta.warnings).toEqual([]);
    expect(vol.geometry.spacing[2]).toBeCloseTo(2, 9);
    expect(vol.data).toBeInstanceOf(Float32Array);
    expect(vol.data[NX * NY * 2 + 1]).toBeCloseTo((2 + 1) * 0.5, 6);
    expect(vol.data[NX * NY * 3 + 1]).toBe(4);
  });

  it('reports progress and honours an AbortSignal', async () => {
    const files = Array.from({ length: 4 }, (_, k) => slice(`p${k}.dcm`, [0, 0, k], k));
    const seen: number[] = [];
    await assembleVolume(files, { onProgress: (d) => seen.push(d) });
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    const ac = new AbortController();
    ac.abort(new Error('user cancelled'));
    await expect(assembleVolume(files, { signal: ac.signal })).rejects.toThrow('user cancelled');
  });
});

describe('planVolume: errors name the files and values', () => {
  const z = (k: number): Vec3 => [0, 0, 2 * k];
  const ok = (n = 5, over: (k: number) => Partial<TestSliceSpec> = () => ({})) =>
    Array.from({ length: n }, (_, k) => slice(`s${k}.dcm`, z(k), k, over(k)));
  const cases: Array<{ name: string; slices: () => DicomSlice[]; code: string; msg: RegExp; opts?: object }> = [
    { name: 'MR', slices: () => ok(3, () => ({ modality: 'MR' })), code: 'NOT_CT', msg: /Modality is MR, not CT/ },
    {
      name: 'an SR object',
      slices: () => [...ok(3), parseDicom(writeTestDicom({ rows: 0, columns: 0, stored: new Int16Array(0), modality: 'SR', sopClassUid: '1.2.840.10008.5.1.4.1.1.88.22', noPixelData: true }), 'report.dcm')],
      code: 'NOT_IMAGE',
      msg: /report\.dcm: not an image \(Modality SR/,
    },
    { name: 'missing SeriesInstanceUID', slices: () => ok(3, () => ({ seriesInstanceUid: '' })), code: 'MISSING_UID', msg: /SeriesInstanceUID \(0020,000E\) in all 3 files/ },
    {
      name: 'two slices at one position',
      slices: () => [...ok(4), slice('dup.dcm', z(2), 9)],
      code: 'DUPLICATE_SLICE',
      msg: /(s2\.dcm and dup\.dcm|dup\.dcm and s2\.dcm) are at the same position \(4 mm/,
    },
    {
      name: 'a missing slice',
      slices: () => ok(6).filter((_, k) => k !== 3),
      code: 'MISSING_SLICE',
      msg: /about 1 slice\(s\) missing between s2\.dcm and s4\.dcm: gap 4 mm \(at 4\.\.8 mm.*spacing is 2 mm/,
    },
    {
      name: 'a second orientation',
      slices: () => [...ok(3), slice('sag.dcm', z(3), 0, { iop: [0, 1, 0, 0, 0, -1] })],
      code: 'MIXED_ORIENTATION',
      msg: /differs between s\d\.dcm \(1\\0\\0\\0\\1\\0\) and sag\.dcm \(0\\1\\0\\0\\0\\-1\)/,
    },
    {
      name: 'a different pixel spacing',
      slices: () => [...ok(3), slice('big.dcm', z(3), 0, { pixelSpacing: [0.9, 0.9] })],
      code: 'MIXED_SIZE',
      msg: /s\d\.dcm \(4x3, 0\.8\\0\.7 mm\) and big\.dcm \(4x3, 0\.9\\0\.9 mm\)/,
    },
    {
      name: 'gaps too large to interpolate',
      slices: () => [0, 1, 2, 3, 7, 11].map((zz, k) => slice(`g${k}.dcm`, [0, 0, zz], k)),
      code: 'UNEVEN_SPACING',
      msg: /spacing varies from 1 to 4 mm \(median 1 mm\); gaps over 3x/,
    },
    {
      name: 'uneven spacing when the caller refuses resampling',
      slices: () => [0, 3, 6, 9, 15, 21].map((zz, k) => slice(`e${k}.dcm`, [0, 0, zz], k)),
      code: 'UNEVEN_SPACING',
      msg: /from 3 to 6 mm/,
      opts: { uneven: 'error' },
    },
    {
      name: 'a multi-frame object',
      slices: () => { const xs = ok(3); xs[1] = { ...xs[1], numberOfFrames: 40 }; return xs; },
      code: 'BAD_ARGUMENT',
      msg: /s1\.dcm: multi-frame image \(NumberOfFrames 40/,
    },
    { name: 'one slice', slices: () => ok(1), code: 'TOO_FEW_SLICES', msg: /1 slice\(s\); at least 2/ },
    { name: 'no position', slices: () => [...ok(2), parseDicom(writeTestDicom({ rows: NY, columns: NX, stored: new Int16Array(12), iop: AXIAL }), 'nopos.dcm')], code: 'MISSING_TAG', msg: /nopos\.dcm: ImagePositionPatient \(0020,0032\) missing/ },
    {
      name: 'positions off one line',
      slices: () => [...ok(3), slice('off.dcm', [5, 0, 6], 3)],
      code: 'MIXED_ORIENTATION',
      msg: /do not lie on one line: .*off\.dcm|do not lie on one line/,
    },
  ];
  it.each(cases)('$name → $code', ({ slices, code, msg, opts }) => {
    const e = errorOf(() => planVolume(shuffled(slices()), opts));
    expect(e.code).toBe(code);
    expect(e.message).toMatch(msg);
  });

  it('missing UIDs load with allowMissingUids and say so in meta.warnings', () => {
    const plan = planVolume(ok(3, () => ({ studyInstanceUid: '', seriesInstanceUid: '', sopInstanceUid: '' })), { allowMissingUids: true, seriesId: 'synthetic-series-x' });
    expect(plan.warnings[0]).toMatch(/Missing UIDs: StudyInstanceUID \(0020,000D\) in all 3 files; SeriesInstanceUID.*SOPInstanceUID/);
    expect(plan.meta.syntheticUids).toBe(true);
    expect(plan.meta.seriesId).toBe('synthetic-series-x');
    expect(plan.meta.seriesInstanceUid).toBeUndefined();
  });
});

describe('groupSlices', () => {
  it('splits by UID and by geometry, and groups UID-less files under a stable synthetic id', () => {
    const a = Array.from({ length: 4 }, (_, k) => slice(`a${k}.dcm`, [0, 0, k], k, { seriesInstanceUid: '1.2.3.1' }));
    const scout = slice('scout.dcm', [0, 0, 0], 0, { seriesInstanceUid: '1.2.3.1', iop: [1, 0, 0, 0, 0, -1], imageType: 'ORIGINAL\\PRIMARY\\LOCALIZER' });
    const b = Array.from({ length: 3 }, (_, k) => slice(`b${k}.dcm`, [0, 0, k], k, { seriesInstanceUid: '1.2.3.2', seriesNumber: 2 }));
    const noUid = Array.from({ length: 2 }, (_, k) => slice(`n${k}.dcm`, [0, 0, k], k, { seriesInstanceUid: '', studyInstanceUid: '', sopInstanceUid: '' }));
    const groups = groupSlices(shuffled([...a, scout, ...b, ...noUid]));
    const summary = groups.map((g) => [g.id, g.slices.length, g.isLocalizer, g.isAxial, g.missingUids.length]);
    expect(summary).toContainEqual(['1.2.3.1', 4, false, true, 0]);
    expect(summary).toContainEqual(['1.2.3.1#2', 1, true, false, 0]);
    expect(summary).toContainEqual(['1.2.3.2', 3, false, true, 0]);
    const syn = groups.find((g) => g.id.startsWith('synthetic-series-'))!;
    expect(syn.slices.map((s) => s.source).sort()).toEqual(['n0.dcm', 'n1.dcm']);
    expect(syn.missingUids).toEqual(['StudyInstanceUID (0020,000D)', 'SeriesInstanceUID (0020,000E)', 'SOPInstanceUID (0008,0018)']);
    expect(syn.studyId).toMatch(/^synthetic-study-[0-9a-f]{8}$/);
    // Stable across calls (the local source relies on it between listSeries and loadSeries).
    expect(groupSlices(noUid.reverse())[0].id).toBe(syn.id);
    expect(groups).toHaveLength(4);
  });
});
