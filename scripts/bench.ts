/**
 * `npm run bench [-- options]`: stage timings and peak memory of the segmentation pipeline on a large synthetic CT
 * (default 512x512x300 phantom from src/core/phantom) in Node (onnxruntime-node) and in the browser (onnxruntime-web
 * WASM in Debian's Chromium, through the app's inference worker: scripts/bench-browser.ts), with the model package
 * in models/ (or the tiny test model when there is none — then the figures say so), plus a per-tile forward-pass
 * comparison against PyTorch CPU on the same network, tile size and tile count. One table, Node / browser WASM /
 * PyTorch side by side.
 *
 *   --dims X,Y,Z     phantom size (voxels); default 512,512,300
 *   --seed N         phantom seed; default 1
 *   --model DIR      model package (manifest.json + model.onnx); default: first in models/, else the tiny fixture
 *   --threads N      CPU threads for onnxruntime-node and torch; default 2 (the machine has 2 cores). The browser
 *                    runs what the app chooses, min(4, navigator.hardwareConcurrency) WASM threads (CDP's
 *                    Emulation.setHardwareConcurrencyOverride does not reach the dedicated worker, checked with
 *                    Chromium 156); the table prints both and flags a difference.
 *   --runs N         timed runs of the per-tile comparison (after one warm-up); default 5
 *   --no-torch       skip the PyTorch comparison
 *   --no-browser     skip the browser WASM run
 *   --reuse-dist     serve the existing dist/ instead of running `npm run build` first (warns when src/ is newer)
 *   --chromium PATH  browser binary; default $CHROMIUM_PATH or /usr/bin/chromium
 *   --browser-timeout S   give up on the browser run after S seconds; default 3600
 *
 * Everything model-specific (patch size, spacing, channels, labels) is read from the package manifest. The package
 * is copied to a temp folder first, so a package replaced while the bench runs (retraining) cannot mix two models:
 * Node, the browser and torch all run the copy.
 * The phantom is generated once in a child process (minutes for 512x512x300) and cached as raw Int16 in
 * .cache/bench/ (gitignored), so its generation never counts in this process's memory peak.
 * Memory, Node: process.memoryUsage().rss sampled every 50 ms and at every progress callback of the pipeline (which
 * fires inside the synchronous stages too), and process.resourceUsage().maxRSS (the kernel's peak); the browser run
 * comes after, so it is not in these figures. Browser: VmRSS of Chromium's renderer process (page + inference worker
 * + ORT's WASM threads) sampled from /proc every 100 ms and at every stage change, and its VmHWM (kernel peak).
 * Results are printed as a table and written (with the table) to .cache/bench/bench-<time>.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Vec3 } from '../src/core/geometry';
import type { Volume } from '../src/core/volume';
import { measureAll } from '../src/measure';
import type { ModelManifest } from '../src/pipeline/manifest';
import { segment, STAGES, type Stage } from '../src/pipeline/run';
import { tinyManifest } from '../src/pipeline/synthetic';
import type { BrowserWasmResult } from './bench-browser';
import { benchPhantomBase, hasBenchPhantom, median, readBenchPhantom, writeBenchPhantom } from './bench-common';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = path.join(REPO, '.cache', 'bench');
const TINY_ONNX = path.join(REPO, 'src/inference/fixtures/tiny-conv3d-softmax.onnx');
const PYTHON = '/usr/bin/python3';
const MB = 1024 * 1024;

const { values: opt } = parseArgs({
  options: {
    dims: { type: 'string', default: '512,512,300' },
    seed: { type: 'string', default: '1' },
    model: { type: 'string' },
    threads: { type: 'string', default: '2' },
    runs: { type: 'string', default: '5' },
    'no-torch': { type: 'boolean', default: false },
    'no-browser': { type: 'boolean', default: false },
    'reuse-dist': { type: 'boolean', default: false },
    chromium: { type: 'string', default: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' },
    'browser-timeout': { type: 'string', default: '3600' },
    generate: { type: 'boolean', default: false }, // internal: child process that writes the cached phantom
  },
});
const dims = opt.dims.split(',').map(Number) as Vec3;
if (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d > 0)) throw new Error(`--dims must be X,Y,Z voxel counts, got "${opt.dims}"`);
const seed = Number(opt.seed);
const threads = Number(opt.threads);
const runs = Number(opt.runs);
const browserTimeoutS = Number(opt['browser-timeout']);
for (const [name, v] of [['--threads', threads], ['--runs', runs], ['--browser-timeout', browserTimeoutS]] as const)
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be an integer >= 1, got ${v}`);
const base = benchPhantomBase(CACHE, seed, dims);

function loadPhantom(): { image: Volume<Int16Array>; generateMs: number; cached: boolean } {
  const cached = hasBenchPhantom(base);
  if (!cached) {
    console.error(`generating the ${dims.join('x')} phantom (seed ${seed}) in a child process; cached in ${CACHE} ...`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--generate', '--dims', opt.dims, '--seed', String(seed)], {
      cwd: REPO,
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error(`phantom generation failed (exit ${r.status})`);
  }
  return { ...readBenchPhantom(base, seed), cached };
}

/** The model package to run: --model, the first in models/, or the tiny fixture packaged in a temp folder. */
async function resolveModel(tmp: string): Promise<{ dir: string; tiny: boolean }> {
  if (opt.model) return { dir: path.resolve(opt.model), tiny: false };
  const { findDefaultModel } = await import('../src/cli/commands/model');
  try {
    return { dir: await findDefaultModel(), tiny: false };
  } catch {
    const dir = path.join(tmp, 'tiny');
    mkdirSync(dir);
    copyFileSync(TINY_ONNX, path.join(dir, 'model.onnx'));
    const m = { ...tinyManifest(), onnx: 'model.onnx', sha256: createHash('sha256').update(readFileSync(TINY_ONNX)).digest('hex') };
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
    return { dir, tiny: true };
  }
}

/**
 * Copies the package (manifest.json, the ONNX it names, model.pt when present) into `tmp`/package, so every side of
 * the bench runs the same bytes even if models/<name>/ is rewritten meanwhile (the model is retrained in place).
 */
function snapshotPackage(dir: string, tmp: string): { dir: string; manifestBytes: Buffer; onnxBytes: Buffer; onnxName: string; hasPt: boolean } {
  const out = path.join(tmp, 'package');
  mkdirSync(out);
  const manifestBytes = readFileSync(path.join(dir, 'manifest.json'));
  const onnxName = (JSON.parse(manifestBytes.toString('utf8')) as { onnx?: string }).onnx ?? 'model.onnx';
  const onnxBytes = readFileSync(path.join(dir, onnxName));
  writeFileSync(path.join(out, 'manifest.json'), manifestBytes);
  mkdirSync(path.dirname(path.join(out, onnxName)), { recursive: true });
  writeFileSync(path.join(out, onnxName), onnxBytes);
  const hasPt = existsSync(path.join(dir, 'model.pt'));
  if (hasPt) copyFileSync(path.join(dir, 'model.pt'), path.join(out, 'model.pt'));
  return { dir: out, manifestBytes, onnxBytes, onnxName, hasPt };
}

/** U-Net widths and class count for bench-torch.py, from the manifest (undefined: training/model.py defaults). */
function torchArchitecture(manifest: ModelManifest): { channels?: number[]; classes: number; type?: string } {
  const arch = manifest.architecture as { type?: unknown; channels?: unknown } | undefined;
  const channels = Array.isArray(arch?.channels) && arch.channels.every((c) => Number.isInteger(c) && c > 0) ? (arch.channels as number[]) : undefined;
  return { channels, classes: manifest.output.channels, type: typeof arch?.type === 'string' ? arch.type : undefined };
}

interface TorchResult {
  torch: string;
  median_ms: number;
  per_tile_ms: number[];
  params: number;
  weights: string;
}

function runTorch(patchDHW: Vec3, arch: { channels?: number[]; classes: number }, pt: string | undefined, exportOnnx: string | undefined): Promise<TorchResult | string> {
  return new Promise((resolve) => {
    const args = [path.join(REPO, 'scripts/bench-torch.py'), '--patch', ...patchDHW.map(String), '--runs', String(runs), '--threads', String(threads)];
    args.push('--classes', String(arch.classes));
    if (arch.channels) args.push('--channels', ...arch.channels.map(String));
    if (pt) args.push('--pt', pt);
    if (exportOnnx) args.push('--export-onnx', exportOnnx);
    const p = spawn(PYTHON, args, { cwd: REPO });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', (e) => resolve(`${PYTHON} could not start: ${e.message}`));
    p.on('close', (code) => {
      if (code !== 0) return resolve(`${PYTHON} scripts/bench-torch.py failed (exit ${code}): ${err.trim().split('\n').slice(-1)[0] ?? ''}`);
      try {
        resolve(JSON.parse(out.trim().split('\n').slice(-1)[0]) as TorchResult);
      } catch {
        resolve(`unexpected output from bench-torch.py: ${out.slice(0, 200)}`);
      }
    });
  });
}

async function main(): Promise<void> {
  if (opt.generate) return writeBenchPhantom(base, seed, dims);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'psoasview-bench-'));
  try {
    const { image, generateMs, cached } = loadPhantom();
    const model = await resolveModel(tmp);
    const pkg = snapshotPackage(model.dir, tmp);

    // Memory sampling from here on (the phantom's Int16 array is part of every figure: it is the input).
    let peakRss = process.memoryUsage().rss;
    const rssAt: Partial<Record<string, number>> = {};
    const sample = () => {
      const r = process.memoryUsage().rss;
      if (r > peakRss) peakRss = r;
      return r;
    };
    const timer = setInterval(sample, 50);
    timer.unref();
    rssAt.input = sample();

    const { loadNodeModel, createNodeSession } = await import('../src/inference/ort-node');
    let t = performance.now();
    const { manifest, session } = await loadNodeModel(pkg.dir, { intraOpNumThreads: threads });
    const modelLoadMs = performance.now() - t;
    rssAt.model_load = sample();

    let stage: Stage | undefined;
    const nodeTiles: number[] = []; // ms per predictTile call in the pipeline, comparable with the worker's
    const result = await segment(
      image,
      manifest,
      async (tile, size, signal) => {
        const t1 = performance.now();
        const out = await session.predictTile(tile, size, signal);
        nodeTiles.push(performance.now() - t1);
        return out;
      },
      {
        onProgress: (p) => {
          const r = sample();
          if (stage && p.stage !== stage) rssAt[stage] = r;
          stage = p.stage;
        },
      },
    );
    if (stage) rssAt[stage] = sample();
    t = performance.now();
    const labelMap: Record<string, number> = {};
    for (const [v, n] of Object.entries(result.labels)) if (Number(v) !== 0) labelMap[n] = Number(v);
    measureAll(image, result.mask, labelMap);
    const measureMs = performance.now() - t;
    rssAt.measure = sample();
    clearInterval(timer);
    const maxRssMb = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
    // One inference step per model-grid placement (sliding_window.grid_shifts): count the network runs of all.
    const inferenceSteps = result.steps.filter((s) => s.step === 'inference') as { tiles?: number; tileSize?: Vec3 }[];
    const inferenceStep = inferenceSteps[0];
    const tiles = inferenceSteps.reduce((n, s) => n + (s.tiles ?? 0), 0);
    const tileSize = inferenceStep?.tileSize ?? manifest.input.patch_size;
    const maskVoxels = Object.fromEntries(Object.entries(labelMap).map(([n, v]) => [n, result.mask.data.reduce((c, x) => c + (x === v ? 1 : 0), 0)]));

    // Per-tile comparison: onnxruntime-node vs PyTorch CPU, same network, same tile, same thread count.
    const patch = manifest.input.patch_size; // [x, y, z] = [W, H, D]
    const patchDHW: Vec3 = [patch[2], patch[1], patch[0]];
    const arch = torchArchitecture(manifest);
    const pt = path.join(pkg.dir, 'model.pt');
    let compare: Record<string, unknown> = { skipped: 'not run (--no-torch)' };
    if (!opt['no-torch']) {
      const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
      if (!hasTorch) compare = { skipped: `${PYTHON} has no torch` };
      else if (arch.type !== undefined && arch.type !== 'UNet3D')
        compare = { skipped: `manifest architecture.type is "${arch.type}"; bench-torch.py only builds training/model.py's UNet3D` };
      else {
        // With model.pt (training/train.py saves it beside model.onnx) torch runs the package's own weights and
        // Node its own ONNX. Without it, torch's UNet3D (random weights; time does not depend on them) is exported
        // to ONNX and both sides time that graph: the ratio is the architecture's, not the package's.
        const own = pkg.hasPt;
        const exported = own ? undefined : path.join(tmp, 'unet3d-random.onnx');
        const torchRes = await runTorch(patchDHW, arch, own ? pt : undefined, exported);
        if (typeof torchRes === 'string') compare = { skipped: torchRes };
        else {
          const s = own ? session : await createNodeSession(exported!, { intraOpNumThreads: threads });
          const tile = new Float32Array(patch[0] * patch[1] * patch[2]).map((_, i) => Math.sin(i * 0.001));
          await s.predictTile(tile, patch); // warm-up
          const ortMs: number[] = [];
          for (let r = 0; r < runs; r++) {
            const t1 = performance.now();
            await s.predictTile(tile, patch);
            ortMs.push(performance.now() - t1);
          }
          if (!own) await s.dispose();
          compare = {
            network: own ? `${manifest.name} ${manifest.version} (model.pt + model.onnx of the package)` : `training/model.py UNet3D, random weights (no model.pt in ${model.dir})`,
            // true: torch and the pipelines ran the same network (package weights); false: torch and the isolated
            // Node timing ran the exported random UNet3D, so pipeline tile times are of ANOTHER network.
            own_weights: own,
            params: torchRes.params,
            channels: arch.channels ?? 'training/model.py default',
            patch_dhw: patchDHW,
            threads,
            runs,
            ort_node_ms: ortMs.map((x) => Math.round(x * 10) / 10),
            ort_node_median_ms: Math.round(median(ortMs) * 10) / 10,
            torch: torchRes.torch,
            torch_ms: torchRes.per_tile_ms,
            torch_median_ms: torchRes.median_ms,
            ratio_ort_over_torch: Math.round((median(ortMs) / torchRes.median_ms) * 100) / 100,
            pipeline_tiles: tiles,
          };
        }
      }
    }
    await session.dispose();

    // Browser WASM: same phantom (the cached raw file), same package bytes, the app's worker running the same
    // pipeline. After the Node figures above were taken, so it does not inflate them.
    let wasm: BrowserWasmResult | { skipped: string };
    if (opt['no-browser']) wasm = { skipped: 'not run (--no-browser)' };
    else {
      const { runBrowserWasm } = await import('./bench-browser');
      try {
        wasm = await runBrowserWasm({
          repo: REPO,
          reuseDist: opt['reuse-dist'],
          phantomFile: `${base}.i16`,
          geometry: image.geometry,
          manifest,
          manifestBytes: pkg.manifestBytes,
          onnxBytes: pkg.onnxBytes,
          chromiumPath: opt.chromium,
          timeoutMs: browserTimeoutS * 1000,
        });
      } catch (e) {
        console.error(e);
        wasm = { skipped: `browser run failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
      }
    }

    const report: BenchReport = {
      date: new Date().toISOString(),
      // Load average at the end: on a shared machine, other processes inflate every figure (torch with 2 threads most).
      machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 1024 ** 3)} GiB, Node ${process.version}, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`,
      input: { dims: image.geometry.dimensions, spacing: image.geometry.spacing, voxels: image.data.length, phantom_seed: seed, generate_ms: generateMs, cached },
      model: {
        dir: model.dir,
        name: manifest.name,
        version: manifest.version,
        sha256: createHash('sha256').update(pkg.onnxBytes).digest('hex'),
        patch_size: manifest.input.patch_size,
        target_spacing_mm: manifest.input.target_spacing_mm,
        tiny_fixture: model.tiny,
        backend: session.backend,
        threads,
      },
      tiles,
      tile_size: tileSize,
      timings_ms: { model_load: modelLoadMs, ...result.timings, measure: measureMs },
      tile_ms_median: Math.round(median(nodeTiles) * 10) / 10,
      rss_mb_after: Object.fromEntries(Object.entries(rssAt).map(([k, v]) => [k, Math.round((v ?? 0) / MB)])),
      peak_rss_sampled_mb: Math.round(peakRss / MB),
      max_rss_mb: Math.round(maxRssMb),
      mask_voxels: maskVoxels,
      torch_comparison: compare,
      // onnxruntime-web on the same model and input, in Chromium (scripts/bench-browser.ts). WebGPU is not run here:
      // headless Chromium on this machine only has SwiftShader (a CPU emulation), whose times say nothing about GPUs.
      browser: { wasm, webgpu: null },
      table: [],
    };
    mkdirSync(CACHE, { recursive: true });
    const file = path.join(CACHE, `bench-${report.date.replace(/[:.]/g, '-')}.json`);
    report.table = formatTable(report);
    writeFileSync(file, JSON.stringify(report, null, 2));
    console.log([...report.table, '', `written  ${file}`].join('\n'));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

interface TorchComparison {
  skipped?: string;
  network: string;
  params: number;
  patch_dhw: Vec3;
  threads: number;
  runs: number;
  ort_node_median_ms: number;
  torch: string;
  torch_median_ms: number;
  pipeline_tiles: number;
  own_weights: boolean;
}

interface BenchReport {
  date: string;
  machine: string;
  input: { dims: Vec3; spacing: Vec3; voxels: number; phantom_seed: number; generate_ms: number; cached: boolean };
  model: { dir: string; name: string; version: string; sha256: string; patch_size: Vec3; target_spacing_mm: Vec3; tiny_fixture: boolean; backend: string; threads: number };
  tiles: number;
  tile_size: Vec3;
  timings_ms: Record<string, number>;
  tile_ms_median: number;
  rss_mb_after: Record<string, number>;
  peak_rss_sampled_mb: number;
  max_rss_mb: number;
  mask_voxels: Record<string, number>;
  torch_comparison: Record<string, unknown>;
  browser: { wasm: BrowserWasmResult | { skipped: string }; webgpu: null };
  /** The printed table, line by line. */
  table: string[];
}

/** One table: a row per stage/figure, a column group per runtime (Node, browser WASM, PyTorch per tile). */
function formatTable(r: BenchReport): string[] {
  const L: string[] = [];
  const ms = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : x >= 100 ? Math.round(x).toString() : x.toFixed(1));
  const num = (x: number | undefined) => (x === undefined ? '—' : String(x));
  const w = 'skipped' in r.browser.wasm ? undefined : r.browser.wasm;
  const c = r.torch_comparison as unknown as TorchComparison;
  const torch = c.skipped ? undefined : c;
  const COLS = [28, 10, 15, 10, 15, 13];
  const row = (...cells: string[]) => cells.map((x, i) => (i === 0 ? x.padEnd(COLS[0]) : x.padStart(COLS[i]))).join('');
  const rule = '-'.repeat(COLS.reduce((a, b) => a + b, 0));

  L.push(`psoasview bench — ${r.date}`);
  L.push(`machine  ${r.machine}`);
  L.push(`input    phantom seed ${r.input.phantom_seed}, ${r.input.dims.join('x')} voxels @ ${r.input.spacing.map((s: number) => s.toFixed(3)).join('x')} mm (${(r.input.voxels / 1e6).toFixed(1)} M voxels; generated in ${(r.input.generate_ms / 1000).toFixed(0)} s${r.input.cached ? ', cached' : ''})`);
  L.push(`model    ${r.model.name} ${r.model.version} (onnx sha256 ${r.model.sha256.slice(0, 12)}…; patch ${r.model.patch_size.join('x')} voxels at ${r.model.target_spacing_mm.join('x')} mm)${r.model.tiny_fixture ? ' — THE TINY TEST MODEL (no package in models/): inference figures are NOT those of the real network' : ''}`);
  L.push(`Node     ${r.model.backend}, ${r.model.threads} thread(s); ${r.tiles} tile(s) of ${r.tile_size.join('x')}`);
  if (w) {
    L.push(`browser  Chromium ${w.chromium} headless, onnxruntime-web ${w.ort_version} ${w.backend}${w.fallback_reason ? ` (fallback: ${w.fallback_reason})` : ''}, ${w.threads} thread(s) (hardwareConcurrency ${w.hardware_concurrency}), crossOriginIsolated ${w.cross_origin_isolated}; ${w.tiles} tile(s) of ${w.tile_size.join('x')}`);
    L.push(`         app: dist/ ${w.app.built ? `built now (${((w.app.build_ms ?? 0) / 1000).toFixed(0)} s)` : 'reused (--reuse-dist)'}, vite preview sent COOP ${w.app.headers['cross-origin-opener-policy'] ?? 'none'}, COEP ${w.app.headers['cross-origin-embedder-policy'] ?? 'none'}${w.app.warning ? `; WARNING: ${w.app.warning}` : ''}`);
    if (w.threads !== r.model.threads) L.push(`         NOTE: the browser ran ${w.threads} WASM thread(s), Node and torch ${r.model.threads} (--threads): per-tile figures are not like for like`);
    if (w.model.sha256 !== r.model.sha256) L.push(`         WARNING: the browser ran ONNX sha256 ${w.model.sha256}, Node ${r.model.sha256}`);
  } else if ('skipped' in r.browser.wasm) L.push(`browser  skipped (${r.browser.wasm.skipped})`);
  if (torch) L.push(`PyTorch  ${torch.torch} CPU, ${torch.threads} thread(s): ${torch.network}, ${torch.params} params; forward pass of one ${torch.patch_dhw.join('x')} (DxHxW) tile, median of ${torch.runs} (after a warm-up)`);
  else L.push(`PyTorch  skipped (${c.skipped})`);
  L.push('');
  const group = (t: string, width: number) => t.padStart(Math.floor((width + t.length) / 2)).padEnd(width);
  L.push(' '.repeat(COLS[0] + 2) + group('Node (onnxruntime-node)', COLS[1] + COLS[2] - 2) + '  ' + group('browser WASM (Chromium)', COLS[3] + COLS[4] - 2) + 'PyTorch CPU'.padStart(COLS[5]));
  L.push(row('stage', 'ms', 'rss MB after', 'ms', 'renderer MB', 'ms'));
  L.push(rule);
  L.push(row('model_load', ms(r.timings_ms.model_load), num(r.rss_mb_after.model_load), ms(w?.model_load_ms.total), num(w?.memory.renderer_mb_after.model_load), '—'));
  L.push(row('input (browser: fetch)', '—', num(r.rss_mb_after.input), ms(w?.input_fetch_ms), num(w?.memory.renderer_mb_after.input), '—'));
  for (const s of STAGES) L.push(row(s, ms(r.timings_ms[s]), num(r.rss_mb_after[s]), ms(w?.timings_ms[s]), num(w?.memory.renderer_mb_after[s]), '—'));
  L.push(row('measure', ms(r.timings_ms.measure), num(r.rss_mb_after.measure), '—', '', '—'));
  L.push(rule);
  L.push(row('segment total', ms(r.timings_ms.total), '', ms(w?.timings_ms.total), '', '—'));
  L.push(row('tiles', String(r.tiles), '', num(w?.tiles), '', '—'));
  L.push(row('ms/tile, pipeline median', ms(r.tile_ms_median), '', ms(w?.tile_ms_median), '', '—'));
  L.push(row(`ms/tile, isolated median`, ms(torch?.ort_node_median_ms), '', '—', '', ms(torch?.torch_median_ms)));
  if (torch) {
    const x = (v: number | undefined) => (v === undefined ? '—' : (v / torch.torch_median_ms).toFixed(2));
    const sec = (v: number | undefined) => (v === undefined ? '—' : ((v * r.tiles) / 1000).toFixed(1));
    // Pipeline tile times are of the package's network; torch's are too only with the package's model.pt.
    const same = torch.own_weights;
    L.push(row('x PyTorch per tile', x(torch.ort_node_median_ms), '(isolated)', same ? x(w?.tile_ms_median) : '—', same ? '(pipeline)' : '', '1.00'));
    L.push(row(`forward only, ${r.tiles} tiles (s)`, sec(same ? r.tile_ms_median : torch.ort_node_median_ms), '', same ? sec(w?.tile_ms_median) : '—', '', sec(torch.torch_median_ms)));
    if (!same) L.push('  (no model.pt: torch and the isolated Node figure ran training/model.py\'s UNet3D with random weights, not this package)');
  }
  L.push(rule);
  L.push(row('peak memory MB, sampled', String(r.peak_rss_sampled_mb), 'process rss', num(w?.memory.peak_renderer_rss_sampled_mb), 'renderer rss', '—'));
  L.push(row('peak memory MB, kernel', String(r.max_rss_mb), 'maxRSS', num(w?.memory.peak_renderer_hwm_mb), 'renderer VmHWM', '—'));
  if (w) L.push(row('  all Chromium processes', '', '', String(w.memory.peak_all_chromium_rss_sampled_mb), 'sum of rss', ''));
  for (const [name, n] of Object.entries(r.mask_voxels))
    L.push(row(`mask voxels ${name}`, String(n), '', num(w?.mask_voxels[name]), w ? (w.mask_voxels[name] === n ? '(= Node)' : `(${w.mask_voxels[name] - n > 0 ? '+' : ''}${w.mask_voxels[name] - n})`) : '', ''));
  L.push('');
  L.push('memory: Node = this process (the phantom array included, the browser run excluded: it comes after);');
  L.push("        browser = VmRSS of the page's renderer process (page + inference worker + ORT WASM threads), /proc every 100 ms;");
  if (w) L.push(`        that renderer with the app loaded, before the model: ${w.memory.page_idle_renderer_mb} MB. "all Chromium" sums every process (shared pages counted in each).`);
  L.push('ms/tile: "pipeline" = median of the predictTile calls of the run above; "isolated" = one tile, warm, repeated.');
  return L;
}

await main();
