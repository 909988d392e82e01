/**
 * The DICOMweb source against the real Debian Orthanc + DICOMweb plugin: the 20 real Siemens JPEG 2000 slices
 * (given UIDs with dcmodify, since Orthanc rejects empty ones) are uploaded, found with QIDO-RS, loaded with
 * WADO-RS frames (transfer-syntax=*, J2K passed through) and must equal the same files loaded locally.
 * Skips with a printed reason when Orthanc, dcmodify or ../shared/data is absent.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startOrthanc, uploadFiles, type OrthancHandle } from '../../scripts/orthanc';
import { copyWithUids, freePort, onPath } from '../../scripts/test-support';
import { createDicomWebSource } from './dicomweb';
import { createLocalSource } from './local';
import { pickBestSeries } from './select';

const REAL = path.resolve(__dirname, '../../../shared/data/real/abdomen-ct-dicom-20slices');
const missing = [!onPath('Orthanc') && 'the Orthanc binary', !onPath('dcmodify') && 'dcmodify (dcmtk)', !existsSync(REAL) && REAL].filter(Boolean);
if (missing.length) console.warn(`dicomweb.orthanc.test: skipping: ${missing.join(', ')} absent`);

const STUDY = '2.25.31415926535897932384626433832795';
const SERIES = '2.25.27182818284590452353602874713526';


describe.skipIf(missing.length > 0)('DICOMweb source against a real Orthanc', () => {
  let h: OrthancHandle | undefined;
  let dir = '';
  let files: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'psoas-orthanc-src-'));
    files = copyWithUids(REAL, dir, { study: STUDY, series: SERIES, patientName: 'ANON^REAL', patientId: 'REAL01' });
    h = await startOrthanc({ port: await freePort() });
    await uploadFiles(h.url, files);
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('finds, lists, picks and loads the J2K series; HU equal to the local load', async () => {
    const src = createDicomWebSource({ baseUrl: h!.dicomwebUrl });
    const studies = await src.searchStudies({ patientName: 'ANON*', modality: 'CT' });
    expect(studies.map((s) => s.studyInstanceUid)).toEqual([STUDY]);
    const series = await src.listSeries(STUDY);
    const best = pickBestSeries(series)!;
    expect(best).toMatchObject({ seriesInstanceUid: SERIES, numberOfInstances: 20, sliceThicknessMm: 3, convolutionKernel: 'Br38f\\3', isAxial: true });
    const t0 = performance.now();
    const remote = await src.loadSeries(STUDY, SERIES);
    const ms = performance.now() - t0;
    console.log(`orthanc: 20 J2K frames fetched + decoded in ${ms.toFixed(0)} ms`);
    const local = createLocalSource(files.map((f) => ({ name: path.basename(f), bytes: async () => new Uint8Array(readFileSync(f)) })));
    const [ls] = await local.searchStudies();
    const [lse] = await local.listSeries(ls.studyInstanceUid);
    const loc = await local.loadSeries(ls.studyInstanceUid, lse.seriesInstanceUid);
    expect(remote.geometry).toEqual(loc.geometry);
    expect(remote.data.length).toBe(512 * 512 * 20);
    let diffs = 0;
    for (let i = 0; i < remote.data.length; i++) if (remote.data[i] !== loc.data[i]) diffs++;
    expect(diffs).toBe(0);
    expect(remote.meta.seriesInstanceUid).toBe(SERIES);
    expect(remote.meta.warnings).toEqual([]);
  }, 60_000);

  it('an unknown study is STUDY_NOT_FOUND', async () => {
    const src = createDicomWebSource({ baseUrl: h!.dicomwebUrl });
    await expect(src.listSeries('2.25.1')).rejects.toMatchObject({ code: 'STUDY_NOT_FOUND' });
  });
});
