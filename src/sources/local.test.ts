import { describe, it, expect } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createLocalSource, type LocalFile } from './local';
import { createSampleSource } from './sample';
import { writeTestDicom, type TestSliceSpec } from '../core/io/decode-testkit';
import { pickBestSeries } from './select';

const NX = 5;
const NY = 4;

function file(name: string, bytes: Uint8Array): LocalFile {
  return { name, bytes: async () => bytes };
}

/** A slice file of a little series: HU = 100 k + i (k along +z). */
function dicomFile(name: string, k: number, over: Partial<TestSliceSpec> = {}): LocalFile {
  const stored = new Int16Array(NX * NY);
  for (let p = 0; p < stored.length; p++) stored[p] = 100 * k + (p % NX);
  return file(name, writeTestDicom({ rows: NY, columns: NX, stored, ipp: [0, 0, 3 * k], iop: [1, 0, 0, 0, 1, 0], pixelSpacing: [0.7, 0.7], sliceThickness: 3, ...over }));
}

describe('local source: DICOM folder', () => {
  it('lists studies/series, ignores DICOMDIR and text files with warnings, loads the volume', async () => {
    const files = [
      ...[4, 0, 2, 1, 3].map((k) => dicomFile(`CT/IMG${k}`, k, { seriesInstanceUid: '1.2.3.9', convolutionKernel: 'B30f' })),
      ...[0, 1, 2].map((k) => dicomFile(`CT/BONE${k}`, k, { seriesInstanceUid: '1.2.3.8', convolutionKernel: 'B70f' })),
      file('DICOMDIR', new Uint8Array(200)),
      file('CT/readme.txt', new TextEncoder().encode('exported by PACS, do not edit this folder manually')),
    ];
    const src = createLocalSource(files);
    const studies = await src.searchStudies();
    expect(studies).toHaveLength(1);
    expect(studies[0]).toMatchObject({ studyInstanceUid: '1.2.826.0.1.3680043.9.7777.1', patientName: 'TEST^PATIENT', numberOfSeries: 2, numberOfInstances: 8, modalities: ['CT'] });
    expect(src.warnings.sort()).toEqual(['CT/readme.txt: not a DICOM file, ignored', 'DICOMDIR: DICOMDIR ignored (the image files themselves are read)']);
    const series = await src.listSeries(studies[0].studyInstanceUid);
    expect(series.map((s) => [s.seriesInstanceUid, s.numberOfInstances, s.convolutionKernel, s.isAxial])).toEqual(
      expect.arrayContaining([['1.2.3.9', 5, 'B30f', true], ['1.2.3.8', 3, 'B70f', true]]),
    );
    const best = pickBestSeries(series)!;
    expect(best.seriesInstanceUid).toBe('1.2.3.9');
    const progress: number[] = [];
    const vol = await src.loadSeries(best.studyInstanceUid, best.seriesInstanceUid, (p) => progress.push(p.fraction));
    expect(vol.geometry.dimensions).toEqual([NX, NY, 5]);
    expect(vol.geometry.spacing[2]).toBeCloseTo(3, 9);
    for (let k = 0; k < 5; k++) expect(vol.data[2 + NX * NY * k]).toBe(100 * k + 2);
    expect(vol.meta.source).toBe('CT');
    expect(vol.meta.warnings!.join(' ')).toMatch(/2 file\(s\) skipped/);
    expect(progress.at(-1)).toBe(1);
    // Query filtering (DICOM wildcards).
    expect(await src.searchStudies({ patientName: 'TEST*' })).toHaveLength(1);
    expect(await src.searchStudies({ patientName: 'OTHER*' })).toHaveLength(0);
  });

  it('loads files with EMPTY UIDs under a synthetic id, with a warning', async () => {
    const files = [0, 1, 2].map((k) => dicomFile(`anon/${k}.dcm`, k, { studyInstanceUid: '', seriesInstanceUid: '', sopInstanceUid: '' }));
    const src = createLocalSource(files);
    const [study] = await src.searchStudies();
    expect(study.studyInstanceUid).toMatch(/^synthetic-study-/);
    const [series] = await src.listSeries(study.studyInstanceUid);
    expect(series.seriesInstanceUid).toMatch(/^synthetic-series-/);
    const vol = await src.loadSeries(study.studyInstanceUid, series.seriesInstanceUid);
    expect(vol.meta.syntheticUids).toBe(true);
    expect(vol.meta.warnings![0]).toMatch(/Missing UIDs: StudyInstanceUID \(0020,000D\) in all 3 files/);
    expect(vol.data[NX * NY * 2]).toBe(200);
  });

  it('a corrupt (truncated) slice fails the load with CORRUPT_FILE naming it', async () => {
    const good = [0, 1, 3].map((k) => dicomFile(`s/${k}.dcm`, k));
    const whole = await (dicomFile('s/2.dcm', 2) as { bytes(): Promise<Uint8Array> }).bytes();
    const files = [...good, file('s/2.dcm', whole.subarray(0, whole.length - 10))];
    const src = createLocalSource(files);
    const [study] = await src.searchStudies();
    const [series] = await src.listSeries(study.studyInstanceUid);
    await expect(src.loadSeries(study.studyInstanceUid, series.seriesInstanceUid)).rejects.toMatchObject({
      code: 'CORRUPT_FILE',
      message: expect.stringMatching(/s\/2\.dcm/),
    });
  });
});

describe('sample source', () => {
  it('fetches index.json and the files listed in it, and loads them through the local path', async () => {
    const served = new Map<string, Uint8Array>();
    const files = [0, 1, 2, 3].map((k) => `slice${k}.dcm`);
    for (const [k, f] of files.entries()) served.set(`/sample/dicom/${f}`, await (dicomFile(f, k) as { bytes(): Promise<Uint8Array> }).bytes());
    const index = { files, studyInstanceUid: '1.2.826.0.1.3680043.9.7777.1', seriesInstanceUid: '1.2.826.0.1.3680043.9.7777.1.1', patientName: 'TEST^PATIENT', description: 'phantom', truth: { psoasLeftMl: 1 } };
    const requested: string[] = [];
    const fakeFetch = (async (url: string | URL | Request) => {
      const u = String(url);
      requested.push(u);
      if (u === '/sample/index.json') return new Response(JSON.stringify(index));
      const b = served.get(u);
      return b ? new Response(b as Uint8Array<ArrayBuffer>) : new Response('nope', { status: 404, statusText: 'Not Found' });
    }) as typeof fetch;
    const src = createSampleSource('/sample/', fakeFetch);
    expect(src.kind).toBe('sample');
    const [study] = await src.searchStudies();
    expect(study.studyInstanceUid).toBe(index.studyInstanceUid);
    const vol = await src.loadSeries(index.studyInstanceUid, index.seriesInstanceUid);
    expect(vol.geometry.dimensions).toEqual([NX, NY, 4]);
    expect(vol.data[NX * NY * 3 + 4]).toBe(304);
    expect((await src.getIndex()).truth).toEqual({ psoasLeftMl: 1 });
    // Each file fetched once although headers and pixels are read in two passes.
    expect(requested.filter((u) => u.endsWith('slice2.dcm'))).toHaveLength(1);
  });

  it('a missing index.json is PACS_HTTP_ERROR naming the URL', async () => {
    const src = createSampleSource('/sample', (async () => new Response('', { status: 404, statusText: 'Not Found' })) as typeof fetch);
    await expect(src.searchStudies()).rejects.toMatchObject({ code: 'PACS_HTTP_ERROR', message: expect.stringMatching(/\/sample\/index\.json answered HTTP 404/) });
  });
});

// Real anonymised Siemens files with EMPTY Study/Series/SOP Instance UIDs and SOP Class (JPEG 2000).
const REAL = path.resolve(__dirname, '../../../shared/data/real/abdomen-ct-dicom-20slices');
if (!existsSync(REAL)) console.warn(`local.test: skipping real-data test: ${REAL} is absent (shared test data not mounted)`);

describe.skipIf(!existsSync(REAL))('local source: real folder with empty UIDs', () => {
  it('loads the 20 slices as one volume with a synthetic id and a missing-UID warning', async () => {
    const files = readdirSync(REAL).map((f) => file(`abdomen/${f}`, new Uint8Array(readFileSync(path.join(REAL, f)))));
    const src = createLocalSource(files);
    const studies = await src.searchStudies();
    expect(studies).toHaveLength(1);
    const series = await src.listSeries(studies[0].studyInstanceUid);
    expect(series).toHaveLength(1);
    expect(series[0]).toMatchObject({ numberOfInstances: 20, convolutionKernel: 'Br38f\\3', isAxial: true, sliceThicknessMm: 3 });
    const t0 = performance.now();
    const vol = await src.loadSeries(studies[0].studyInstanceUid, series[0].seriesInstanceUid);
    const ms = performance.now() - t0;
    console.log(`real folder: 20 J2K slices loaded in ${ms.toFixed(0)} ms (${(ms / 20).toFixed(1)} ms/slice)`);
    expect(vol.geometry.dimensions).toEqual([512, 512, 20]);
    // Spacing from positions (2 mm apart) although SliceThickness says 3 mm.
    expect(vol.geometry.spacing).toEqual([0.9765625, 0.9765625, 2]);
    expect(vol.geometry.origin[2]).toBeCloseTo(-804.5, 6);
    expect(vol.meta.warnings!.join(' ')).toMatch(/Missing UIDs: StudyInstanceUID .* in all 20 files/);
    expect(vol.data).toBeInstanceOf(Int16Array);
  });
});

describe('local source: browser File objects', () => {
  it('reads headers of large Files from a 256 KB probe and pixels in full', async () => {
    // 400x400 16-bit = 320 KB of pixels after a ~1 KB header: larger than the probe.
    const R = 400;
    const stored = new Int16Array(R * R).map((_, p) => (p % 977) - 500);
    const mk = (k: number) =>
      new File([writeTestDicom({ rows: R, columns: R, stored, ipp: [0, 0, 5 * k], iop: [1, 0, 0, 0, 1, 0], pixelSpacing: [1, 1] }) as Uint8Array<ArrayBuffer>], `f${k}.dcm`);
    const files = [mk(0), mk(1), mk(2)];
    expect(files[0].size).toBeGreaterThan(256 * 1024);
    const src = createLocalSource(files);
    const [study] = await src.searchStudies();
    const [series] = await src.listSeries(study.studyInstanceUid);
    const vol = await src.loadSeries(study.studyInstanceUid, series.seriesInstanceUid);
    expect(vol.geometry.dimensions).toEqual([R, R, 3]);
    expect(vol.data[R * R * 2 + 12345]).toBe(stored[12345]);
  });
});
