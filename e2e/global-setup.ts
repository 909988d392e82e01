/**
 * Playwright global setup: prepares a real PACS for the e2e tests.
 *
 * 1. Generates a phantom CT study with `src/cli/phantom.ts` into .cache/e2e/phantom-<preset>-seed<N>/
 *    (reused while the generator's sources are unchanged: keyed by a hash of them).
 * 2. Starts Orthanc on 127.0.0.1:ORTHANC_TEST_PORT (8043) with throw-away storage.
 * 3. Uploads the phantom DICOM.
 * 4. Copies the real JPEG 2000 series from ../shared/data, gives it valid UIDs, the CT Image Storage SOP class and
 *    a searchable patient name with dcmtk's `dcmodify` (pixel data is NOT re-encoded), and uploads it.
 * 5. Writes e2e/.fixtures.json (see e2e/fixtures.ts).
 *
 * Note: Playwright starts the `webServer` (build + vite preview) BEFORE this global setup (plugins first, then
 * globalSetup). That order is fine: the preview server only proxies /dicomweb to Orthanc when a request comes,
 * and its target (DICOMWEB_URL) is fixed from ORTHANC_TEST_PORT in playwright.config.ts.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { FullConfig } from '@playwright/test';
import { listFiles, seriesUids, startOrthanc, testPort, uploadFiles } from '../scripts/orthanc';
import {
  acquireRunLock,
  E2E_CACHE_DIR,
  REPO_ROOT,
  SHARED_DATA_DIR,
  writeFixtures,
  type E2eFixtures,
  type J2kFixture,
  type PhantomFixture,
} from './fixtures';

const run = promisify(execFile);

export const PHANTOM_SEED = Number(process.env.E2E_PHANTOM_SEED ?? 42);
export const PHANTOM_PRESET = process.env.E2E_PHANTOM_PRESET ?? 'abdomen';
const J2K_SOURCE = path.join(SHARED_DATA_DIR, 'real', 'abdomen-ct-dicom-20slices');
const REAL_NIFTI = path.join(SHARED_DATA_DIR, 'real', 'abdomen-ct-3mm.nii.gz');
export const J2K_PATIENT_NAME = 'J2K^REAL ABDOMEN';
export const J2K_PATIENT_ID = 'PSOASVIEW-J2K-20';
const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

/** Deterministic DICOM UID under the 2.25 (UUID-derived) root: 2.25.<128-bit integer from sha256(key)>. */
export function uidFromKey(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex').slice(0, 32);
  return `2.25.${BigInt(`0x${hex}`).toString(10)}`;
}

/** sha256 over the contents of every file under the given paths (missing paths count as empty). */
function hashSources(paths: string[]): string {
  const h = createHash('sha256');
  for (const p of paths) {
    if (!fs.existsSync(p)) continue;
    for (const f of listFiles(p)) {
      if (f.endsWith('.test.ts')) continue;
      h.update(path.relative(REPO_ROOT, f));
      h.update(fs.readFileSync(f));
    }
  }
  return h.digest('hex');
}

function seconds(t0: number): number {
  return Math.round((performance.now() - t0) / 100) / 10;
}

async function preparePhantom(): Promise<{ dir: string; files: string[] } | { reason: string }> {
  const cli = path.join(REPO_ROOT, 'src', 'cli', 'phantom.ts');
  if (!fs.existsSync(cli)) return { reason: `the phantom generator ${path.relative(REPO_ROOT, cli)} does not exist yet` };
  const dir = path.join(E2E_CACHE_DIR, `phantom-${PHANTOM_PRESET}-seed${PHANTOM_SEED}`);
  const key = hashSources([cli, path.join(REPO_ROOT, 'src', 'core')]);
  const stamp = path.join(dir, '.source-hash');
  const dicomDir = path.join(dir, 'dicom');
  const upToDate =
    fs.existsSync(stamp) &&
    fs.readFileSync(stamp, 'utf8') === key &&
    fs.existsSync(path.join(dir, 'truth.json')) &&
    fs.existsSync(dicomDir);
  if (!upToDate) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    const args = [cli, '--out', dir, '--seed', String(PHANTOM_SEED), '--preset', PHANTOM_PRESET];
    try {
      await run(tsx, args, { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`phantom generation failed: tsx ${args.join(' ')}\n${err.stderr ?? err.message}`, { cause: e });
    }
    fs.writeFileSync(stamp, key);
  }
  const files = listFiles(dicomDir).filter((f) => f.endsWith('.dcm'));
  if (files.length === 0) throw new Error(`phantom generator wrote no .dcm files into ${dicomDir}`);
  return { dir, files };
}

/**
 * Copies the anonymised J2K series and gives it what a PACS needs: Study/Series/SOP Instance UIDs, the CT Image
 * Storage SOP class (dcmodify updates the matching File Meta tags 0002,0002/0002,0003 itself), a patient name/ID.
 */
async function prepareJ2k(): Promise<Omit<J2kFixture, 'studyInstanceUid' | 'seriesInstanceUid'> & {
  studyUid: string;
  seriesUid: string;
}> {
  const dir = path.join(E2E_CACHE_DIR, 'j2k');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const sourceFiles = listFiles(J2K_SOURCE);
  if (sourceFiles.length === 0) throw new Error(`no files in ${J2K_SOURCE}`);
  const studyUid = uidFromKey('psoasview-e2e-j2k-study');
  const seriesUid = uidFromKey('psoasview-e2e-j2k-series');
  const files: string[] = [];
  // dcmodify is ~20 ms per file; two at a time on this 2-core machine.
  const tasks = sourceFiles.map((src) => async () => {
    const dst = path.join(dir, `${path.basename(src)}.dcm`);
    fs.copyFileSync(src, dst);
    const sop = uidFromKey(`psoasview-e2e-j2k-sop-${path.basename(src)}`);
    await run('dcmodify', [
      '-nb', // no .bak files
      '-i', `(0020,000D)=${studyUid}`,
      '-i', `(0020,000E)=${seriesUid}`,
      '-i', `(0008,0018)=${sop}`,
      '-i', `(0008,0016)=${CT_IMAGE_STORAGE}`,
      '-i', `(0010,0010)=${J2K_PATIENT_NAME}`,
      '-i', `(0010,0020)=${J2K_PATIENT_ID}`,
      '-i', '(0008,1030)=Real CT JPEG 2000 lossless (TotalSegmentator sample)',
      '-i', '(0020,0010)=J2K20',
      '-i', '(0020,0011)=1',
      dst,
    ]);
    return dst;
  });
  for (let i = 0; i < tasks.length; i += 2) files.push(...(await Promise.all(tasks.slice(i, i + 2).map((t) => t()))));
  // Check one file: the UIDs and meta header are right and the pixel data is still encapsulated JPEG 2000.
  const { stdout } = await run('dcmdump', ['+P', '0002,0002', '+P', '0002,0003', '+P', '0002,0010', '+P', '0008,0018', '+P', '7fe0,0010', files[0]]);
  const sop0 = uidFromKey(`psoasview-e2e-j2k-sop-${path.basename(sourceFiles[0])}`);
  const ok =
    /\(0002,0002\) UI =CTImageStorage/.test(stdout) &&
    stdout.includes(`(0002,0003) UI [${sop0}]`) &&
    /\(0002,0010\) UI =JPEG2000LosslessOnly/.test(stdout) &&
    /\(7fe0,0010\) OB \(PixelSequence/.test(stdout);
  if (!ok) throw new Error(`dcmodify output ${files[0]} is not as expected:\n${stdout}`);
  return {
    dir,
    files,
    sourceFiles,
    studyUid,
    seriesUid,
    patientName: J2K_PATIENT_NAME,
    patientId: J2K_PATIENT_ID,
    transferSyntaxUid: '1.2.840.10008.1.2.4.90',
  };
}

async function patientNameOfStudy(orthancUrl: string, studyInstanceUid: string): Promise<string> {
  const u = `${orthancUrl}/dicom-web/studies?StudyInstanceUID=${encodeURIComponent(studyInstanceUid)}&includefield=00100010`;
  const res = await fetch(u, { headers: { Accept: 'application/dicom+json' } });
  if (!res.ok) throw new Error(`QIDO ${u} answered HTTP ${res.status}`);
  const rows = (await res.json()) as Array<Record<string, { Value?: Array<{ Alphabetic?: string }> }>>;
  return rows[0]?.['00100010']?.Value?.[0]?.Alphabetic ?? '';
}

export default async function globalSetup(_config: FullConfig): Promise<void> {
  const timings: Record<string, number> = {};
  // Before touching .cache/e2e: a second run in the same checkout would delete the first one's files.
  acquireRunLock();
  const sharedDataPresent = fs.existsSync(SHARED_DATA_DIR);

  // The phantom (CPU-bound) before Orthanc, so a generator failure leaves no server behind.
  let t = performance.now();
  const ph = await preparePhantom();
  timings.phantom = seconds(t);

  t = performance.now();
  const orthanc = await startOrthanc({ port: testPort() });
  timings.orthancStart = seconds(t);

  try {
    let phantom: PhantomFixture | null = null;
    let phantomSkipReason: string | undefined;
    if ('reason' in ph) {
      phantomSkipReason = ph.reason;
      console.warn(`[e2e setup] phantom study skipped: ${ph.reason}`);
    } else {
      t = performance.now();
      const up = await uploadFiles(orthanc.url, ph.files);
      timings.phantomUpload = seconds(t);
      const seriesIds = [...new Set(up.map((u) => u.parentSeries))];
      if (seriesIds.length !== 1) throw new Error(`phantom upload made ${seriesIds.length} series, expected 1`);
      const uids = await seriesUids(orthanc.url, seriesIds[0]);
      const truthFile = path.join(ph.dir, 'truth.json');
      phantom = {
        dir: ph.dir,
        dicomDir: path.join(ph.dir, 'dicom'),
        files: ph.files,
        studyInstanceUid: uids.studyInstanceUid,
        seriesInstanceUid: uids.seriesInstanceUid,
        patientName: await patientNameOfStudy(orthanc.url, uids.studyInstanceUid),
        seed: PHANTOM_SEED,
        preset: PHANTOM_PRESET,
        truthFile,
        truth: fs.existsSync(truthFile) ? (JSON.parse(fs.readFileSync(truthFile, 'utf8')) as unknown) : null,
      };
    }

    let j2k: J2kFixture | null = null;
    let j2kSkipReason: string | undefined;
    if (!sharedDataPresent) {
      j2kSkipReason = `${SHARED_DATA_DIR} is absent (a clone outside the project workspace); the real-CT tests need it`;
    } else if (!fs.existsSync(J2K_SOURCE)) {
      j2kSkipReason = `${J2K_SOURCE} is absent`;
    }
    if (j2kSkipReason) {
      console.warn(`[e2e setup] JPEG 2000 series skipped: ${j2kSkipReason}`);
    } else {
      t = performance.now();
      const prep = await prepareJ2k();
      timings.j2kPrepare = seconds(t);
      t = performance.now();
      const up = await uploadFiles(orthanc.url, prep.files);
      timings.j2kUpload = seconds(t);
      const uids = await seriesUids(orthanc.url, up[0].parentSeries);
      if (uids.seriesInstanceUid !== prep.seriesUid || uids.instances !== prep.files.length) {
        throw new Error(
          `J2K upload: Orthanc holds series ${uids.seriesInstanceUid} with ${uids.instances} instances, ` +
            `expected ${prep.seriesUid} with ${prep.files.length}`,
        );
      }
      const { studyUid, seriesUid, ...rest } = prep;
      j2k = { ...rest, studyInstanceUid: studyUid, seriesInstanceUid: seriesUid };
    }

    const fixtures: E2eFixtures = {
      orthancUrl: orthanc.url,
      dicomwebUrl: orthanc.dicomwebUrl,
      orthancPort: orthanc.port,
      orthancPid: orthanc.pid,
      phantom,
      phantomSkipReason,
      j2k,
      j2kSkipReason,
      realNifti: fs.existsSync(REAL_NIFTI) ? REAL_NIFTI : null,
      sharedDataPresent,
      sharedDataDir: SHARED_DATA_DIR,
      preparedAt: new Date().toISOString(),
      timings,
    };
    writeFixtures(fixtures);
    console.log(
      `[e2e setup] Orthanc ${orthanc.url} pid ${orthanc.pid}; phantom ${phantom ? phantom.files.length + ' files' : 'skipped'}; ` +
        `J2K ${j2k ? j2k.files.length + ' files' : 'skipped'}; timings (s) ${JSON.stringify(timings)}`,
    );
  } catch (e) {
    await orthanc.stop();
    throw e;
  }
}
