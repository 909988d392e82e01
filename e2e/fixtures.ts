/**
 * Typed access to what e2e/global-setup.ts prepared (written to e2e/.fixtures.json, gitignored):
 * the running test Orthanc, the phantom study and the real JPEG 2000 series uploaded to it.
 *
 * Specs call `loadFixtures()` (throws with a clear message if the global setup did not run) and use
 * `skipUnless…` helpers to skip — with a printed reason — what could not be prepared (e.g. ../shared/data absent).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TEST_PORT, testPort } from '../scripts/orthanc';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/**
 * Runs are isolated per test-Orthanc port: the default port (8043) uses .cache/e2e and e2e/.fixtures.json; a run
 * with ORTHANC_TEST_PORT=N (plus its own E2E_PORT) uses .cache/e2e-N and e2e/.fixtures-N.json, so two runs in one
 * checkout with different ports do not touch each other's files.
 */
const RUN_SUFFIX = testPort() === DEFAULT_TEST_PORT ? '' : `-${testPort()}`;
export const FIXTURES_FILE = path.join(REPO_ROOT, 'e2e', `.fixtures${RUN_SUFFIX}.json`);
/** Gitignored working folder of the e2e setup (phantom output, re-UID'd J2K copy, decoded references). */
export const E2E_CACHE_DIR = path.join(REPO_ROOT, '.cache', `e2e${RUN_SUFFIX}`);
/**
 * The shared real-CT folder (never copied into the repository): ../shared/data next to the checkout.
 * E2E_SHARED_DATA_DIR overrides it (e.g. pointing at a missing folder checks the skip-with-reason paths).
 */
export const SHARED_DATA_DIR = process.env.E2E_SHARED_DATA_DIR ?? path.resolve(REPO_ROOT, '..', 'shared', 'data');

/** Port of the preview server the tests use (playwright.config.ts webServer). */
export const E2E_PORT = Number(process.env.E2E_PORT ?? 4173);
/**
 * A second preview server of the same build whose /dicomweb proxy targets a closed port (127.0.0.1:9, nothing
 * listens there): the real "PACS down" path — the proxy answers 502 Bad Gateway — without mocking.
 */
export const E2E_DEAD_PACS_PORT = Number(process.env.E2E_DEAD_PACS_PORT ?? E2E_PORT + 1);
export const DEAD_PACS_DICOMWEB_URL = 'http://127.0.0.1:9/dicom-web';
export const deadPacsBaseUrl = (): string => `http://127.0.0.1:${E2E_DEAD_PACS_PORT}`;

export interface PhantomFixture {
  /** Output folder of `npm run phantom` (dicom/, image.nii.gz, labels.nii.gz, truth.json). */
  dir: string;
  dicomDir: string;
  files: string[];
  studyInstanceUid: string;
  seriesInstanceUid: string;
  /** As stored in Orthanc (DICOM PN, e.g. "PHANTOM^ABDOMEN"). */
  patientName: string;
  seed: number;
  preset: string;
  truthFile: string;
  /** Parsed truth.json as the generator wrote it (shape owned by src/cli/phantom.ts). */
  truth: unknown;
}

export interface J2kFixture {
  /** Folder with the re-UID'd copies (pixel data untouched: still JPEG 2000 lossless). */
  dir: string;
  /** Absolute paths of the uploaded files. */
  files: string[];
  /** The original files in ../shared/data they were copied from (same order). */
  sourceFiles: string[];
  studyInstanceUid: string;
  seriesInstanceUid: string;
  patientName: string;
  patientId: string;
  transferSyntaxUid: string;
}

export interface E2eFixtures {
  /** Orthanc REST root, e.g. http://127.0.0.1:8043 */
  orthancUrl: string;
  /** Orthanc DICOMweb root, e.g. http://127.0.0.1:8043/dicom-web (the preview server proxies /dicomweb here). */
  dicomwebUrl: string;
  orthancPort: number;
  orthancPid: number;
  phantom: PhantomFixture | null;
  /** Why `phantom` is null. */
  phantomSkipReason?: string;
  j2k: J2kFixture | null;
  /** Why `j2k` is null. */
  j2kSkipReason?: string;
  /** ../shared/data/real/abdomen-ct-3mm.nii.gz when present, else null. */
  realNifti: string | null;
  sharedDataPresent: boolean;
  sharedDataDir: string;
  preparedAt: string;
  /** Seconds each setup step took (phantom, orthanc, upload…), for the report. */
  timings: Record<string, number>;
}

/**
 * One e2e run at a time per checkout and port: such runs share .cache/e2e, e2e/.fixtures.json and the Orthanc.
 * The lock file holds the runner's pid; a lock whose process is gone is stale and taken over.
 */
export const RUN_LOCK_FILE = path.join(E2E_CACHE_DIR, 'run.lock');

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Creates the lock file atomically (O_EXCL); false when it already exists. */
function tryCreateLock(): boolean {
  try {
    fs.writeFileSync(RUN_LOCK_FILE, String(process.pid), { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** Takes the run lock for this process or throws naming the run that holds it. */
export function acquireRunLock(): void {
  fs.mkdirSync(E2E_CACHE_DIR, { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    if (tryCreateLock()) return;
    const holder = Number(fs.readFileSync(RUN_LOCK_FILE, 'utf8'));
    if (holder === process.pid) return;
    if (Number.isInteger(holder) && holder > 0 && pidAlive(holder)) {
      throw new Error(
        `Another e2e run (pid ${holder}) is in progress in this checkout (lock ${RUN_LOCK_FILE}); ` +
          'wait for it to finish, or run on other ports (ORTHANC_TEST_PORT=<n> E2E_PORT=<m>), which also ' +
          'gives the run its own .cache/e2e-<n> and e2e/.fixtures-<n>.json.',
      );
    }
    fs.rmSync(RUN_LOCK_FILE, { force: true }); // stale: its run died without a teardown
  }
  throw new Error(`could not take the e2e run lock ${RUN_LOCK_FILE}`);
}

/** Releases the lock if this process holds it (and then removes the fixtures file it wrote). */
export function releaseRunLock(opts: { removeFixtures: boolean }): void {
  let holder: number;
  try {
    holder = Number(fs.readFileSync(RUN_LOCK_FILE, 'utf8'));
  } catch {
    return;
  }
  if (holder !== process.pid) return;
  if (opts.removeFixtures) fs.rmSync(FIXTURES_FILE, { force: true });
  fs.rmSync(RUN_LOCK_FILE, { force: true });
}

let cached: E2eFixtures | null = null;

/** Reads e2e/.fixtures.json. Throws naming the file when the global setup has not written it. */
export function loadFixtures(): E2eFixtures {
  if (cached) return cached;
  if (!fs.existsSync(FIXTURES_FILE)) {
    throw new Error(
      `${FIXTURES_FILE} is missing: it is written by e2e/global-setup.ts. Run the e2e tests with ` +
        '`npx playwright test` (which runs the global setup), not a bare spec file.',
    );
  }
  cached = JSON.parse(fs.readFileSync(FIXTURES_FILE, 'utf8')) as E2eFixtures;
  return cached;
}

export function writeFixtures(f: E2eFixtures): void {
  fs.writeFileSync(FIXTURES_FILE, JSON.stringify(f, null, 2));
  cached = f;
}

/** The phantom fixture, or null with its reason printed once (use with `test.skip(!x, reason)`). */
export function phantomOrReason(): { phantom: PhantomFixture | null; reason: string } {
  const f = loadFixtures();
  const reason = f.phantom ? '' : `phantom study not available: ${f.phantomSkipReason ?? 'unknown reason'}`;
  if (!f.phantom) console.warn(`[e2e] skipping: ${reason}`);
  return { phantom: f.phantom, reason };
}

/** The J2K fixture, or null with its reason printed (use with `test.skip(!x, reason)`). */
export function j2kOrReason(): { j2k: J2kFixture | null; reason: string } {
  const f = loadFixtures();
  const reason = f.j2k ? '' : `real JPEG 2000 series not available: ${f.j2kSkipReason ?? 'unknown reason'}`;
  if (!f.j2k) console.warn(`[e2e] skipping: ${reason}`);
  return { j2k: f.j2k, reason };
}

/** Viewer URL for a study/series (OHIF-style query parameters). */
export function viewerUrl(studyInstanceUid: string, seriesInstanceUid?: string): string {
  const q = new URLSearchParams({ StudyInstanceUIDs: studyInstanceUid });
  if (seriesInstanceUid) q.set('SeriesInstanceUIDs', seriesInstanceUid);
  return `/viewer?${q.toString()}`;
}
