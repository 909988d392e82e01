/**
 * `npx tsx scripts/bench-webgpu-node.ts [options]`: the app's WebGPU inference path (src/inference/ort-web.ts, i.e.
 * onnxruntime-web's WebGPU execution provider, plus the same pipeline `segment()`) timed on a real GPU WITHOUT a
 * browser, through Dawn — the WebGPU implementation inside Chromium — as a Node addon (npm package `webgpu`,
 * https://github.com/dawn-gpu/node-webgpu). Made for machines where a GPU exists but Chromium cannot run (e.g. a
 * headless GPU server with no display libraries); on this project's CPU machine it runs on SwiftShader's Vulkan.
 * What differs from Chromium: no GPU-process IPC and no browser blocklist; the ORT kernels (WGSL), Dawn and the
 * Vulkan driver are the same.
 *
 *   --dawn DIR        folder of the `webgpu` npm package (index.js + dist/<platform>/dawn.node);
 *                     default .cache/dawn/webgpu (fetch it with `npm pack webgpu@0.6.2` and untar; it is not a
 *                     project dependency: 51 MB of prebuilt binaries for every platform)
 *   --ep E            webgpu (default) | node (onnxruntime-node CPU: the reference mask for --compare)
 *   --dims X,Y,Z      phantom size; default 512,512,300 (the `npm run bench` phantom, cached in .cache/bench)
 *   --seed N          phantom seed; default 1
 *   --model DIR       model package; default models/psoas-unet3d
 *   --runs N          whole-volume runs on one session (the first compiles the shaders); default 3
 *   --placement       also open one verbose session first and report the node placement (every node on WebGPU?)
 *   --mask-out FILE   write the last run's mask (uint8, x fastest, gzip) for --compare elsewhere
 *   --compare FILE    a mask written by --mask-out (e.g. --ep node on the CPU machine): print the voxel agreement
 *   --json FILE       write the results as JSON
 *   --threads N       onnxruntime-node threads with --ep node; default 2
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Vec3 } from '../src/core/geometry';
import type { Volume } from '../src/core/volume';
import { measureAll } from '../src/measure';
import { validateManifest } from '../src/pipeline/manifest';
import { segment } from '../src/pipeline/run';
import { benchPhantomBase, hasBenchPhantom, median, readBenchPhantom, writeBenchPhantom } from './bench-common';
import { copySharedViewsOnWrite } from './dawn-shim';
import type { ModelSession } from '../src/inference/types';

const REPO = process.env.PSOAS_REPO ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: {
    dawn: { type: 'string', default: path.join(REPO, '.cache/dawn/webgpu') },
    ep: { type: 'string', default: 'webgpu' },
    dims: { type: 'string', default: '512,512,300' },
    seed: { type: 'string', default: '1' },
    model: { type: 'string', default: path.join(REPO, 'models/psoas-unet3d') },
    runs: { type: 'string', default: '3' },
    placement: { type: 'boolean', default: false },
    'placement-child': { type: 'boolean', default: false }, // internal, see --placement
    'mask-out': { type: 'string' },
    compare: { type: 'string' },
    json: { type: 'string' },
    threads: { type: 'string', default: '2' },
  },
});
const dims = opt.dims.split(',').map(Number) as Vec3;
const runs = Number(opt.runs);
if (!['webgpu', 'node'].includes(opt.ep)) throw new Error(`--ep must be webgpu or node, got "${opt.ep}"`);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be an integer >= 1, got "${opt.runs}"`);

/** The `npm run bench` phantom from its cache (.cache/bench), generated here (in this process) when missing. */
async function loadPhantom(): Promise<Volume<Int16Array>> {
  const seed = Number(opt.seed);
  const base = benchPhantomBase(path.join(REPO, '.cache', 'bench'), seed, dims);
  if (!hasBenchPhantom(base)) await writeBenchPhantom(base, seed, dims);
  return readBenchPhantom(base, seed).image;
}

async function installDawn(): Promise<void> {
  const entry = path.join(opt.dawn, 'index.js');
  if (!existsSync(entry)) throw new Error(`no Dawn package at ${opt.dawn} (see --dawn)`);
  const { create, globals } = (await import(pathToFileURL(entry).href)) as { create: (o: string[]) => unknown; globals: Record<string, unknown> };
  Object.assign(globalThis, globals);
  copySharedViewsOnWrite(globals.GPUQueue as { prototype: Record<string, unknown> } | undefined);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]), hardwareConcurrency: os.cpus().length }, configurable: true });
}

async function main(): Promise<void> {
  const manifestPath = path.join(opt.model, 'manifest.json');
  const manifest = validateManifest(JSON.parse(readFileSync(manifestPath, 'utf8')), manifestPath);
  const onnx = readFileSync(path.join(opt.model, manifest.onnx ?? 'model.onnx'));
  const out: Record<string, unknown> = { ep: opt.ep, model: `${manifest.name} ${manifest.version}`, dims, seed: Number(opt.seed), host: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model } };

  let session: ModelSession & { maxBufferBytes?: number; fallbackReason?: string };
  if (opt.ep === 'webgpu') {
    await installDawn();
    const web = await import('../src/inference/ort-web');
    if (opt['placement-child']) {
      // ORT reads its global log level once per process, and in Node its C++ log goes to fd 2 directly (not through
      // console.*, which ort-web's own capture taps in a browser worker): the parent reads this process's stderr.
      const v = await web.createWebSession(onnx, { preferred: 'webgpu', manifest, verbose: true, source: manifest.name });
      console.error(`placement-child: backend ${v.backend}${v.fallbackReason ? ` (fallback: ${v.fallbackReason})` : ''}`);
      process.exit(0);
    }
    if (opt.placement) {
      const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1], ...process.argv.slice(2).filter((a) => a !== '--placement'), '--placement-child'], {
        encoding: 'utf8',
        maxBuffer: 1 << 30,
      });
      const { parsePlacement } = await import('../src/inference/web-log');
      const lines = `${r.stdout}\n${r.stderr}`.split('\n');
      const placement = (parsePlacement(lines) ?? []).map((p) => ({ provider: p.provider, count: p.count }));
      out.placement = { exit: r.status, backend: lines.find((l) => l.startsWith('placement-child:')), report: placement };
      console.error(`placement (verbose child, exit ${r.status}): ${JSON.stringify(out.placement)}`);
    }
    const s = await web.createWebSession(onnx, { preferred: 'webgpu', manifest, source: manifest.name });
    if (s.backend !== 'onnxruntime-web/webgpu') throw new Error(`WebGPU was not used: ${s.fallbackReason ?? s.backend}`);
    out.webgpu = s.webgpu;
    out.createMs = Math.round(s.createMs);
    console.error(`WebGPU adapter: ${JSON.stringify(s.webgpu)}; session created in ${Math.round(s.createMs)} ms`);
    session = s;
  } else {
    const { loadNodeModel } = await import('../src/inference/ort-node');
    const t = performance.now();
    session = (await loadNodeModel(opt.model, { intraOpNumThreads: Number(opt.threads) })).session;
    out.createMs = Math.round(performance.now() - t);
  }

  const image = await loadPhantom();
  const results: Record<string, unknown>[] = [];
  let mask: Uint8Array | undefined;
  for (let r = 0; r < runs; r++) {
    const tiles: number[] = [];
    const res = await segment(
      image,
      manifest,
      async (tile, size, signal) => {
        const t1 = performance.now();
        const o = await session.predictTile(tile, size, signal);
        tiles.push(performance.now() - t1);
        return o;
      },
      { maxBufferBytes: session.maxBufferBytes },
    );
    const labelMap: Record<string, number> = {};
    for (const [v, n] of Object.entries(res.labels)) if (Number(v) !== 0) labelMap[n] = Number(v);
    const m = measureAll(image, res.mask, labelMap).structures;
    const inf = res.steps.find((s) => s.step === 'inference') as { tiles?: number; tileSize?: Vec3 } | undefined;
    const row = {
      run: r + 1,
      total_ms: Math.round(res.timings.total),
      stages_ms: Object.fromEntries(Object.entries(res.timings).map(([k, v]) => [k, Math.round(v)])),
      tiles: tiles.length,
      tile_size: inf?.tileSize,
      tile_ms_median: Math.round(median(tiles) * 10) / 10,
      tile_ms_first: Math.round(tiles[0]),
      volume_ml: Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round(v.volume_ml * 100) / 100])),
      // the backend after the run: a WebGPU failure re-runs tiles on WASM (ort-web.ts), which must not pass as WebGPU
      backend: session.backend,
      ...(session.fallbackReason ? { fallbackReason: session.fallbackReason } : {}),
    };
    results.push(row);
    console.error(JSON.stringify(row));
    mask = res.mask.data as Uint8Array;
  }
  out.runs = results;
  const fellBack = opt.ep === 'webgpu' && results.some((r) => r.backend !== 'onnxruntime-web/webgpu');
  await session.dispose();

  if (mask && opt['mask-out']) writeFileSync(opt['mask-out'], gzipSync(mask, { level: 6 }));
  if (mask && opt.compare) {
    const ref = gunzipSync(readFileSync(opt.compare));
    if (ref.length !== mask.length) throw new Error(`--compare: ${opt.compare} has ${ref.length} voxels, this mask ${mask.length}`);
    let diff = 0;
    for (let i = 0; i < mask.length; i++) if (mask[i] !== ref[i]) diff++;
    out.compare = { reference: opt.compare, voxels: mask.length, differing: diff, equal_fraction: 1 - diff / mask.length };
    console.error(`compare with ${opt.compare}: ${diff} of ${mask.length} voxels differ`);
  }
  if (opt.json) writeFileSync(opt.json, JSON.stringify(out, null, 2));
  console.log(JSON.stringify(out));
  if (fellBack) {
    console.error(`WebGPU fell back to WASM during the runs: these are NOT WebGPU figures (${String(results.find((r) => r.fallbackReason)?.fallbackReason)})`);
    process.exit(3);
  }
  // Dawn keeps the event loop alive.
  process.exit(0);
}

main().catch((e) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  process.exit(1);
});
