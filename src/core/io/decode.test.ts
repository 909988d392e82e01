import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseDicom, TS } from './dicom-read';
import { decodePixels, decodeStoredValues, rescaleToHu } from './decode';
import { decodeRle } from './decode-rle';
import { writeTestDicom, encodeRleForTest, testImage } from './decode-testkit';
import { isPsoasError } from '../errors';

const ROWS = 37; // odd sizes catch row/column mix-ups and odd-length padding
const COLS = 53;
const hu = testImage(ROWS, COLS, 7);
const INTERCEPT = -1024;
/** Stored values for unsigned 12-bit data with intercept -1024 (the common CT layout). */
const storedU = new Uint16Array(hu.length);
for (let i = 0; i < hu.length; i++) storedU[i] = Math.max(0, hu[i] - INTERCEPT);
const huU = new Int16Array(storedU.length);
for (let i = 0; i < huU.length; i++) huU[i] = storedU[i] + INTERCEPT;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('decodePixels: native transfer syntaxes written in-process', () => {
  const cases: Array<{ name: string; ts: string; stored: Int16Array | Uint16Array; intercept: number; expectHu: Int16Array }> = [
    { name: 'explicit LE, signed', ts: TS.EXPLICIT_LE, stored: hu, intercept: 0, expectHu: hu },
    { name: 'implicit LE, signed', ts: TS.IMPLICIT_LE, stored: hu, intercept: 0, expectHu: hu },
    { name: 'explicit BE, signed', ts: TS.EXPLICIT_BE, stored: hu, intercept: 0, expectHu: hu },
    { name: 'deflated LE, unsigned + intercept', ts: TS.DEFLATED_LE, stored: storedU, intercept: INTERCEPT, expectHu: huU },
    { name: 'explicit BE, unsigned + intercept', ts: TS.EXPLICIT_BE, stored: storedU, intercept: INTERCEPT, expectHu: huU },
  ];
  it.each(cases)('$name', async ({ ts, stored, intercept, expectHu }) => {
    const bytes = writeTestDicom({ rows: ROWS, columns: COLS, stored, intercept, transferSyntaxUid: ts });
    const s = parseDicom(bytes, 'mem.dcm');
    expect(s.transferSyntaxUid).toBe(ts);
    expect([s.rows, s.columns]).toEqual([ROWS, COLS]);
    const out = await decodePixels(s);
    expect(out).toBeInstanceOf(Int16Array);
    expect(Array.from(out)).toEqual(Array.from(expectHu));
  });

  it('RLE lossless (own decoder) round-trips signed and unsigned 16-bit and 8-bit', async () => {
    for (const stored of [hu, storedU, new Uint8Array(storedU.map((v) => v & 0xff))]) {
      const frame = encodeRleForTest(stored);
      const s = parseDicom(writeTestDicom({ rows: ROWS, columns: COLS, stored, encapsulatedFrame: frame, transferSyntaxUid: TS.RLE }), 'rle.dcm');
      expect(s.pixelData?.kind).toBe('encapsulated');
      expect(Array.from(await decodeStoredValues(s))).toEqual(Array.from(stored));
    }
  });

  it('HTJ2K lossless (.201), encoded in-process with the OpenJPH encoder, signed and unsigned', async () => {
    const { createRequire } = await import('node:module');
    const req = createRequire(import.meta.url);
    const factory = (await import(req.resolve('@cornerstonejs/codec-openjph/wasmjs'))).default as (o: object) => Promise<Record<string, new () => {
      getDecodedBuffer(info: object): Uint8Array; encode(): void; getEncodedBuffer(): Uint8Array; setQuality(lossless: boolean, q: number): void;
    }>>;
    const mod = await factory({ print: () => {} });
    for (const [stored, signed, want] of [[hu, true, hu], [storedU, false, huU]] as const) {
      const enc = new mod.HTJ2KEncoder();
      enc.setQuality(true, 0);
      const buf = enc.getDecodedBuffer({ width: COLS, height: ROWS, bitsPerSample: 16, componentCount: 1, isSigned: signed, isUsingColorTransform: false });
      buf.set(new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength));
      enc.encode();
      const frame = new Uint8Array(enc.getEncodedBuffer());
      const s = parseDicom(
        writeTestDicom({ rows: ROWS, columns: COLS, stored, intercept: signed ? 0 : INTERCEPT, encapsulatedFrame: frame, transferSyntaxUid: TS.HTJ2K_LOSSLESS }),
        'ht.dcm',
      );
      expect(Array.from(await decodePixels(s))).toEqual(Array.from(want));
    }
  });

  it('masks bits above BitsStored and sign-extends 12-bit signed data', async () => {
    // 12-bit signed values with garbage (an overlay bit) in bit 15 and bits 12..14 set by sign extension.
    const vals = [-2048, -1, 0, 1, 2047, -1000];
    const stored = new Uint16Array(vals.map((v) => ((v & 0xfff) | 0x8000) & 0xffff));
    const s = parseDicom(writeTestDicom({ rows: 1, columns: vals.length, stored, bitsStored: 12, pixelRepresentation: 1 }), 'mask.dcm');
    expect(Array.from(await decodePixels(s))).toEqual(vals);
  });

  it('gives Float32 HU for a fractional slope and Int16 otherwise', () => {
    expect(rescaleToHu(new Uint16Array([0, 10]), 0.5, -1024)).toEqual(new Float32Array([-1024, -1019]));
    expect(rescaleToHu(new Uint16Array([0, 10]), 1, -1024)).toEqual(new Int16Array([-1024, -1014]));
    // Out of int16 range after rescale → Float32.
    expect(rescaleToHu(new Uint16Array([65535]), 1, 0)).toBeInstanceOf(Float32Array);
  });

  it('throws UNSUPPORTED_TRANSFER_SYNTAX naming the UID and file', async () => {
    const s = parseDicom(
      writeTestDicom({ rows: 2, columns: 2, stored: new Int16Array(4), encapsulatedFrame: new Uint8Array(8), transferSyntaxUid: '1.2.840.10008.1.2.4.100' }),
      'video.dcm',
    );
    await expect(decodePixels(s)).rejects.toMatchObject({ code: 'UNSUPPORTED_TRANSFER_SYNTAX', value: '1.2.840.10008.1.2.4.100' });
    await expect(decodePixels(s)).rejects.toThrow(/video\.dcm.*1\.2\.840\.10008\.1\.2\.4\.100/);
  });

  it('rejects truncated and non-DICOM input with CORRUPT_FILE / NOT_DICOM', () => {
    const bytes = writeTestDicom({ rows: ROWS, columns: COLS, stored: hu });
    const cut = bytes.subarray(0, bytes.length - 100);
    const err = (() => { try { parseDicom(cut, 'cut.dcm'); } catch (e) { return e; } })();
    expect(isPsoasError(err) && err.code).toBe('CORRUPT_FILE');
    expect(String((err as Error).message)).toMatch(/cut\.dcm/);
    expect(() => parseDicom(new TextEncoder().encode('hello, this is a text file with some words'), 'notes.txt')).toThrow(/notes\.txt is not a DICOM/);
  });

  it('decodeRle rejects a frame whose segment count does not match', () => {
    const frame = encodeRleForTest(hu);
    expect(() => decodeRle(frame, ROWS, COLS, 8, 1, 'x.dcm')).toThrow(/x\.dcm: RLE header says 2 segments/);
  });
});

// ---- Independent encoders (dcmtk, gdcm): transcode an explicit-LE file and compare with what we wrote ----
const tools = ['dcmconv', 'dcmcrle', 'dcmcjpeg', 'dcmcjpls', 'dcmodify', 'gdcmconv'];
const haveTools = tools.every((t) => {
  try { execFileSync('which', [t], { stdio: 'ignore' }); return true; } catch { return false; }
});
if (!haveTools) console.warn(`decode.test: skipping cross-codec tests: need ${tools.join(', ')} (Debian dcmtk, libgdcm-tools)`);

describe.skipIf(!haveTools)('decodePixels: files transcoded by dcmtk/gdcm', () => {
  let dir = '';
  beforeAll(() => { dir = mkdtempSync(path.join(tmpdir(), 'psoas-decode-')); });
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  const cases: Array<{ name: string; ts: string; cmd: string[]; unsigned?: boolean; tolerance?: number }> = [
    { name: 'RLE (dcmcrle)', ts: TS.RLE, cmd: ['dcmcrle'] },
    { name: 'explicit BE (dcmconv +tb)', ts: TS.EXPLICIT_BE, cmd: ['dcmconv', '+tb'] },
    { name: 'deflated (dcmconv +td)', ts: TS.DEFLATED_LE, cmd: ['dcmconv', '+td'] },
    { name: 'JPEG lossless SV1 .70 (dcmcjpeg +e1)', ts: TS.JPEG_LOSSLESS_SV1, cmd: ['dcmcjpeg', '+e1'] },
    { name: 'JPEG lossless .57 (dcmcjpeg +el)', ts: TS.JPEG_LOSSLESS, cmd: ['dcmcjpeg', '+el'] },
    { name: 'JPEG-LS lossless .80 (dcmcjpls)', ts: TS.JPEG_LS_LOSSLESS, cmd: ['dcmcjpls', '+el'] },
    { name: 'JPEG-LS lossless .80, unsigned 12-bit', ts: TS.JPEG_LS_LOSSLESS, cmd: ['dcmcjpls', '+el'], unsigned: true },
    { name: 'JPEG-LS near-lossless .81 (NEAR 2)', ts: TS.JPEG_LS_NEAR, cmd: ['dcmcjpls', '+en'], unsigned: true, tolerance: 2 },
    { name: 'JPEG 2000 lossless .90 (gdcmconv -K)', ts: TS.J2K_LOSSLESS, cmd: ['gdcmconv', '-K'] },
    { name: 'JPEG 2000 lossless .90, unsigned 12-bit', ts: TS.J2K_LOSSLESS, cmd: ['gdcmconv', '-K'], unsigned: true },
  ];
  it.each(cases)('$name', async ({ ts, cmd, unsigned, tolerance }) => {
    const src = path.join(dir, `in-${cmd.join('')}-${unsigned ? 'u' : 's'}.dcm`);
    const dst = src.replace('in-', 'out-');
    const stored = unsigned ? storedU : hu;
    writeFileSync(src, writeTestDicom({ rows: ROWS, columns: COLS, stored, intercept: unsigned ? INTERCEPT : 0, bitsStored: unsigned ? 12 : 16 }));
    execFileSync(cmd[0], [...cmd.slice(1), src, dst], { stdio: 'pipe' });
    const s = parseDicom(readFileSync(dst), 'out.dcm');
    expect(s.transferSyntaxUid).toBe(ts);
    const out = await decodePixels(s);
    const want = unsigned ? huU : hu;
    if (tolerance) {
      const d = maxAbsDiff(out, want);
      expect(d).toBeLessThanOrEqual(tolerance);
      expect(d).toBeGreaterThan(0); // it really was lossy
    } else {
      expect(Array.from(out)).toEqual(Array.from(want));
    }
  });

  it('JPEG baseline .50 8-bit (dcmcjpeg +eb, lossy): within 8 grey levels', async () => {
    const stored8 = new Uint8Array(hu.length);
    for (let i = 0; i < hu.length; i++) stored8[i] = Math.max(0, Math.min(255, (hu[i] + 1100) >> 4));
    const src = path.join(dir, 'in8.dcm');
    const dst = path.join(dir, 'out8.dcm');
    writeFileSync(src, writeTestDicom({ rows: ROWS, columns: COLS, stored: stored8, bitsAllocated: 8, pixelRepresentation: 0 }));
    execFileSync('dcmcjpeg', ['+eb', '+q', '95', src, dst], { stdio: 'pipe' });
    const s = parseDicom(readFileSync(dst), 'out8.dcm');
    expect(s.transferSyntaxUid).toBe(TS.JPEG_BASELINE);
    const out = await decodePixels(s);
    // Mean error is small even though the image is noisy; the max is bounded by JPEG quality 95.
    let sum = 0;
    for (let i = 0; i < out.length; i++) sum += Math.abs(out[i] - stored8[i]);
    expect(sum / out.length).toBeLessThan(3);
  });
});

// ---- Real data: 20 Siemens slices in JPEG 2000 lossless, checked against gdcmconv --raw ----
const REAL = path.resolve(__dirname, '../../../../shared/data/real/abdomen-ct-dicom-20slices');
const haveReal = existsSync(REAL);
const haveGdcm = haveTools;
if (!haveReal) console.warn(`decode.test: skipping real-data test: ${REAL} is absent (shared test data not mounted)`);
else if (!haveGdcm) console.warn('decode.test: skipping real-data test: gdcmconv (libgdcm-tools) is not installed');

describe.skipIf(!haveReal || !haveGdcm)('real Siemens JPEG 2000 lossless slices', () => {
  let dir = '';
  beforeAll(() => { dir = mkdtempSync(path.join(tmpdir(), 'psoas-real-')); });
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('decode to exactly the HU of gdcmconv --raw at every pixel, with timing', async () => {
    const files = readdirSync(REAL).sort();
    expect(files.length).toBe(20);
    let ms = 0;
    let compared = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const f of files) {
      const bytes = readFileSync(path.join(REAL, f));
      const t0 = performance.now();
      const s = parseDicom(bytes, f);
      const ours = await decodePixels(s);
      ms += performance.now() - t0;
      expect(s.transferSyntaxUid).toBe(TS.J2K_LOSSLESS);
      expect(s.studyInstanceUid).toBe('');
      expect(s.sopClassUid).toBe('1.2.840.10008.5.1.4.1.1.2'); // empty (0008,0016): falls back to MediaStorageSOPClassUID
      // Independent decoder: gdcm writes the same file with native little-endian pixels. gdcm refuses to write
      // empty SOP Class/Instance UIDs, so first give a copy UIDs with dcmodify (header only; pixels untouched).
      const copy = path.join(dir, f);
      writeFileSync(copy, bytes);
      execFileSync('dcmodify', ['-nb', '-m', '(0008,0016)=1.2.840.10008.5.1.4.1.1.2', '-m', '(0008,0018)=1.2.826.0.1.3680043.9.7777.99', copy], { stdio: 'pipe' });
      const raw = path.join(dir, f + '.raw.dcm');
      execFileSync('gdcmconv', ['--raw', copy, raw], { stdio: 'pipe' });
      const r = parseDicom(readFileSync(raw), raw);
      expect(r.transferSyntaxUid).toBe(TS.EXPLICIT_LE);
      expect(r.pixelData?.kind).toBe('native');
      const pd = r.pixelData!;
      const dv = new DataView(pd.bytes.buffer, pd.bytes.byteOffset, pd.bytes.byteLength);
      const n = r.rows * r.columns;
      expect(ours.length).toBe(n);
      // Every pixel (262144 per slice): stored (unsigned 16-bit, BitsStored 12) * slope + intercept.
      for (let i = 0; i < n; i++) {
        const storedValue = r.pixelRepresentation === 1 ? dv.getInt16(2 * i, true) : dv.getUint16(2 * i, true);
        const want = storedValue * r.rescaleSlope + r.rescaleIntercept;
        if (ours[i] !== want) throw new Error(`${f}: pixel ${i} (col ${i % r.columns}, row ${Math.floor(i / r.columns)}): ours ${ours[i]} HU, gdcm ${want} HU`);
        if (want < min) min = want;
        if (want > max) max = want;
      }
      compared += n;
    }
    console.log(`real J2K: ${files.length} slices, ${compared} pixels equal to gdcm; HU ${min}..${max}; ${(ms / files.length).toFixed(1)} ms/slice (parse + decode)`);
    expect(min).toBeLessThan(-900);
    expect(max).toBeGreaterThan(200);
  });
});
