import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDicomWebSource, parseMultipart, transferSyntaxOfPart, FRAME_ACCEPT, type DicomJson } from './dicomweb';
import { encodeRleForTest } from '../core/io/decode-testkit';
import { TS } from '../core/io/dicom-read';
import { indexToWorld } from '../core/geometry';

const STUDY = '1.2.826.0.1.3680043.9.7777.10';
const SERIES = '1.2.826.0.1.3680043.9.7777.10.1';
const SCOUT_SERIES = '1.2.826.0.1.3680043.9.7777.10.2';
const NX = 6;
const NY = 5;
const NZ = 7;
const sop = (k: number) => `${SERIES}.${k}`;
/** HU at voxel (i,j,k) of the fake series. */
const huAt = (i: number, j: number, k: number) => -1000 + 100 * k + 10 * j + i;

function instanceJson(k: number): DicomJson {
  return {
    '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
    '00080018': { vr: 'UI', Value: [sop(k)] },
    '00080060': { vr: 'CS', Value: ['CT'] },
    '00080008': { vr: 'CS', Value: ['ORIGINAL', 'PRIMARY', 'AXIAL'] },
    '0008103E': { vr: 'LO', Value: ['Abdomen 2.0 B30f'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'PHANTOM^ONE' }] },
    '00100020': { vr: 'LO', Value: ['P1'] },
    '00180050': { vr: 'DS', Value: [2] },
    '00181210': { vr: 'SH', Value: ['B30f'] },
    '0020000D': { vr: 'UI', Value: [STUDY] },
    '0020000E': { vr: 'UI', Value: [SERIES] },
    '00200013': { vr: 'IS', Value: [NZ - k] },
    // Feet-first order on the server: k=0 is the highest slice; the loader must sort by position.
    '00200032': { vr: 'DS', Value: [-3, -2.5, 40 - 2 * k] },
    '00200037': { vr: 'DS', Value: [1, 0, 0, 0, 1, 0] },
    '00200052': { vr: 'UI', Value: ['1.2.3.4.5'] },
    '00280002': { vr: 'US', Value: [1] },
    '00280004': { vr: 'CS', Value: ['MONOCHROME2'] },
    '00280010': { vr: 'US', Value: [NY] },
    '00280011': { vr: 'US', Value: [NX] },
    '00280030': { vr: 'DS', Value: [0.5, 0.6] },
    '00280100': { vr: 'US', Value: [16] },
    '00280101': { vr: 'US', Value: [12] },
    '00280103': { vr: 'US', Value: [0] },
    '00281052': { vr: 'DS', Value: ['-1024'] },
    '00281053': { vr: 'DS', Value: ['1'] },
    '7FE00010': { vr: 'OW', BulkDataURI: 'http://x/bulk' },
  };
}

/** Stored (unsigned) values of the frame of instance k: HU + 1024. Server slice k sits at z = 40 - 2k. */
function storedFrame(k: number): Uint16Array {
  const out = new Uint16Array(NX * NY);
  const kk = NZ - 1 - k; // index along +z after sorting
  for (let j = 0; j < NY; j++) for (let i = 0; i < NX; i++) out[i + NX * j] = huAt(i, j, kk) + 1024;
  return out;
}

function multipart(parts: Array<{ type: string; body: Uint8Array }>, boundary: string): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: ${p.type}\r\n\r\n`), Buffer.from(p.body), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

let server: http.Server;
let base = '';
let deadBase = '';
const seenAccept: string[] = [];
let frameDelayMs = 0;
let lastQuery = '';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const p = url.pathname.replace(/^\/dicom-web/, '');
    const json = (data: unknown) => {
      res.writeHead(200, { 'Content-Type': 'application/dicom+json' });
      res.end(JSON.stringify(data));
    };
    if (p === '/studies') {
      if (url.searchParams.get('PatientID') === 'HTML') {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        return res.end('<html>login</html>');
      }
      if (url.searchParams.get('PatientID') === 'BOOM') {
        res.writeHead(500, 'Internal Server Error');
        return res.end('database is locked');
      }
      lastQuery = url.search;
      const name = url.searchParams.get('PatientName');
      if (name && !new RegExp('^' + name.replace(/\*/g, '.*') + '$').test('PHANTOM^ONE')) return json([]);
      return json([
        {
          '0020000D': { vr: 'UI', Value: [STUDY] },
          '00100010': { vr: 'PN', Value: [{ Alphabetic: 'PHANTOM^ONE' }] },
          '00100020': { vr: 'LO', Value: ['P1'] },
          '00080020': { vr: 'DA', Value: ['20260115'] },
          '00081030': { vr: 'LO', Value: ['CT ABDOMEN'] },
          '00080061': { vr: 'CS', Value: ['CT', 'SR'] },
          '00201206': { vr: 'IS', Value: [2] },
        },
      ]);
    }
    if (p === `/studies/${STUDY}/series`) {
      return json([
        { '0020000E': { vr: 'UI', Value: [SERIES] }, '00080060': { vr: 'CS', Value: ['CT'] }, '0008103E': { vr: 'LO', Value: ['Abdomen 2.0 B30f'] }, '00201209': { vr: 'IS', Value: [NZ] } },
        { '0020000E': { vr: 'UI', Value: [SCOUT_SERIES] }, '00080060': { vr: 'SR', Value: ['SR'] }, '0008103E': { vr: 'LO', Value: ['Dose report'] }, '00201209': { vr: 'IS', Value: [1] } },
      ]);
    }
    if (p.startsWith('/studies/') && p.endsWith('/series')) {
      res.writeHead(404, 'Not Found');
      return res.end();
    }
    if (p === `/studies/${STUDY}/series/${SERIES}/instances`) return json([{ '00080018': { vr: 'UI', Value: [sop(0)] } }]);
    if (p === `/studies/${STUDY}/series/${SERIES}/instances/${sop(0)}/metadata`) return json([instanceJson(0)]);
    if (p === `/studies/${STUDY}/series/${SERIES}/metadata`) return json(Array.from({ length: NZ }, (_, k) => instanceJson(k)));
    const m = new RegExp(`^/studies/${STUDY}/series/${SERIES}/instances/([0-9.]+)/frames/1$`).exec(p);
    if (m) {
      seenAccept.push(String(req.headers.accept));
      const k = Number(m[1].split('.').pop());
      const stored = storedFrame(k);
      // Odd instances come RLE-compressed, even ones native: the part's Content-Type must drive decoding.
      const part =
        k % 2
          ? { type: `application/octet-stream; transfer-syntax=${TS.RLE}`, body: encodeRleForTest(stored) }
          : { type: `application/octet-stream; transfer-syntax=${TS.EXPLICIT_LE}`, body: new Uint8Array(stored.buffer) };
      const send = () => {
        res.writeHead(200, { 'Content-Type': 'multipart/related; type="application/octet-stream"; boundary=b0undary-42' });
        res.end(multipart([part], 'b0undary-42'));
      };
      return frameDelayMs ? setTimeout(send, frameDelayMs) : send();
    }
    res.writeHead(404, 'Not Found');
    res.end('no route ' + p);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dicom-web`;
  // A port nobody listens on: open a server, note the port, close it.
  const tmp = http.createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  deadBase = `http://127.0.0.1:${(tmp.address() as AddressInfo).port}/dicom-web`;
  await new Promise<void>((r) => tmp.close(() => r()));
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

describe('DICOMweb source against a fake server', () => {
  it('searches studies with QIDO-RS and maps the DICOM JSON', async () => {
    const src = createDicomWebSource({ baseUrl: base + '/' });
    const studies = await src.searchStudies({ patientName: 'PHAN*', modality: 'CT' });
    expect(studies).toEqual([
      {
        studyInstanceUid: STUDY,
        patientName: 'PHANTOM^ONE',
        patientId: 'P1',
        studyDate: '20260115',
        studyDescription: 'CT ABDOMEN',
        modalities: ['CT', 'SR'],
        numberOfSeries: 2,
        numberOfInstances: undefined,
      },
    ]);
    expect(src.label).toBe(base);
    const q = new URLSearchParams(lastQuery);
    expect(q.get('ModalitiesInStudy')).toBe('CT');
    expect(q.getAll('includefield')).toContain('00080061');
    expect(await src.searchStudies({ patientName: 'NOBODY*' })).toEqual([]);
  });

  it('lists series with thickness, kernel and orientation from one instance', async () => {
    const src = createDicomWebSource({ baseUrl: base });
    const series = await src.listSeries(STUDY);
    expect(series).toEqual([
      expect.objectContaining({ seriesInstanceUid: SERIES, modality: 'CT', numberOfInstances: NZ, sliceThicknessMm: 2, convolutionKernel: 'B30f', isAxial: true }),
      expect.objectContaining({ seriesInstanceUid: SCOUT_SERIES, modality: 'SR', numberOfInstances: 1 }),
    ]);
  });

  it('loads a series: metadata + multipart frames (native and RLE), sorted by position, with progress', async () => {
    const src = createDicomWebSource({ baseUrl: base, concurrency: 3 });
    const progress: Array<[string, number]> = [];
    seenAccept.length = 0;
    const vol = await src.loadSeries(STUDY, SERIES, (p) => progress.push([p.stage, p.fraction]));
    expect(vol.geometry.dimensions).toEqual([NX, NY, NZ]);
    expect(vol.geometry.spacing).toEqual([0.6, 0.5, 2]);
    expect(vol.geometry.origin).toEqual([-3, -2.5, 40 - 2 * (NZ - 1)]);
    expect(vol.data).toBeInstanceOf(Int16Array);
    for (const [i, j, k] of [[0, 0, 0], [5, 4, 6], [2, 3, 1], [1, 1, 5]]) {
      expect(vol.data[i + NX * (j + NY * k)]).toBe(huAt(i, j, k));
    }
    expect(indexToWorld(vol.geometry, [0, 0, NZ - 1])[2]).toBeCloseTo(40, 9);
    expect(vol.meta.seriesInstanceUid).toBe(SERIES);
    expect(vol.meta.patientName).toBe('PHANTOM^ONE');
    expect(seenAccept).toHaveLength(NZ);
    expect(new Set(seenAccept)).toEqual(new Set([FRAME_ACCEPT]));
    expect(progress[0]).toEqual(['metadata', 0]);
    expect(progress.at(-1)).toEqual(['assemble', 1]);
    const fr = progress.map((p) => p[1]);
    expect(fr.every((f, i) => i === 0 || f >= fr[i - 1])).toBe(true);
  });

  it('honours an AbortSignal while frames are downloading', async () => {
    frameDelayMs = 50;
    try {
      const src = createDicomWebSource({ baseUrl: base, concurrency: 1 });
      const ac = new AbortController();
      setTimeout(() => ac.abort(new Error('cancelled by user')), 80);
      await expect(src.loadSeries(STUDY, SERIES, undefined, ac.signal)).rejects.toThrow('cancelled by user');
    } finally {
      frameDelayMs = 0;
    }
  });

  const errorCases = [
    { name: 'connection refused', run: () => createDicomWebSource({ baseUrl: deadBase }).searchStudies(), code: 'PACS_UNREACHABLE', msg: /Cannot reach the PACS at http:\/\/127\.0\.0\.1:\d+\/dicom-web\/studies.*ECONNREFUSED/ },
    { name: 'HTTP 500', run: () => createDicomWebSource({ baseUrl: base }).searchStudies({ patientId: 'BOOM' }), code: 'PACS_HTTP_ERROR', msg: /\/studies\?PatientID=BOOM.* answered HTTP 500 Internal Server Error: database is locked/ },
    { name: 'not JSON', run: () => createDicomWebSource({ baseUrl: base }).searchStudies({ patientId: 'HTML' }), code: 'PACS_BAD_RESPONSE', msg: /did not answer JSON \(starts with "<html>login/ },
    { name: 'unknown study (404)', run: () => createDicomWebSource({ baseUrl: base }).listSeries('9.9.9'), code: 'STUDY_NOT_FOUND', msg: /Study 9\.9\.9 was not found on http:.*HTTP 404/ },
    { name: 'unknown series metadata (404)', run: () => createDicomWebSource({ baseUrl: base }).loadSeries(STUDY, '9.9'), code: 'PACS_HTTP_ERROR', msg: /series\/9\.9\/metadata answered HTTP 404 Not Found/ },
  ];
  it.each(errorCases)('$name → $code', async ({ run, code, msg }) => {
    const err = await run().then(
      () => undefined,
      (e: unknown) => e as { code?: string; message?: string },
    );
    expect(err?.code).toBe(code);
    expect(err?.message).toMatch(msg);
  });
});

describe('multipart and media types', () => {
  it('splits parts with binary bodies containing CR LF and dashes', () => {
    const a = new Uint8Array([13, 10, 45, 45, 0, 255]);
    const b = new Uint8Array([1, 2, 3]);
    const body = multipart([{ type: 'image/jls', body: a }, { type: 'application/octet-stream; transfer-syntax=1.2.840.10008.1.2.4.90', body: b }], 'XyZ');
    const parts = parseMultipart(new Uint8Array(body), 'multipart/related; type="application/octet-stream"; boundary="XyZ"', 'u');
    expect(parts.map((p) => Array.from(p.body))).toEqual([Array.from(a), Array.from(b)]);
    expect(parts.map((p) => transferSyntaxOfPart(p.contentType))).toEqual([TS.JPEG_LS_LOSSLESS, TS.J2K_LOSSLESS]);
    expect(() => parseMultipart(new Uint8Array(4), 'application/json', 'http://pacs/x')).toThrow(/http:\/\/pacs\/x answered Content-Type "application\/json", expected multipart/);
  });
});
