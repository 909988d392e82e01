/**
 * Start, stop and fill a real Orthanc PACS (Debian's `Orthanc` binary + DICOMweb plugin) on 127.0.0.1.
 *
 * Used by the Playwright global setup/teardown (import the functions) and by developers as a CLI:
 *
 *   npx tsx scripts/orthanc.ts start  [--port 8042] [--fresh] [--upload DIR_OR_FILE ...]
 *   npx tsx scripts/orthanc.ts upload DIR_OR_FILE ... [--port 8042]
 *   npx tsx scripts/orthanc.ts status [--port 8042]
 *   npx tsx scripts/orthanc.ts stop   [--port 8042]
 *
 * The CLI defaults to port 8042 (what the dev/preview proxy targets by default) and keeps its storage in
 * .cache/orthanc/<port>/ so a developer's uploads survive restarts. Tests use port 8043 (env ORTHANC_TEST_PORT)
 * and a throw-away storage folder. Orthanc 1.10 facts (see shared/notes/toolchain.md): ready in ~0.25 s, stops
 * on SIGTERM in 3-4 s, must NOT get `DicomWeb.Host` (retrieve URLs would lose the port), has no CORS.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PsoasError } from '../src/core/errors';

export const ORTHANC_BINARY = process.env.ORTHANC_BINARY ?? 'Orthanc';
export const DICOMWEB_PLUGIN = process.env.ORTHANC_DICOMWEB_PLUGIN ?? '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
/** Port a developer's Orthanc (and the dev proxy's default DICOMWEB_URL) uses. */
export const DEFAULT_DEV_PORT = 8042;
/** Port the tests use, so they never touch a developer's Orthanc on 8042. */
export const DEFAULT_TEST_PORT = 8043;

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Where the CLI keeps state files (pid, port, storage) — .cache/ is gitignored. */
export const ORTHANC_STATE_DIR = path.join(REPO_ROOT, '.cache', 'orthanc');

/** ORTHANC_TEST_PORT or 8043. Throws on a value that is not a TCP port. */
export function testPort(env: NodeJS.ProcessEnv = process.env): number {
  return parsePort(env.ORTHANC_TEST_PORT ?? String(DEFAULT_TEST_PORT), 'ORTHANC_TEST_PORT');
}

export function parsePort(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new PsoasError('BAD_ARGUMENT', `${what} must be a TCP port 1..65535, got "${text}"`, text, what);
  }
  return n;
}

export interface OrthancOptions {
  /** HTTP port on 127.0.0.1. */
  port: number;
  /** Folder for config, storage, index and log. Created if missing. Default: a new temp folder. */
  workDir?: string;
  /** Delete workDir when stopped (default: true when workDir was a temp folder we created). */
  removeOnStop?: boolean;
  /** Milliseconds to wait for `/system` to answer (default 20 s). */
  readyTimeoutMs?: number;
  /** Keep running after this Node process exits (CLI use). Default false. */
  detached?: boolean;
}

export interface OrthancHandle {
  port: number;
  pid: number;
  /** REST root, e.g. http://127.0.0.1:8043 */
  url: string;
  /** DICOMweb root without trailing slash, e.g. http://127.0.0.1:8043/dicom-web */
  dicomwebUrl: string;
  workDir: string;
  logFile: string;
  /** SIGTERM, wait for exit (SIGKILL after 15 s), remove the work dir when it was temporary. */
  stop(): Promise<void>;
}

/** The JSON config; only the keys that matter for a local, unauthenticated, HTTP-only test PACS. */
export function orthancConfig(port: number, workDir: string): Record<string, unknown> {
  return {
    Name: `psoasview-test-${port}`,
    HttpPort: port,
    HttpServerEnabled: true,
    StorageDirectory: path.join(workDir, 'storage'),
    IndexDirectory: path.join(workDir, 'storage'),
    DicomServerEnabled: false,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    SslEnabled: false,
    StorageCompression: false,
    // Re-uploading the same instance (a rerun against a developer's Orthanc) replaces it instead of failing.
    OverwriteInstances: true,
    Plugins: [DICOMWEB_PLUGIN],
    // Deliberately no `Host`: with it Orthanc 1.10 writes retrieve URLs without the port.
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true },
  };
}

/**
 * What is listening on 127.0.0.1:port: 'free', 'orthanc' (answers GET /system like Orthanc), or 'other'.
 */
export async function probePort(port: number): Promise<'free' | 'orthanc' | 'other'> {
  const free = await new Promise<boolean>((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
  if (free) return 'free';
  const sys = await getSystem(`http://127.0.0.1:${port}`, 1500);
  return sys ? 'orthanc' : 'other';
}

interface OrthancSystem {
  Version: string;
  Name: string;
  DicomAet?: string;
}

async function getSystem(url: string, timeoutMs: number): Promise<OrthancSystem | null> {
  try {
    // A ref'd timer (AbortSignal.timeout is unref'd): a peer that accepts and never answers would otherwise
    // let a CLI process fall off the event loop with exit code 0 and no message.
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    try {
      const res = await fetch(`${url}/system`, { signal: ac.signal });
      if (!res.ok) return null;
      const body = (await res.json()) as Partial<OrthancSystem>;
      return typeof body.Version === 'string' ? (body as OrthancSystem) : null;
    } finally {
      clearTimeout(timer);
    }
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped) still answers kill(0); treat it as gone.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

function cmdlineOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Sends SIGTERM to an Orthanc we started and waits until it has exited (SIGKILL after timeoutMs). */
export async function stopOrthancPid(pid: number, timeoutMs = 15_000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const t0 = Date.now();
  while (isAlive(pid)) {
    if (Date.now() - t0 > timeoutMs) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      break;
    }
    await sleep(100);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface StateFile {
  pid: number;
  /** The Node process that started it (a test runner, or the CLI, which exits right away). */
  ownerPid: number;
  port: number;
  workDir: string;
  logFile: string;
  removeOnStop: boolean;
  startedAt: string;
}

function stateFilePath(port: number): string {
  return path.join(ORTHANC_STATE_DIR, `state-${port}.json`);
}

function readState(port: number): StateFile | null {
  try {
    return JSON.parse(fs.readFileSync(stateFilePath(port), 'utf8')) as StateFile;
  } catch {
    return null;
  }
}

/** True when the state file names a live Orthanc process that we started for this port. */
function stateIsOurLiveOrthanc(s: StateFile | null): s is StateFile {
  return !!s && isAlive(s.pid) && /orthanc/i.test(cmdlineOf(s.pid));
}

/**
 * Starts Orthanc on 127.0.0.1:port and resolves once `/system` answers.
 * If the port is held by an Orthanc this module started earlier (state file in .cache/orthanc, e.g. a test run
 * that was killed before its teardown), that one is stopped first. If anything else holds the port, it throws
 * instead of touching it.
 */
export async function startOrthanc(opts: OrthancOptions): Promise<OrthancHandle> {
  const { port } = opts;
  const url = `http://127.0.0.1:${port}`;
  let status = await probePort(port);
  if (status !== 'free') {
    const prev = readState(port);
    if (stateIsOurLiveOrthanc(prev) && prev.ownerPid !== process.pid && isAlive(prev.ownerPid)) {
      // Another test run in this checkout is using it right now: do not pull the PACS from under it.
      throw new PsoasError(
        'BAD_ARGUMENT',
        `Port ${port} is used by the test Orthanc of another run in progress (Orthanc pid ${prev.pid}, started by ` +
          `pid ${prev.ownerPid}); wait for it to finish or use another port (ORTHANC_TEST_PORT=<port>).`,
        port,
        url,
      );
    }
    if (stateIsOurLiveOrthanc(prev)) {
      // Left behind by a run that died before its teardown (or started with the CLI on this port): ours to stop.
      await stopOrthancPid(prev.pid);
      if (prev.removeOnStop) fs.rmSync(prev.workDir, { recursive: true, force: true });
      status = await probePort(port);
    }
  }
  if (status !== 'free') {
    const what = status === 'orthanc' ? 'another Orthanc (not started by this script)' : 'another program';
    throw new PsoasError(
      'BAD_ARGUMENT',
      `Port ${port} on 127.0.0.1 is already used by ${what}; refusing to start the test Orthanc there. ` +
        `Stop that program or choose another port (ORTHANC_TEST_PORT=<port> for tests, --port for the CLI).`,
      port,
      url,
    );
  }

  const tempDir = !opts.workDir;
  const workDir = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `psoasview-orthanc-${port}-`));
  const removeOnStop = opts.removeOnStop ?? tempDir;
  fs.mkdirSync(path.join(workDir, 'storage'), { recursive: true });
  const configFile = path.join(workDir, 'orthanc.json');
  fs.writeFileSync(configFile, JSON.stringify(orthancConfig(port, workDir), null, 2));
  const logFile = path.join(workDir, 'orthanc.log');
  const logFd = fs.openSync(logFile, 'a');

  const child = spawn(ORTHANC_BINARY, [configFile], {
    stdio: ['ignore', logFd, logFd],
    detached: opts.detached ?? false,
  });
  fs.closeSync(logFd);
  let spawnError: Error | null = null;
  let exitCode: number | null = null;
  child.on('error', (e) => (spawnError = e));
  child.on('exit', (code, signal) => (exitCode = code ?? (signal ? 128 : -1)));
  if (opts.detached) child.unref();

  const logTail = () => {
    try {
      return fs.readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  };

  const timeoutMs = opts.readyTimeoutMs ?? 20_000;
  const t0 = Date.now();
  for (;;) {
    if (spawnError) {
      const e = spawnError as NodeJS.ErrnoException;
      throw new PsoasError(
        'INTERNAL',
        e.code === 'ENOENT'
          ? `Orthanc binary "${ORTHANC_BINARY}" not found on PATH; install Debian packages orthanc and orthanc-dicomweb ` +
              `(bash scripts/install-system-deps.sh)`
          : `Could not start "${ORTHANC_BINARY}": ${e.message}`,
        ORTHANC_BINARY,
      );
    }
    if (exitCode !== null) {
      throw new PsoasError(
        'INTERNAL',
        `Orthanc exited with code ${exitCode} before answering ${url}/system; last log lines (${logFile}):\n${logTail()}`,
        exitCode,
        logFile,
      );
    }
    if (await getSystem(url, 1000)) break;
    if (Date.now() - t0 > timeoutMs) {
      await stopOrthancPid(child.pid ?? -1);
      throw new PsoasError(
        'PACS_UNREACHABLE',
        `Orthanc did not answer ${url}/system within ${timeoutMs} ms; last log lines (${logFile}):\n${logTail()}`,
        timeoutMs,
        url,
      );
    }
    await sleep(100);
  }

  // The DICOMweb plugin must be loaded too (a missing orthanc-dicomweb package only shows up as 404s later).
  const dw = await fetch(`${url}/dicom-web/studies?limit=1`, { headers: { Accept: 'application/dicom+json' } });
  if (!dw.ok) {
    await stopOrthancPid(child.pid!);
    throw new PsoasError(
      'PACS_HTTP_ERROR',
      `Orthanc runs but ${url}/dicom-web/studies answered HTTP ${dw.status}: is the DICOMweb plugin ` +
        `${DICOMWEB_PLUGIN} installed (Debian package orthanc-dicomweb)?`,
      dw.status,
      `${url}/dicom-web/studies`,
    );
  }

  const pid = child.pid!;
  const state: StateFile = {
    pid,
    ownerPid: process.pid,
    port,
    workDir,
    logFile,
    removeOnStop,
    startedAt: new Date().toISOString(),
  };
  fs.mkdirSync(ORTHANC_STATE_DIR, { recursive: true });
  fs.writeFileSync(stateFilePath(port), JSON.stringify(state, null, 2));

  return {
    port,
    pid,
    url,
    dicomwebUrl: `${url}/dicom-web`,
    workDir,
    logFile,
    stop: () => stopByState(state),
  };
}

async function stopByState(s: StateFile): Promise<void> {
  if (/orthanc/i.test(cmdlineOf(s.pid)) || !fs.existsSync('/proc')) await stopOrthancPid(s.pid);
  if (s.removeOnStop) fs.rmSync(s.workDir, { recursive: true, force: true });
  const cur = readState(s.port);
  if (cur && cur.pid === s.pid) fs.rmSync(stateFilePath(s.port), { force: true });
}

/**
 * Stops the Orthanc this module started on `port` (per its state file). Returns false when none was running.
 * With `onlyOwn`, leaves alone an Orthanc whose starting process is another live process (a concurrent run).
 */
export async function stopOrthancOnPort(port: number, opts: { onlyOwn?: boolean } = {}): Promise<boolean> {
  const s = readState(port);
  if (!s) return false;
  if (opts.onlyOwn && s.ownerPid !== process.pid && isAlive(s.ownerPid)) return false;
  const alive = stateIsOurLiveOrthanc(s);
  await stopByState(s);
  return alive;
}

export interface UploadedInstance {
  file: string;
  /** Orthanc's own ids (not DICOM UIDs). */
  id: string;
  parentStudy: string;
  parentSeries: string;
  status: 'Success' | 'AlreadyStored' | string;
}

/** All regular files under `p` (recursively) if it is a folder, else [p]. Sorted for reproducibility. */
export function listFiles(p: string): string[] {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return [p];
  const out: string[] = [];
  for (const name of fs.readdirSync(p).sort()) {
    if (name.startsWith('.')) continue;
    out.push(...listFiles(path.join(p, name)));
  }
  return out;
}

/** Uploads DICOM files with REST `POST /instances`, `concurrency` at a time. Throws naming the first bad file. */
export async function uploadFiles(orthancUrl: string, files: string[], concurrency = 4): Promise<UploadedInstance[]> {
  const results: UploadedInstance[] = new Array(files.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const n = next++;
      if (n >= files.length) return;
      const file = files[n];
      const body = fs.readFileSync(file);
      const endpoint = `${orthancUrl}/instances`;
      let res: Response;
      try {
        res = await fetch(endpoint, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body });
      } catch (e) {
        throw new PsoasError('PACS_UNREACHABLE', `Cannot reach ${endpoint} to upload ${file}: ${String(e)}`, endpoint, file);
      }
      const text = await res.text();
      if (!res.ok) {
        throw new PsoasError(
          'PACS_HTTP_ERROR',
          `Orthanc rejected ${file}: POST ${endpoint} answered HTTP ${res.status} ${text.slice(0, 300)}`,
          res.status,
          file,
        );
      }
      const j = JSON.parse(text) as { ID: string; ParentStudy: string; ParentSeries: string; Status: string };
      results[n] = { file, id: j.ID, parentStudy: j.ParentStudy, parentSeries: j.ParentSeries, status: j.Status };
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  return results;
}

/** DICOM StudyInstanceUID and SeriesInstanceUID of an Orthanc series id. */
export async function seriesUids(
  orthancUrl: string,
  orthancSeriesId: string,
): Promise<{ studyInstanceUid: string; seriesInstanceUid: string; instances: number }> {
  const u = `${orthancUrl}/series/${orthancSeriesId}`;
  const res = await fetch(u);
  if (!res.ok) throw new PsoasError('PACS_HTTP_ERROR', `GET ${u} answered HTTP ${res.status}`, res.status, u);
  const s = (await res.json()) as { ParentStudy: string; MainDicomTags: { SeriesInstanceUID: string }; Instances: string[] };
  const su = `${orthancUrl}/studies/${s.ParentStudy}`;
  const sr = await fetch(su);
  if (!sr.ok) throw new PsoasError('PACS_HTTP_ERROR', `GET ${su} answered HTTP ${sr.status}`, sr.status, su);
  const st = (await sr.json()) as { MainDicomTags: { StudyInstanceUID: string } };
  return {
    studyInstanceUid: st.MainDicomTags.StudyInstanceUID,
    seriesInstanceUid: s.MainDicomTags.SeriesInstanceUID,
    instances: s.Instances.length,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// CLI

function parseCli(argv: string[]): { cmd: string; port: number; fresh: boolean; paths: string[] } {
  const [cmd = 'help', ...rest] = argv;
  let port = DEFAULT_DEV_PORT;
  let fresh = false;
  const paths: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--port') port = parsePort(rest[++i] ?? '', '--port');
    else if (a.startsWith('--port=')) port = parsePort(a.slice(7), '--port');
    else if (a === '--fresh') fresh = true;
    else if (a === '--upload') continue; // the paths that follow are uploads
    else if (a.startsWith('--')) throw new PsoasError('BAD_ARGUMENT', `Unknown option ${a}`, a);
    else paths.push(a);
  }
  return { cmd, port, fresh, paths };
}

async function uploadPaths(url: string, paths: string[]): Promise<void> {
  for (const p of paths) {
    const files = listFiles(path.resolve(p));
    const up = await uploadFiles(url, files);
    const series = new Set(up.map((u) => u.parentSeries));
    console.log(`uploaded ${up.length} file(s) from ${p} (${series.size} series)`);
  }
}

async function cli(argv: string[]): Promise<number> {
  const { cmd, port, fresh, paths } = parseCli(argv);
  const url = `http://127.0.0.1:${port}`;
  switch (cmd) {
    case 'start': {
      const prev = readState(port);
      if (stateIsOurLiveOrthanc(prev)) {
        console.log(`Orthanc already running on ${url} (pid ${prev.pid}, storage ${prev.workDir})`);
      } else {
        const workDir = path.join(ORTHANC_STATE_DIR, String(port));
        if (fresh) fs.rmSync(workDir, { recursive: true, force: true });
        const h = await startOrthanc({ port, workDir, removeOnStop: false, detached: true });
        console.log(`Orthanc ${url} (pid ${h.pid}); DICOMweb ${h.dicomwebUrl}; storage ${workDir}; log ${h.logFile}`);
        if (port !== DEFAULT_DEV_PORT) console.log(`point the viewer at it: DICOMWEB_URL=${h.dicomwebUrl} npm start`);
      }
      await uploadPaths(url, paths);
      return 0;
    }
    case 'upload':
      if (paths.length === 0) throw new PsoasError('BAD_ARGUMENT', 'upload needs at least one file or folder', paths);
      await uploadPaths(url, paths);
      return 0;
    case 'status': {
      const s = readState(port);
      const probe = await probePort(port);
      console.log(
        stateIsOurLiveOrthanc(s)
          ? `running: ${url} pid ${s.pid} storage ${s.workDir}`
          : `not started by this script; port ${port} is ${probe}`,
      );
      return stateIsOurLiveOrthanc(s) ? 0 : 1;
    }
    case 'stop': {
      const stopped = await stopOrthancOnPort(port);
      console.log(stopped ? `stopped Orthanc on ${url}` : `no Orthanc started by this script on port ${port}`);
      return 0;
    }
    default:
      console.log(
        'usage: tsx scripts/orthanc.ts start|stop|status|upload [--port N] [--fresh] [FILES_OR_DIRS...]\n' +
          `  default port ${DEFAULT_DEV_PORT}; tests use ${DEFAULT_TEST_PORT} (ORTHANC_TEST_PORT)`,
      );
      return cmd === 'help' || cmd === '--help' ? 0 : 2;
  }
}

const invokedDirectly = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`orthanc: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
