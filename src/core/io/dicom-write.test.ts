import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import dcmjs from 'dcmjs';
import { describe, expect, it } from 'vitest';
import { axisColumn, indexToWorld, type VolumeGeometry } from '../geometry';
import { generatePhantom } from '../phantom';
import { CT_IMAGE_STORAGE, ds, uid225, writeDicomSeries } from './dicom-write';

const DCIODVFY = '/usr/bin/dciodvfy';
const haveDciodvfy = fs.existsSync(DCIODVFY);
if (!haveDciodvfy) console.warn(`[dicom-write.test] skipping dciodvfy check: ${DCIODVFY} is not installed`);

type Ds = Record<string, unknown>;
function read(bytes: Uint8Array): Ds {
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const f = dcmjs.data.DicomMessage.readFile(buf);
  return { ...dcmjs.data.DicomMetaDictionary.naturalizeDataset(f.dict), _meta: dcmjs.data.DicomMetaDictionary.naturalizeDataset(f.meta) };
}
const nums = (v: unknown): number[] => (Array.isArray(v) ? v : [v]).map(Number);

describe('writeDicomSeries', () => {
  for (const variant of [
    { name: 'axial head-first', opts: { sliceOrder: 'head-first' as const } },
    { name: 'oblique feet-first', opts: { sliceOrder: 'feet-first' as const, oblique: true } },
  ]) {
    it(`${variant.name}: every file re-reads with the volume's geometry and HU`, () => {
      const r = generatePhantom({ seed: 21, dims: [48, 40, 6], spacing: [7.5, 7.5, 10], ...variant.opts });
      const g: VolumeGeometry = r.image.geometry;
      const files = writeDicomSeries(r.image, { uidSeed: 'test-21', seriesDescription: 'unit test' });
      expect(files.map((f) => f.name)).toEqual(['IM0001.dcm', 'IM0002.dcm', 'IM0003.dcm', 'IM0004.dcm', 'IM0005.dcm', 'IM0006.dcm']);
      const [nx, ny] = g.dimensions;
      const uids = new Set<string>();
      files.forEach((f, k) => {
        const d = read(f.bytes);
        expect((d._meta as Ds).TransferSyntaxUID).toBe('1.2.840.10008.1.2.1');
        expect((d._meta as Ds).MediaStorageSOPInstanceUID).toBe(d.SOPInstanceUID);
        expect(d.SOPClassUID).toBe(CT_IMAGE_STORAGE);
        expect(d.Modality).toBe('CT');
        expect(JSON.stringify(d.PatientName)).toContain('PHANTOM^PSOAS');
        expect(Number(d.InstanceNumber)).toBe(k + 1);
        expect(d.Rows).toBe(ny);
        expect(d.Columns).toBe(nx);
        const ipp = nums(d.ImagePositionPatient);
        const want = indexToWorld(g, [0, 0, k]);
        for (let a = 0; a < 3; a++) expect(Math.abs(ipp[a] - want[a])).toBeLessThan(1e-3);
        const iop = nums(d.ImageOrientationPatient);
        const c0 = axisColumn(g.direction, 0), c1 = axisColumn(g.direction, 1);
        for (let a = 0; a < 3; a++) {
          expect(Math.abs(iop[a] - c0[a])).toBeLessThan(1e-6);
          expect(Math.abs(iop[3 + a] - c1[a])).toBeLessThan(1e-6);
        }
        expect(nums(d.PixelSpacing)).toEqual([g.spacing[1], g.spacing[0]]);
        expect(Number(d.SliceThickness)).toBe(g.spacing[2]);
        expect(Number(d.SpacingBetweenSlices)).toBe(g.spacing[2]);
        expect(Number(d.RescaleIntercept)).toBe(-1024);
        expect(Number(d.RescaleSlope)).toBe(1);
        expect(d.PatientPosition).toBe(variant.opts.sliceOrder === 'head-first' ? 'HFS' : 'FFS');
        const px = new Uint16Array((d.PixelData as ArrayBuffer[])[0]);
        expect(px.length).toBe(nx * ny);
        const hu = r.image.data.subarray(k * nx * ny, (k + 1) * nx * ny);
        let mismatches = 0;
        for (let q = 0; q < px.length; q++) if (px[q] - 1024 !== hu[q]) mismatches++;
        expect(mismatches).toBe(0);
        uids.add(String(d.SOPInstanceUID));
        expect(String(d.SeriesInstanceUID)).toMatch(/^2\.25\.[1-9]\d*$/);
      });
      expect(uids.size).toBe(files.length);
    });
  }

  it('UIDs are deterministic in uidSeed, valid and at most 64 characters', () => {
    const r = generatePhantom({ seed: 2, dims: [16, 16, 2], noiseSd: 0 });
    const a = writeDicomSeries(r.image, { uidSeed: 7 }).map((f) => read(f.bytes));
    const b = writeDicomSeries(r.image, { uidSeed: 7 }).map((f) => read(f.bytes));
    const c = writeDicomSeries(r.image, { uidSeed: 8 }).map((f) => read(f.bytes));
    expect(a[1].SOPInstanceUID).toBe(b[1].SOPInstanceUID);
    expect(a[0].StudyInstanceUID).toBe(b[0].StudyInstanceUID);
    expect(c[0].StudyInstanceUID).not.toBe(a[0].StudyInstanceUID);
    for (const u of [a[0].StudyInstanceUID, a[0].SeriesInstanceUID, a[0].FrameOfReferenceUID, a[1].SOPInstanceUID, uid225()]) {
      expect(String(u)).toMatch(/^2\.25\.[1-9]\d*$/);
      expect(String(u).length).toBeLessThanOrEqual(64);
    }
  });

  it.each([
    [0, '0'],
    [-0, '0'],
    [2.5, '2.5'],
    [-1024, '-1024'],
    [0.96126169593831889, '0.96126169593832'],
    [-123.45678901234567, '-123.45678901235'],
    [1e-20, '0'],
  ])('ds(%s) = %s (≤ 16 characters)', (x, want) => {
    expect(ds(x)).toBe(want);
    expect(ds(x).length).toBeLessThanOrEqual(16);
  });

  it.skipIf(!haveDciodvfy)('dciodvfy reports no errors on a written slice (oblique)', () => {
    const r = generatePhantom({ seed: 3, dims: [32, 32, 3], oblique: true });
    const files = writeDicomSeries(r.image, { uidSeed: 'dciodvfy' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'psoas-dcm-'));
    try {
      const f = path.join(dir, files[1].name);
      fs.writeFileSync(f, files[1].bytes);
      // dciodvfy writes its findings to stderr and may exit non-zero; capture both streams whatever the status
      const both = execFileSync('bash', ['-c', `"${DCIODVFY}" "${f}" 2>&1 || true`], { encoding: 'utf8' });
      const errors = both.split('\n').filter((l) => /^Error/.test(l));
      expect(errors).toEqual([]);
      expect(both).toMatch(/CTImage/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects label maps and mismatched data', () => {
    const r = generatePhantom({ seed: 2, dims: [8, 8, 2], noiseSd: 0 });
    expect(() => writeDicomSeries(r.labels)).toThrow(/label map/);
    expect(() => writeDicomSeries({ ...r.image, data: new Int16Array(3) })).toThrow(/needs 128/);
  });
});
