/**
 * Browser side of `npm run bench` (scripts/bench.ts): the same phantom, model package and pipeline run in Debian's
 * Chromium (headless, cross-origin isolated → multithreaded onnxruntime-web WASM) through the app's inference
 * worker (`window.__psoasInference.createInferenceClient()`, installed when the page URL has `e2e` in its query).
 *
 * - The app: the production build in dist/ (`npm run build` first unless reuseDist), served by `vite preview`
 *   (its COOP/COEP headers are checked on the response; the page must report crossOriginIsolated).
 * - The model package and the phantom never pass through page.evaluate: they are answered by page.route from this
 *   process — the package at /bench-model/<file> (the bytes the Node row ran), the raw Int16 phantom at
 *   /bench-data/phantom.i16?part=N in 32 MiB parts that the page copies into one ArrayBuffer (a single 157 MB
 *   fulfill would be base64-encoded whole in the browser's network code).
 * - Memory: the resident set (VmRSS, /proc/<pid>/statm) of Chromium's processes, found as descendants of this
 *   process, sampled every 100 ms and at every stage change; "renderer" is the page's renderer process (the page's
 *   main thread AND its dedicated workers, i.e. the inference worker and ORT's WASM threads, all live in it), "all"
 *   sums every Chromium process (browser, GPU, network/storage utilities, zygotes, other renderers). At the end the
 *   renderer's VmHWM (the kernel's own peak for the process, not limited by the sampling rate) is read too.
 *   RSS counts shared pages (libraries, shared memory) in every process that maps them, so "all" over-counts.
 *
 * Stage timings are the worker's own (`result.timings`, performance.now() in the worker), like the Node row's.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Page } from '@playwright/test';
import type { VolumeGeometry } from '../src/core/geometry';
import type { ModelManifest } from '../src/pipeline/manifest';
import { freePort } from './test-support';
import { median } from './bench-common';

/** Same flags as the e2e tests (playwright.config.ts): Chromium runs as root here, nothing calls home. */
export const BROWSER_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const PART_BYTES = 32 * 1024 * 1024;
const MB = 1024 * 1024;
const PAGE_SIZE = 4096; // bytes per page in /proc/<pid>/statm (x86-64 / arm64 Linux default)

// ---------------------------------------------------------------------------------------------------------------
// /proc: Chromium's process tree and its resident memory

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** argv[0] (e.g. /usr/lib/chromium/chromium). */
  exe: string;
  /** Chromium's `--type=` (renderer, gpu-process, utility, zygote, …); 'browser' when absent. */
  type: string;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined; // the process exited between readdir and read
  }
}

/** ppid from /proc/<pid>/stat (the command name in parentheses may itself contain spaces or parentheses). */
export function parsePpid(stat: string): number {
  const tail = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(tail[1]); // tail[0] = state, tail[1] = ppid
}

/**
 * Executable and Chromium process type from /proc/<pid>/cmdline. Processes forked by Chromium's zygote rewrite their
 * command line as ONE string (spaces, no NULs), so both separators are accepted.
 */
export function parseCmdline(cmd: string): { exe: string; type: string } {
  const type = /(?:^|[\0 ])--type=([^\0 ]+)/.exec(cmd)?.[1] ?? 'browser';
  return { exe: cmd.split(/[\0 ]/)[0] ?? '', type };
}

/**
 * Every process whose chain of parents reaches `root` (not `root` itself). Linux only.
 */
export function descendants(root: number): ProcInfo[] {
  const all: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readText(`/proc/${name}/stat`);
    const cmd = readText(`/proc/${name}/cmdline`);
    if (stat === undefined || cmd === undefined) continue;
    all.push({ pid: Number(name), ppid: parsePpid(stat), ...parseCmdline(cmd) });
  }
  const children = new Map<number, ProcInfo[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const out: ProcInfo[] = [];
  const todo = [root];
  while (todo.length)
    for (const c of children.get(todo.pop()!) ?? []) {
      out.push(c);
      todo.push(c.pid);
    }
  return out;
}

/** Resident set size in bytes (/proc/<pid>/statm, 2nd field, pages); 0 when the process is gone. */
export function rssBytes(pid: number): number {
  const s = readText(`/proc/${pid}/statm`);
  return s ? Number(s.split(' ')[1]) * PAGE_SIZE : 0;
}

/** VmHWM (peak resident set, bytes) from /proc/<pid>/status; 0 when the process is gone. */
export function hwmBytes(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readText(`/proc/${pid}/status`) ?? '');
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * Samples Chromium's processes (descendants of `root` whose executable's name contains "chrom") every `everyMs`;
 * the process list is re-read every 10th sample (renderers come and go), RSS at every sample.
 *
 * Chromium keeps several renderers (the page's, a spare one, headless UI): the PAGE's renderer is taken to be the
 * renderer with the highest peak — the one holding the CT volume, the worker and ORT's WASM heap, hundreds of MB
 * above the others at any real size. `pageRenderer()` names it; per-stage figures are looked up for it afterwards.
 */
export function startChromiumSampler(root = process.pid, everyMs = 100) {
  let procs: ProcInfo[] = [];
  let n = 0;
  let peakAll = 0;
  const peakByPid = new Map<number, number>();
  const sample = (): Map<number, number> => {
    if (n++ % 10 === 0) procs = descendants(root).filter((p) => /chrom/i.test(path.basename(p.exe)));
    const byPid = new Map<number, number>();
    let all = 0;
    for (const p of procs) {
      const r = rssBytes(p.pid);
      all += r;
      if (p.type !== 'renderer') continue;
      byPid.set(p.pid, r);
      peakByPid.set(p.pid, Math.max(peakByPid.get(p.pid) ?? 0, r));
    }
    peakAll = Math.max(peakAll, all);
    return byPid;
  };
  const timer = setInterval(sample, everyMs);
  timer.unref();
  const pageRenderer = () => [...peakByPid].reduce<[number, number]>((best, e) => (e[1] > best[1] ? e : best), [0, 0])[0];
  return {
    /** Takes a sample now (with a fresh process list); renderer pid → RSS bytes. */
    sample: () => {
      n = 0;
      return sample();
    },
    pageRenderer,
    /** Peak sampled RSS of the page's renderer, its VmHWM (read while alive), and the peak sum over all processes. */
    peaks: () => {
      const pid = pageRenderer();
      return { pid, renderer: peakByPid.get(pid) ?? 0, rendererHwm: hwmBytes(pid), all: peakAll };
    },
    processes: () => procs.map((p) => ({ pid: p.pid, type: p.type, rss_mb: Math.round(rssBytes(p.pid) / MB) })),
    stop: () => clearInterval(timer),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The app: build (or reuse) dist/ and serve it with vite preview

/** Newest modification time (ms) of the files under `dir` (recursive). */
function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Builds dist/ (`npm run build`), or reuses it; says when a reused dist/ is older than src/. */
export function prepareDist(repo: string, reuse: boolean): { built: boolean; build_ms?: number; warning?: string } {
  const index = path.join(repo, 'dist', 'index.html');
  if (reuse && existsSync(index)) {
    const stale = newestMtime(path.join(repo, 'src')) > statSync(index).mtimeMs;
    return { built: false, warning: stale ? 'dist/ is older than the newest file in src/: the browser ran the code of the last build' : undefined };
  }
  console.error(`building the app (npm run build${reuse ? '; --reuse-dist given but there is no dist/index.html' : ''}) ...`);
  const t = performance.now();
  // Vite's warnings (externalised Node modules of the codecs, chunk notes) are not the bench's business: shown
  // only when the build fails.
  const r = spawnSync('npm', ['run', 'build'], { cwd: repo, encoding: 'utf8', maxBuffer: 64 * MB });
  if (r.status !== 0) throw new Error(`npm run build failed (exit ${r.status}):\n${`${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n')}`);
  return { built: true, build_ms: Math.round(performance.now() - t) };
}

/** `vite preview` of dist/ on a free port; resolves once it answers, with the isolation headers it sent. */
export async function startPreview(repo: string): Promise<{ url: string; headers: Record<string, string | null>; stop: () => void }> {
  const port = await freePort();
  const vite = path.join(repo, 'node_modules', 'vite', 'bin', 'vite.js');
  // Own process group (detached), so stop() ends vite and nothing else.
  const child: ChildProcess = spawn(process.execPath, [vite, 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: repo,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d) => (err += d));
  const stop = () => {
    try {
      if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  };
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`vite preview exited (${child.exitCode}): ${err.trim()}`);
    try {
      const r = await fetch(`${url}/`);
      if (r.ok) {
        const h = (k: string) => r.headers.get(k);
        return { url, headers: { 'cross-origin-opener-policy': h('cross-origin-opener-policy'), 'cross-origin-embedder-policy': h('cross-origin-embedder-policy') }, stop };
      }
    } catch {
      /* not listening yet */
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  stop();
  throw new Error(`vite preview did not answer on ${url} within 30 s`);
}

// ---------------------------------------------------------------------------------------------------------------
// The run

export interface BrowserRunInput {
  repo: string;
  reuseDist: boolean;
  /** Raw Int16 phantom (little endian, i fastest) and its geometry. */
  phantomFile: string;
  geometry: VolumeGeometry;
  /** The model package the Node row ran: manifest and ONNX bytes (served as they are). */
  manifest: ModelManifest;
  manifestBytes: Buffer;
  onnxBytes: Buffer;
  chromiumPath: string;
  /** Whole run, page load to result (ms). */
  timeoutMs: number;
}

export interface BrowserWasmResult {
  chromium: string;
  app: { built: boolean; build_ms?: number; warning?: string; headers: Record<string, string | null> };
  cross_origin_isolated: boolean;
  hardware_concurrency: number;
  threads: number;
  ort_version: string;
  backend: string;
  fallback_reason?: string;
  model: { name: string; version: string; sha256: string; verified: boolean };
  /** ms: manifest, onnx (download), verify (sha256), session (creation) and their sum. */
  model_load_ms: Record<string, number>;
  input_fetch_ms: number;
  /** The worker's result.timings: per stage and total (ms). */
  timings_ms: Record<string, number>;
  segment_wall_ms: number;
  tiles: number;
  tile_size: number[];
  tile_ms_median: number;
  tile_ms_first: number;
  mask_voxels: Record<string, number>;
  memory: {
    measured: string;
    renderer_pid: number;
    page_idle_renderer_mb: number;
    renderer_mb_after: Record<string, number>;
    peak_renderer_rss_sampled_mb: number;
    peak_renderer_hwm_mb: number;
    peak_all_chromium_rss_sampled_mb: number;
    processes_at_end: Array<{ pid: number; type: string; rss_mb: number }>;
  };
}

/** Answers /bench-model/<file> with the package bytes and /bench-data/phantom.i16?part=N with 32 MiB slices. */
async function routeBenchFiles(page: Page, input: BrowserRunInput): Promise<{ parts: number; bytes: number }> {
  const files = new Map<string, Buffer>([
    ['manifest.json', input.manifestBytes],
    [input.manifest.onnx ?? 'model.onnx', input.onnxBytes],
  ]);
  await page.route(
    (u) => u.pathname.startsWith('/bench-model/'),
    (route) => {
      const file = decodeURIComponent(new URL(route.request().url()).pathname.slice('/bench-model/'.length));
      const body = files.get(file);
      if (!body) return route.fulfill({ status: 404, body: `no ${file} in the bench package` });
      return route.fulfill({ status: 200, contentType: file.endsWith('.json') ? 'application/json' : 'application/octet-stream', body });
    },
  );
  const bytes = statSync(input.phantomFile).size;
  const parts = Math.ceil(bytes / PART_BYTES);
  await page.route(
    (u) => u.pathname === '/bench-data/phantom.i16',
    (route) => {
      const part = Number(new URL(route.request().url()).searchParams.get('part'));
      if (!Number.isInteger(part) || part < 0 || part >= parts) return route.fulfill({ status: 404, body: `no part ${part}` });
      const len = Math.min(PART_BYTES, bytes - part * PART_BYTES);
      const buf = Buffer.alloc(len);
      const fd = openSync(input.phantomFile, 'r');
      try {
        readSync(fd, buf, 0, len, part * PART_BYTES);
      } finally {
        closeSync(fd);
      }
      return route.fulfill({ status: 200, contentType: 'application/octet-stream', body: buf });
    },
  );
  return { parts, bytes };
}

/** What the page hands back (plain data; the mask itself stays in the page, only its label counts come back). */
interface PageResult {
  load: { backend: string; fallbackReason?: string; verified: boolean; sha256: string; name: string; version: string; numThreads: number; timings: Record<string, number> };
  info: { ortVersion: string; crossOriginIsolated: boolean; hardwareConcurrency: number; numThreads: number };
  fetchMs: number;
  timings: Record<string, number>;
  tiles: number[];
  tileSize: number[];
  backend: string;
  fallbackReason?: string;
  wallMs: number;
  counts: Record<string, number>;
}

export async function runBrowserWasm(input: BrowserRunInput): Promise<BrowserWasmResult> {
  const app = prepareDist(input.repo, input.reuseDist);
  const server = await startPreview(input.repo);
  // Loaded here, not at the top: the /proc helpers above are unit-tested under vitest without Playwright.
  const { chromium } = await import('@playwright/test');
  const sampler = startChromiumSampler();
  const browser = await chromium.launch({ executablePath: input.chromiumPath, headless: true, args: BROWSER_ARGS });
  try {
    const page = await browser.newPage({ baseURL: server.url });
    page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
    const { parts, bytes } = await routeBenchFiles(page, input);
    const marks: Array<[string, Map<number, number>]> = [];
    await page.exposeFunction('__benchMark', (stage: string) => {
      marks.push([stage, sampler.sample()]);
    });
    await page.goto('/?e2e=bench');
    await page.waitForFunction(() => !!window.__psoasInference, undefined, { timeout: 60_000 });
    const idle = sampler.sample();

    const run = page.evaluate(
      async ({ geometry, parts, bytes, labels }) => {
        const mark = (window as unknown as { __benchMark(s: string): Promise<void> }).__benchMark;
        const h = window.__psoasInference!;
        const c = h.createInferenceClient();
        const load = await c.loadModel({ url: '/bench-model/manifest.json' }, { preferred: 'wasm', cache: false });
        const info = await c.backendInfo();
        await mark('model_load');
        // The phantom: parts copied into one buffer, which is then transferred (not copied) to the worker.
        let t = performance.now();
        const buf = new ArrayBuffer(bytes);
        const u8 = new Uint8Array(buf);
        for (let p = 0, off = 0; p < parts; p++) {
          const r = await fetch(`/bench-data/phantom.i16?part=${p}`);
          if (!r.ok) throw new Error(`phantom part ${p}: HTTP ${r.status}`);
          const b = new Uint8Array(await r.arrayBuffer());
          u8.set(b, off);
          off += b.length;
        }
        const fetchMs = performance.now() - t;
        await mark('input');
        let stage = '';
        t = performance.now();
        const r = await c.segment({ geometry, data: new Int16Array(buf), units: 'HU', meta: { source: 'bench phantom' } }, {}, (p) => {
          if (p.stage !== stage) {
            if (stage) void mark(stage);
            stage = p.stage;
          }
        });
        const wallMs = performance.now() - t;
        if (stage) await mark(stage);
        const counts: Record<string, number> = {};
        const n = new Float64Array(256);
        const m = r.mask.data;
        for (let v = 0; v < m.length; v++) n[m[v]]++;
        for (const [v, name] of Object.entries(labels)) if (Number(v) !== 0) counts[name] = n[Number(v)];
        const { tiles, tileSize, ...timings } = r.timings;
        c.terminate();
        return {
          load: { backend: load.backend, fallbackReason: load.fallbackReason, verified: load.verified, sha256: load.sha256, name: load.name, version: load.version, numThreads: load.numThreads, timings: load.timings },
          info: { ortVersion: info.ortVersion, crossOriginIsolated: info.crossOriginIsolated, hardwareConcurrency: info.hardwareConcurrency, numThreads: info.numThreads },
          fetchMs,
          timings: timings as Record<string, number>,
          tiles,
          tileSize: tileSize ? [...tileSize] : [],
          backend: r.backend,
          fallbackReason: r.fallbackReason,
          wallMs,
          counts,
        };
      },
      { geometry: input.geometry, parts, bytes, labels: input.manifest.output.labels },
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`browser run did not finish within ${input.timeoutMs / 1000} s`)), input.timeoutMs);
    });
    const r: PageResult = await Promise.race([run, timeout]).finally(() => clearTimeout(timer));
    const peak = sampler.peaks();
    const procs = sampler.processes();
    const mbOf = (m: Map<number, number>) => Math.round((m.get(peak.pid) ?? 0) / MB);
    const lt = r.load.timings;
    return {
      chromium: browser.version(),
      app: { ...app, headers: server.headers },
      cross_origin_isolated: r.info.crossOriginIsolated,
      hardware_concurrency: r.info.hardwareConcurrency,
      threads: r.load.numThreads,
      ort_version: r.info.ortVersion,
      backend: r.backend,
      ...(r.fallbackReason ? { fallback_reason: r.fallbackReason } : {}),
      model: { name: r.load.name, version: r.load.version, sha256: r.load.sha256, verified: r.load.verified },
      model_load_ms: { ...lt, total: (lt.manifest ?? 0) + (lt.onnx ?? 0) + (lt.verify ?? 0) + (lt.session ?? 0) },
      input_fetch_ms: r.fetchMs,
      timings_ms: r.timings,
      segment_wall_ms: r.wallMs,
      tiles: r.tiles.length,
      tile_size: r.tileSize,
      tile_ms_median: Math.round(median(r.tiles) * 10) / 10,
      tile_ms_first: Math.round((r.tiles[0] ?? 0) * 10) / 10,
      mask_voxels: r.counts,
      memory: {
        measured:
          "VmRSS from /proc every 100 ms and at each stage change; renderer = the page's renderer process (page + inference worker + ORT WASM threads), VmHWM = the kernel's peak for it; all = sum over every Chromium process",
        renderer_pid: peak.pid,
        page_idle_renderer_mb: mbOf(idle),
        renderer_mb_after: Object.fromEntries(marks.map(([stage, m]) => [stage, mbOf(m)])),
        peak_renderer_rss_sampled_mb: Math.round(peak.renderer / MB),
        peak_renderer_hwm_mb: Math.round(peak.rendererHwm / MB),
        peak_all_chromium_rss_sampled_mb: Math.round(peak.all / MB),
        processes_at_end: procs,
      },
    };
  } finally {
    sampler.stop();
    await browser.close();
    server.stop();
  }
}
