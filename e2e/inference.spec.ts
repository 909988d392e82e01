/**
 * In-browser inference (src/inference/{ort-web,worker,client,registry}.ts) driven through `window.__psoasInference`
 * (installed by client.ts with `?e2e` in the URL). The tiny fixture model (src/inference/fixtures/) is served as a
 * model package through page.route, the same way /models/<name>/ is served by the app.
 *
 * - WASM: the tiny model on a synthetic cylinder CT; the mask must equal the Node pipeline's (onnxruntime-node,
 *   computed in this test process) on >= 99.9% of voxels. Package cache, progress per tile and cancel are checked.
 * - WebGPU: a separate Chromium with --enable-unsafe-webgpu (SwiftShader adapter, software): the verbose node
 *   placement report must put every node on WebGPU, and the mask must equal the WASM one (>= 99.9%).
 * - Bad packages: a checksum mismatch and a rank-4 model give clear BAD_MODEL messages.
 * Timings (session creation, per tile) are printed and attached to the test as annotations.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, expect, test, type Page, type TestInfo } from '@playwright/test';
import { IDENTITY, type Vec3, type VolumeGeometry } from '../src/core/geometry';
import type { ModelManifest } from '../src/pipeline/manifest';
import { segment } from '../src/pipeline/run';
import { cylinderPhantom, tinyManifest } from '../src/pipeline/synthetic';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.resolve(HERE, '../src/inference/fixtures');
const TINY_PATH = path.join(FIXTURES, 'tiny-conv3d-softmax.onnx');
const TINY = readFileSync(TINY_PATH);
const RANK4 = readFileSync(path.join(FIXTURES, 'tiny-rank4-identity.onnx'));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const TINY_SHA = sha(TINY);
const RANK4_SHA = sha(RANK4);

/** Volume centred on the LPS origin (so the phantom's cylinders at x = ±45 mm, |z| <= 50 mm are inside). */
function centredGeometry(dimensions: Vec3, spacing: Vec3): VolumeGeometry {
  return {
    dimensions,
    spacing,
    origin: [0, 1, 2].map((a) => (-(dimensions[a] - 1) / 2) * spacing[a]) as Vec3,
    direction: [...IDENTITY],
  };
}

interface Served {
  /** Requests seen per file name. */
  hits: Record<string, number>;
}

/** Serves a model package at /e2e-models/<dir>/ (manifest.json + model.onnx) through page.route. */
async function servePackage(page: Page, dir: string, manifest: object, onnx: Buffer): Promise<Served> {
  const served: Served = { hits: {} };
  await page.route(`**/e2e-models/${dir}/*`, async (route) => {
    const file = new URL(route.request().url()).pathname.split('/').pop()!;
    served.hits[file] = (served.hits[file] ?? 0) + 1;
    if (file === 'manifest.json') return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(manifest) });
    if (file === 'model.onnx') return route.fulfill({ status: 200, contentType: 'application/octet-stream', body: onnx });
    return route.fulfill({ status: 404, body: 'not found' });
  });
  return served;
}

function tinyPackageManifest(overrides: Partial<ModelManifest> = {}): ModelManifest {
  return { ...tinyManifest(), onnx: 'model.onnx', sha256: TINY_SHA, ...overrides };
}

async function openApp(page: Page): Promise<void> {
  // Uncaught errors only: the console carries ORT's (verbose) log and shader dumps in the WebGPU test.
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.goto('/?e2e=1');
  await page.waitForFunction(() => !!window.__psoasInference, undefined, { timeout: 30_000 });
}

interface PageRun {
  load: { backend: string; fallbackReason?: string; fromCache: boolean; verified: boolean; timings: Record<string, number>; placement: unknown; numThreads: number; webgpu?: unknown };
  mask: number[];
  maskGeometry: VolumeGeometry;
  backend: string;
  timings: Record<string, unknown> & { tiles: number[] };
  stages: string[];
  tileEvents: Array<{ done: number; total: number }>;
  imageBack: number;
  wallMs: number;
  logs: number;
}

/** Runs loadModel + segment in a fresh worker on the page; returns plain data. */
async function runInPage(
  page: Page,
  args: {
    url: string;
    preferred: 'wasm' | 'webgpu' | 'auto';
    verbose?: boolean;
    geometry: VolumeGeometry;
    data: number[];
    client: string;
    maxTileVoxels?: number;
  },
): Promise<PageRun> {
  return page.evaluate(async ({ url, preferred, verbose, geometry, data, client, maxTileVoxels }) => {
    const h = window.__psoasInference!;
    const c = (h.clients[client] ??= h.createInferenceClient());
    const load = await c.loadModel({ url }, { preferred, verbose });
    const stages: string[] = [];
    const tileEvents: Array<{ done: number; total: number }> = [];
    const t0 = performance.now();
    const image = { geometry, data: Int16Array.from(data), units: 'HU' as const, meta: { source: 'e2e synthetic cylinders' } };
    const r = await c.segment(image, { maxTileVoxels }, (p) => {
      if (stages[stages.length - 1] !== p.stage) stages.push(p.stage);
      if (p.tile) tileEvents.push({ done: p.tile.done, total: p.tile.total });
    });
    const wallMs = performance.now() - t0;
    return {
      load: {
        backend: load.backend,
        fallbackReason: load.fallbackReason,
        fromCache: load.fromCache,
        verified: load.verified,
        timings: load.timings,
        placement: load.placement,
        numThreads: load.numThreads,
        webgpu: load.webgpu,
      },
      mask: Array.from(r.mask.data),
      maskGeometry: r.mask.geometry,
      backend: r.backend,
      timings: r.timings as unknown as PageRun['timings'],
      stages,
      tileEvents,
      imageBack: r.image.data.length,
      wallMs,
      logs: (await c.logs()).length,
    };
  }, args);
}

function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let same = 0;
  for (let v = 0; v < a.length; v++) if (a[v] === b[v]) same++;
  return same / a.length;
}

function count(a: ArrayLike<number>, label: number): number {
  let n = 0;
  for (let v = 0; v < a.length; v++) if (a[v] === label) n++;
  return n;
}

async function nodeMask(geometry: VolumeGeometry, manifest: ModelManifest, model: string | Uint8Array = TINY_PATH, maxTileVoxels?: number): Promise<Uint8Array> {
  const { createNodeSession } = await import('../src/inference/ort-node');
  const session = await createNodeSession(model, { manifest, intraOpNumThreads: 1, cacheKey: `e2e:${manifest.name}:${manifest.sha256}` });
  const { ct } = cylinderPhantom(geometry);
  const r = await segment(ct, manifest, session.predictTile, { maxTileVoxels });
  return r.mask.data;
}

const BROWSER_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** A separate Chromium with WebGPU (SwiftShader here); `fn` gets a page of the app. Skips when no adapter. */
async function withWebGpuPage(baseURL: string | undefined, fn: (page: Page) => Promise<void>): Promise<void> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...BROWSER_ARGS, '--enable-unsafe-webgpu'],
  });
  try {
    const context = await browser.newContext({ baseURL });
    const page = await context.newPage();
    await fn(page);
  } finally {
    await browser.close();
  }
}

async function skipWithoutWebGpu(page: Page): Promise<void> {
  const hasGpu = await page.evaluate(async () => !!(await (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu?.requestAdapter()));
  if (!hasGpu) console.warn('Skipping: no WebGPU adapter in this Chromium even with --enable-unsafe-webgpu');
  test.skip(!hasGpu, 'No WebGPU adapter in this Chromium even with --enable-unsafe-webgpu');
}

function report(testInfo: TestInfo, name: string, text: string): void {
  console.log(`[inference timings] ${name}: ${text}`);
  testInfo.annotations.push({ type: `timing: ${name}`, description: text });
}

const ms = (x: number) => `${x.toFixed(0)} ms`;
const tileStats = (t: number[]) =>
  t.length ? `${t.length} tiles, first ${ms(t[0])}, median ${ms([...t].sort((a, b) => a - b)[Math.floor(t.length / 2)])}` : 'no tiles';

test.describe('in-browser inference (onnxruntime-web in a worker)', () => {
  test('WASM: tiny model on a synthetic CT matches the Node pipeline; cached package; progress per tile', async ({ page }, testInfo) => {
    // 80 x 70 x 44 voxels at 2.5 x 2.5 x 3 mm → model grid 67 x 58 x 44 at 3 mm → 8 tiles of 32^3.
    const geometry = centredGeometry([80, 70, 44], [2.5, 2.5, 3]);
    const manifest = tinyPackageManifest();
    const { ct, truth } = cylinderPhantom(geometry);
    const served = await servePackage(page, 'tiny', manifest, TINY);
    await openApp(page);

    const web = await runInPage(page, { url: '/e2e-models/tiny/manifest.json', preferred: 'wasm', geometry, data: Array.from(ct.data), client: 'wasm' });
    expect(web.load.backend).toBe('onnxruntime-web/wasm');
    expect(web.backend).toBe('onnxruntime-web/wasm');
    expect(web.load.fallbackReason).toBeUndefined();
    expect(web.load.verified).toBe(true);
    expect(web.load.fromCache).toBe(false);
    expect(web.maskGeometry).toEqual(geometry);
    expect(web.imageBack).toBe(ct.data.length); // the transferred CT came back
    expect(web.stages).toEqual(['reorient', 'resample', 'normalise', 'inference', 'argmax', 'mapBack', 'postprocess']);
    expect(web.timings.tiles.length).toBeGreaterThan(1);
    expect(web.tileEvents.length).toBe(web.timings.tiles.length);
    expect(web.tileEvents[web.tileEvents.length - 1]).toEqual({ done: web.timings.tiles.length, total: web.timings.tiles.length });

    const want = await nodeMask(geometry, manifest);
    const agree = agreement(web.mask, want);
    console.log(`WASM vs onnxruntime-node: ${(agree * 100).toFixed(4)}% voxels equal; left ${count(web.mask, 1)}, right ${count(web.mask, 2)} voxels`);
    expect(agree).toBeGreaterThanOrEqual(0.999);
    // And the mask is the phantom's cylinders, not an empty or full volume.
    expect(count(web.mask, 1)).toBeGreaterThan(0.9 * count(truth, 1));
    expect(count(web.mask, 2)).toBeGreaterThan(0.9 * count(truth, 2));

    report(
      testInfo,
      'WASM',
      `session creation ${ms(web.load.timings.session)} (${web.load.numThreads} thread(s)), ${tileStats(web.timings.tiles)} of ${String(web.timings.tileSize)}, segment total ${ms(web.timings.total as number)} (wall ${ms(web.wallMs)})`,
    );

    // What the worker reports about its runtime: isolated page (COOP/COEP) → multithreaded WASM.
    const info = await page.evaluate(() => window.__psoasInference!.clients.wasm.backendInfo());
    console.log(`backendInfo: ${JSON.stringify(info)}`);
    expect(info.crossOriginIsolated).toBe(true);
    expect(info.numThreads).toBe(Math.min(4, info.hardwareConcurrency));
    expect(info.model).toMatchObject({ name: 'tiny-conv3d-softmax', sha256: TINY_SHA, backend: 'onnxruntime-web/wasm' });
    expect(info.ortVersion).toBe('1.30.0');

    // A second worker loads the same package from Cache Storage: the ONNX is not downloaded again.
    expect(served.hits['model.onnx']).toBe(1);
    const again = await runInPage(page, { url: '/e2e-models/tiny/manifest.json', preferred: 'wasm', geometry, data: Array.from(ct.data), client: 'wasm2' });
    expect(again.load.fromCache).toBe(true);
    expect(served.hits['model.onnx']).toBe(1);
    expect(agreement(again.mask, web.mask)).toBe(1);
    report(testInfo, 'WASM (cached package, 2nd worker)', `onnx read ${ms(again.load.timings.onnx)}, verify ${ms(again.load.timings.verify)}, session ${ms(again.load.timings.session)}`);
  });

  test('cancel() aborts a running segmentation with an AbortError; the worker stays usable', async ({ page }) => {
    const geometry = centredGeometry([80, 70, 44], [2.5, 2.5, 3]);
    await servePackage(page, 'tiny', tinyPackageManifest(), TINY);
    await openApp(page);
    const { ct } = cylinderPhantom(geometry);
    const out = await page.evaluate(
      async ({ geometry, data }) => {
        const h = window.__psoasInference!;
        const c = h.createInferenceClient();
        // 'auto' in this browser (no --enable-unsafe-webgpu): WASM, and it says why not WebGPU.
        const load = await c.loadModel({ url: '/e2e-models/tiny/manifest.json' }, { preferred: 'auto' });
        const info = await c.backendInfo();
        const image = () => ({ geometry, data: Int16Array.from(data), units: 'HU' as const, meta: {} });
        let tilesSeen = 0;
        let err: unknown;
        try {
          await c.segment(image(), {}, (p) => {
            if (p.tile && ++tilesSeen === 1) void c.cancel();
          });
        } catch (e) {
          err = e;
        }
        const after = await c.segment(image());
        c.terminate();
        return {
          aborted: h.isAbortError(err),
          message: String((err as Error)?.message),
          tilesSeen,
          afterTiles: after.timings.tiles.length,
          auto: { backend: load.backend, fallbackReason: load.fallbackReason, webgpuAvailable: info.webgpu.available },
        };
      },
      { geometry, data: Array.from(ct.data) },
    );
    console.log(`cancel: ${JSON.stringify(out)}`);
    if (!out.auto.webgpuAvailable) {
      expect(out.auto.backend).toBe('onnxruntime-web/wasm');
      expect(out.auto.fallbackReason).toMatch(/WebGPU/);
    } else expect(out.auto.backend).toBe('onnxruntime-web/webgpu');
    expect(out.aborted).toBe(true);
    expect(out.message).toMatch(/cancel/i);
    expect(out.tilesSeen).toBeLessThan(out.afterTiles);
  });

  test('bad packages: checksum mismatch and a rank-4 model give clear BAD_MODEL errors', async ({ page }) => {
    const wrongSha = '0123456789abcdef'.repeat(4);
    await servePackage(page, 'corrupt', tinyPackageManifest({ name: 'psoas-corrupt', version: '9.9.9', sha256: wrongSha }), TINY);
    const rank4Manifest = tinyPackageManifest({ name: 'rank4', sha256: RANK4_SHA });
    rank4Manifest.output = { ...rank4Manifest.output, name: 'out' };
    await servePackage(page, 'rank4', rank4Manifest, RANK4);
    await openApp(page);
    const errs = await page.evaluate(async () => {
      const h = window.__psoasInference!;
      const c = h.createInferenceClient();
      const tryLoad = async (url: string) => {
        try {
          await c.loadModel({ url }, { preferred: 'wasm' });
          return { code: 'none', message: 'loaded' };
        } catch (e) {
          const pe = e as { code?: string; message: string; name: string };
          return { code: String(pe.code), message: pe.message, name: pe.name };
        }
      };
      const r = { corrupt: await tryLoad('/e2e-models/corrupt/manifest.json'), rank4: await tryLoad('/e2e-models/rank4/manifest.json') };
      c.terminate();
      return r;
    });
    console.log(`checksum mismatch → ${errs.corrupt.message}\nrank 4 → ${errs.rank4.message}`);
    expect(errs.corrupt.code).toBe('BAD_MODEL');
    expect(errs.corrupt.name).toBe('PsoasError');
    expect(errs.corrupt.message).toContain('"psoas-corrupt" version 9.9.9');
    expect(errs.corrupt.message).toContain(`has sha256 ${TINY_SHA}`);
    expect(errs.corrupt.message).toContain(`says ${wrongSha}`);
    expect(errs.corrupt.message).toMatch(/\/e2e-models\/corrupt\/model\.onnx/);
    expect(errs.rank4.code).toBe('BAD_MODEL');
    expect(errs.rank4.message).toMatch(/input "image" has rank 4 \[1, 1, H, W\]; the pipeline feeds rank 5/);
    expect(errs.rank4.message).toContain('rank4');
  });

  test('WebGPU (SwiftShader): every node placed on WebGPU, mask equals the WASM one', async ({ baseURL }, testInfo) => {
    test.setTimeout(300_000);
    await withWebGpuPage(baseURL, async (page) => {
      // 24 x 24 x 16 voxels at 6 x 6 x 8 mm (144 x 144 x 128 mm: both cylinders inside) → model grid 48 x 48 x 43.
      const geometry = centredGeometry([24, 24, 16], [6, 6, 8]);
      const { ct } = cylinderPhantom(geometry);
      await servePackage(page, 'tiny', tinyPackageManifest(), TINY);
      await openApp(page);
      await skipWithoutWebGpu(page);

      const gpu = await runInPage(page, { url: '/e2e-models/tiny/manifest.json', preferred: 'webgpu', verbose: true, geometry, data: Array.from(ct.data), client: 'gpu' });
      const wasm = await runInPage(page, { url: '/e2e-models/tiny/manifest.json', preferred: 'wasm', geometry, data: Array.from(ct.data), client: 'wasm' });
      console.log(`WebGPU adapter: ${JSON.stringify(gpu.load.webgpu)}\nplacement: ${JSON.stringify(gpu.load.placement)}`);
      expect(gpu.load.fallbackReason).toBeUndefined();
      expect(gpu.load.backend).toBe('onnxruntime-web/webgpu');
      expect(gpu.backend).toBe('onnxruntime-web/webgpu');
      const placement = gpu.load.placement as Array<{ provider: string; count: number; nodes: string[] }> | null;
      expect(placement, 'verbose log has a node placement report').not.toBeNull();
      expect(placement!.length).toBeGreaterThan(0);
      for (const p of placement!) expect(p.provider, `nodes ${p.nodes.join(', ')} placed on ${p.provider}`).toMatch(/WebGpu/i);
      // Conv + Softmax, plus the layout Transposes the WebGPU EP inserts (it prefers NHWC): all counted above.
      expect(placement!.reduce((n, p) => n + p.count, 0)).toBeGreaterThanOrEqual(2);
      expect(gpu.logs).toBeGreaterThan(0);

      const agree = agreement(gpu.mask, wasm.mask);
      console.log(`WebGPU vs WASM: ${(agree * 100).toFixed(4)}% voxels equal; left ${count(gpu.mask, 1)}, right ${count(gpu.mask, 2)}`);
      expect(agree).toBeGreaterThanOrEqual(0.999);
      expect(count(gpu.mask, 1)).toBeGreaterThan(0);
      expect(count(gpu.mask, 2)).toBeGreaterThan(0);

      // Device loss (as after a driver reset): the next run recreates the session on WASM and says why.
      const lost = await page.evaluate(
        async ({ geometry, data }) => {
          const c = window.__psoasInference!.clients.gpu;
          const ok = await c.simulateDeviceLoss();
          const r = await c.segment({ geometry, data: Int16Array.from(data), units: 'HU' as const, meta: {} });
          return { ok, backend: r.backend, fallbackReason: r.fallbackReason, mask: Array.from(r.mask.data) };
        },
        { geometry, data: Array.from(ct.data) },
      );
      console.log(`after device loss: ${lost.backend}, fallbackReason: ${lost.fallbackReason}`);
      expect(lost.ok).toBe(true);
      expect(lost.backend).toBe('onnxruntime-web/wasm');
      expect(lost.fallbackReason).toMatch(/WebGPU device lost/);
      expect(agreement(lost.mask, wasm.mask)).toBeGreaterThanOrEqual(0.999);

      report(testInfo, 'WebGPU (SwiftShader)', `session creation ${ms(gpu.load.timings.session)}, ${tileStats(gpu.timings.tiles)} of ${String(gpu.timings.tileSize)}, segment total ${ms(gpu.timings.total as number)}`);
      report(testInfo, 'WASM (same volume)', `session creation ${ms(wasm.load.timings.session)}, ${tileStats(wasm.timings.tiles)}, segment total ${ms(wasm.timings.total as number)}`);
    });
  });

  test('served model package (/models/index.json): verified, every node on WebGPU, WebGPU = WASM = Node', async ({ baseURL }, testInfo) => {
    // The app's own package (models/<name>/, served by src/inference/vite-models-plugin.ts); E2E_MODEL_PACKAGE picks
    // another name. Small volume and 16^3 tiles: a real U-Net runs ~100x slower on SwiftShader than on WASM.
    test.setTimeout(300_000);
    const name = process.env.E2E_MODEL_PACKAGE ?? 'psoas-unet3d';
    await withWebGpuPage(baseURL, async (page) => {
      await openApp(page);
      const list = await page.evaluate(() => window.__psoasInference!.listModelPackages());
      const entry = list.find((m) => m.name === name);
      if (!entry) console.warn(`Skipping: no model package "${name}" in /models/index.json (listed: ${list.map((m) => m.name).join(', ') || 'none'}); train one into models/${name}/ first`);
      test.skip(!entry, `no model package "${name}" served (models/${name}/ absent when the app was built)`);
      await skipWithoutWebGpu(page);

      const manifest = (await (await fetch(entry!.manifestUrl)).json()) as ModelManifest;
      const onnxUrl = new URL(manifest.onnx ?? 'model.onnx', entry!.manifestUrl).href;
      const onnx = new Uint8Array(await (await fetch(onnxUrl)).arrayBuffer());
      expect(sha(Buffer.from(onnx))).toBe(manifest.sha256);
      // 4 mm voxels covering 16 voxels of the model grid per axis (2 x 2 x 3 mm → 8 x 8 x 12 voxels): one 16^3 tile.
      const ts = manifest.input.target_spacing_mm;
      const geometry = centredGeometry([0, 1, 2].map((a) => Math.max(4, Math.round((16 * ts[a]) / 4))) as Vec3, [4, 4, 4]);
      const { ct } = cylinderPhantom(geometry);
      const maxTileVoxels = 16 ** 3;
      const args = { url: entry!.manifestUrl, geometry, data: Array.from(ct.data), maxTileVoxels };
      const gpu = await runInPage(page, { ...args, preferred: 'webgpu', verbose: true, client: 'gpu' });
      const wasm = await runInPage(page, { ...args, preferred: 'wasm', client: 'wasm' });
      const node = await nodeMask(geometry, manifest, onnx, maxTileVoxels);
      const placement = gpu.load.placement as Array<{ provider: string; count: number; nodes: string[] }> | null;
      console.log(`${name} ${manifest.version}: placement ${JSON.stringify(placement)}`);
      expect(gpu.load.verified).toBe(true);
      expect(gpu.backend).toBe('onnxruntime-web/webgpu');
      expect(placement).not.toBeNull();
      for (const p of placement!) expect(p.provider, `nodes ${p.nodes.join(', ')} placed on ${p.provider}`).toMatch(/WebGpu/i);
      const gw = agreement(gpu.mask, wasm.mask);
      const wn = agreement(wasm.mask, node);
      console.log(`${name}: WebGPU vs WASM ${(gw * 100).toFixed(3)}%, WASM vs Node ${(wn * 100).toFixed(3)}% voxels equal`);
      expect(gw).toBeGreaterThanOrEqual(0.999);
      expect(wn).toBeGreaterThanOrEqual(0.999);
      report(testInfo, `${name} WebGPU (SwiftShader)`, `session creation ${ms(gpu.load.timings.session)}, ${tileStats(gpu.timings.tiles)} of ${String(gpu.timings.tileSize)}`);
      report(testInfo, `${name} WASM`, `session creation ${ms(wasm.load.timings.session)}, ${tileStats(wasm.timings.tiles)} of ${String(wasm.timings.tileSize)}`);
    });
  });
});
