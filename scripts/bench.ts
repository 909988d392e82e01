/**
 * `npm run bench [-- options]`: stage timings and peak memory of the Node segmentation pipeline on a large
 * synthetic CT (default 512x512x300 phantom from src/core/phantom), with the model package in models/ (or the
 * tiny test model when there is none — then the figures say so), plus a per-tile forward-pass comparison of
 * onnxruntime-node against PyTorch CPU on the same network, tile size and tile count.
 *
 *   --dims X,Y,Z     phantom size (voxels); default 512,512,300
 *   --seed N         phantom seed; default 1
 *   --model DIR      model package (manifest.json + model.onnx); default: first in models/, else the tiny fixture
 *   --threads N      CPU threads for onnxruntime and torch alike; default 2 (the machine has 2 cores)
 *   --runs N         timed runs of the per-tile comparison (after one warm-up); default 5
 *   --no-torch       skip the PyTorch comparison
 *
 * The phantom is generated once in a child process (minutes for 512x512x300) and cached as raw Int16 in
 * .cache/bench/ (gitignored), so its generation never counts in this process's memory peak.
 * Memory: process.memoryUsage().rss sampled every 50 ms and at every progress callback of the pipeline (which
 * fires inside the synchronous stages too), and process.resourceUsage().maxRSS (the kernel's peak).
 * Results are printed as a table and written to .cache/bench/bench-<time>.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Vec3, VolumeGeometry } from '../src/core/geometry';
import type { Volume } from '../src/core/volume';
import { measureAll } from '../src/measure';
import { segment, STAGES, type Stage } from '../src/pipeline/run';
import { tinyManifest } from '../src/pipeline/synthetic';

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
    generate: { type: 'boolean', default: false }, // internal: child process that writes the cached phantom
  },
});
const dims = opt.dims.split(',').map(Number) as Vec3;
if (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d > 0)) throw new Error(`--dims must be X,Y,Z voxel counts, got "${opt.dims}"`);
const seed = Number(opt.seed);
const threads = Number(opt.threads);
const runs = Number(opt.runs);
const base = path.join(CACHE, `phantom-seed${seed}-${dims.join('x')}`);

async function generate(): Promise<void> {
  const { generatePhantom } = await import('../src/core/phantom');
  const t = performance.now();
  const r = generatePhantom({ seed, dims });
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(`${base}.i16`, new Uint8Array(r.image.data.buffer, r.image.data.byteOffset, r.image.data.byteLength));
  writeFileSync(`${base}.json`, JSON.stringify({ geometry: r.image.geometry, generate_ms: Math.round(performance.now() - t) }));
}

function loadPhantom(): { image: Volume<Int16Array>; generateMs: number; cached: boolean } {
  let cached = true;
  if (!existsSync(`${base}.json`)) {
    cached = false;
    console.error(`generating the ${dims.join('x')} phantom (seed ${seed}) in a child process; cached in ${CACHE} ...`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--generate', '--dims', opt.dims, '--seed', String(seed)], {
      cwd: REPO,
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error(`phantom generation failed (exit ${r.status})`);
  }
  const meta = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as { geometry: VolumeGeometry; generate_ms: number };
  const buf = readFileSync(`${base}.i16`);
  const data = new Int16Array(buf.buffer, buf.byteOffset, buf.byteLength / 2);
  return { image: { geometry: meta.geometry, data, units: 'HU', meta: { source: `phantom seed ${seed}` } }, generateMs: meta.generate_ms, cached };
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

interface TorchResult {
  torch: string;
  median_ms: number;
  per_tile_ms: number[];
  params: number;
  weights: string;
}

function runTorch(patchDHW: Vec3, pt: string | undefined, exportOnnx: string | undefined): Promise<TorchResult | string> {
  return new Promise((resolve) => {
    const args = [path.join(REPO, 'scripts/bench-torch.py'), '--patch', ...patchDHW.map(String), '--runs', String(runs), '--threads', String(threads)];
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

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  if (opt.generate) return generate();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'psoasview-bench-'));
  try {
    const { image, generateMs, cached } = loadPhantom();
    const model = await resolveModel(tmp);

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
    const { manifest, session } = await loadNodeModel(model.dir, { intraOpNumThreads: threads });
    const modelLoadMs = performance.now() - t;
    rssAt.model_load = sample();

    let stage: Stage | undefined;
    const result = await segment(image, manifest, session.predictTile, {
      onProgress: (p) => {
        const r = sample();
        if (stage && p.stage !== stage) rssAt[stage] = r;
        stage = p.stage;
      },
    });
    if (stage) rssAt[stage] = sample();
    t = performance.now();
    const labelMap: Record<string, number> = {};
    for (const [v, n] of Object.entries(result.labels)) if (Number(v) !== 0) labelMap[n] = Number(v);
    measureAll(image, result.mask, labelMap);
    const measureMs = performance.now() - t;
    rssAt.measure = sample();
    const maxRssMb = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
    const inferenceStep = result.steps.find((s) => s.step === 'inference') as { tiles?: number; tileSize?: Vec3 } | undefined;
    const tiles = inferenceStep?.tiles ?? 0;
    const tileSize = inferenceStep?.tileSize ?? manifest.input.patch_size;

    // Per-tile comparison: onnxruntime-node vs PyTorch CPU, same network, same tile, same thread count.
    const patch = manifest.input.patch_size; // [x, y, z] = [W, H, D]
    const patchDHW: Vec3 = [patch[2], patch[1], patch[0]];
    const pt = path.join(model.dir, 'model.pt');
    let compare: Record<string, unknown> = { skipped: 'not run (--no-torch)' };
    if (!opt['no-torch']) {
      const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
      if (!hasTorch) compare = { skipped: `${PYTHON} has no torch` };
      else {
        // With model.pt (training/train.py saves it beside model.onnx) torch runs the package's own weights and
        // Node its own ONNX. Without it, torch's UNet3D (random weights; time does not depend on them) is exported
        // to ONNX and both sides time that graph: the ratio is the architecture's, not the package's.
        const own = existsSync(pt);
        const exported = own ? undefined : path.join(tmp, 'unet3d-random.onnx');
        const torchRes = await runTorch(patchDHW, own ? pt : undefined, exported);
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
            params: torchRes.params,
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

    const report = {
      date: new Date().toISOString(),
      // Load average at the end: on a shared machine, other processes inflate every figure (torch with 2 threads most).
      machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 1024 ** 3)} GiB, Node ${process.version}, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`,
      input: { dims: image.geometry.dimensions, spacing: image.geometry.spacing, voxels: image.data.length, phantom_seed: seed, generate_ms: generateMs, cached },
      model: { dir: model.dir, name: manifest.name, version: manifest.version, tiny_fixture: model.tiny, backend: session.backend, threads },
      tiles,
      tile_size: tileSize,
      timings_ms: { model_load: modelLoadMs, ...result.timings, measure: measureMs },
      rss_mb_after: Object.fromEntries(Object.entries(rssAt).map(([k, v]) => [k, Math.round((v ?? 0) / MB)])),
      peak_rss_sampled_mb: Math.round(peakRss / MB),
      max_rss_mb: Math.round(maxRssMb),
      mask_voxels: Object.fromEntries(Object.entries(labelMap).map(([n, v]) => [n, result.mask.data.reduce((c, x) => c + (x === v ? 1 : 0), 0)])),
      torch_comparison: compare,
      // Browser figures (onnxruntime-web WASM / WebGPU on the same model and input) are measured in the browser by
      // the web-inference work and belong here, under the same keys as this object, for one table per machine.
      browser: { wasm: null, webgpu: null, note: 'not measured by this script: added by the browser benchmark' },
    };
    mkdirSync(CACHE, { recursive: true });
    const file = path.join(CACHE, `bench-${report.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(report, null, 2));
    printTable(report, file);
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
}

interface BenchReport {
  date: string;
  machine: string;
  input: { dims: Vec3; spacing: Vec3; voxels: number; phantom_seed: number; generate_ms: number; cached: boolean };
  model: { name: string; version: string; tiny_fixture: boolean; backend: string; threads: number };
  tiles: number;
  tile_size: Vec3;
  timings_ms: Record<string, number>;
  rss_mb_after: Record<string, number>;
  peak_rss_sampled_mb: number;
  max_rss_mb: number;
  torch_comparison: Record<string, unknown>;
}

function printTable(r: BenchReport, file: string): void {
  const L: string[] = [];
  const ms = (x: number) => (x >= 100 ? Math.round(x).toString() : x.toFixed(1));
  L.push(`psoasview bench — ${r.date}`);
  L.push(`machine  ${r.machine}`);
  L.push(`input    phantom seed ${r.input.phantom_seed}, ${r.input.dims.join('x')} voxels @ ${r.input.spacing.map((s: number) => s.toFixed(3)).join('x')} mm (${(r.input.voxels / 1e6).toFixed(1)} M voxels; generated in ${(r.input.generate_ms / 1000).toFixed(0)} s${r.input.cached ? ', cached' : ''})`);
  L.push(`model    ${r.model.name} ${r.model.version}${r.model.tiny_fixture ? ' — THE TINY TEST MODEL (no package in models/): inference figures are NOT those of the real network' : ''}`);
  L.push(`         ${r.model.backend}, ${r.model.threads} thread(s); ${r.tiles} tile(s) of ${r.tile_size.join('x')}`);
  L.push('');
  L.push(`${'stage'.padEnd(14)}${'ms'.padStart(10)}${'rss after (MB)'.padStart(17)}`);
  L.push('-'.repeat(41));
  const rows: Array<[string, number]> = [
    ['model_load', r.timings_ms.model_load],
    ...STAGES.map((s) => [s, r.timings_ms[s]] as [string, number]),
    ['measure', r.timings_ms.measure],
  ];
  for (const [name, v] of rows) L.push(`${name.padEnd(14)}${ms(v ?? 0).padStart(10)}${String(r.rss_mb_after[name] ?? '').padStart(17)}`);
  L.push('-'.repeat(41));
  L.push(`${'segment total'.padEnd(14)}${ms(r.timings_ms.total).padStart(10)}`);
  L.push(`memory   input alone ${r.rss_mb_after.input} MB rss; peak rss sampled ${r.peak_rss_sampled_mb} MB; maxRSS (resourceUsage) ${r.max_rss_mb} MB`);
  L.push('');
  const c = r.torch_comparison as unknown as TorchComparison;
  if (c.skipped) L.push(`per-tile forward vs PyTorch: skipped (${c.skipped})`);
  else {
    L.push(`per-tile forward: ${c.network}, ${c.params} params, tile ${c.patch_dhw.join('x')} (DxHxW), ${c.threads} thread(s), median of ${c.runs}`);
    L.push(`${'backend'.padEnd(34)}${'ms/tile'.padStart(10)}${'x torch'.padStart(9)}${`x ${c.pipeline_tiles} tiles (s)`.padStart(18)}`);
    const row = (name: string, v: number | null) =>
      `${name.padEnd(34)}${(v === null ? '—' : ms(v)).padStart(10)}${(v === null ? '—' : (v / c.torch_median_ms).toFixed(2)).padStart(9)}${(v === null ? '—' : ((v * c.pipeline_tiles) / 1000).toFixed(1)).padStart(18)}`;
    L.push(row('onnxruntime-node (CPU)', c.ort_node_median_ms));
    L.push(row(`PyTorch ${c.torch} CPU`, c.torch_median_ms));
    // Filled in by the browser benchmark (onnxruntime-web in Chromium); see "browser" in the JSON.
    L.push(row('onnxruntime-web WASM (browser)', null) + '   (browser benchmark, not this script)');
    L.push(row('onnxruntime-web WebGPU (browser)', null) + '   (browser benchmark, not this script)');
  }
  L.push('');
  L.push(`written  ${file}`);
  console.log(L.join('\n'));
}

await main();
