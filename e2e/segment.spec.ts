/**
 * End-to-end: the viewer's Segmentation panel with the real model package of models/ (served at /models/).
 *
 * - The sample study is segmented from the UI on WASM; the overlay must be drawn in all three views (screenshots with
 *   the overlay on vs off: coloured pixels appear only with it on), the patient's LEFT psoas orange on the image's
 *   RIGHT half of the axial view, the right psoas cyan.
 * - "Browser and CLI give the same mask and figures": `psoasview segment` runs on the same DICOM folder in this
 *   test process (child_process), with the level the UI took from the axial view and height 1.75 m; the panel's
 *   figures must equal its measurements.json within 0.1 %, the downloaded mask its psoas-mask.nii.gz on >= 99.9 % of
 *   voxels, the downloaded measurements.json its structures. The agreement is printed.
 * - Cancel during inference: back to ready with "Cancelled", the earlier result and overlay still there, views drawn.
 * - Bad packages through the UI (checksum mismatch, rank-4 model, unreachable URL): a clear BAD_MODEL message in the
 *   panel while the study stays open.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { indexToWorld, type Vec3, type VolumeGeometry } from '../src/core/geometry';
import { readNifti } from '../src/core/io/nifti';
import { decodeRunLengths } from '../src/app/maskStats';
import { tinyManifest } from '../src/pipeline/synthetic';
import { REPO_ROOT } from './fixtures';
import { VIEWS, litFraction, waitForViews, type View } from './helpers';

const run = promisify(execFile);
const SAMPLE_DICOM = path.join(REPO_ROOT, 'public', 'sample', 'dicom');
const FIXTURES = path.join(REPO_ROOT, 'src', 'inference', 'fixtures');
/** The model package (models/<name>/) the panel runs and the CLI compares against (the CLI's default: first in models/). */
const MODEL_NAME = process.env.E2E_MODEL_PACKAGE ?? 'psoas-unet3d';

/** The part of window.__psoasview the spec uses (src/app/testApi.ts). */
interface SegApi {
  state: string;
  note: string | null;
  error?: { code: string; message: string };
  progress: { stage: string; fraction: number; tile?: { done: number; total: number } } | null;
  model: { name: string; version: string; sha256: string; fromCache: boolean; backend: string; numThreads: number } | null;
  backend: string | null;
  numThreads: number | null;
  hasResult: boolean;
  levelZmm: number | null;
  heightM: number | null;
  overlay: { visible: boolean; opacity: number; viewsWithOverlay: number };
  measurements(): Measurements | null;
  maskLabelCounts(): Record<number, number> | null;
  maskRunLengths(): number[] | null;
  mask(): { id: string; dimensions: Vec3; spacing: Vec3; origin: Vec3; direction: number[] } | null;
}
interface Structure {
  present: boolean;
  volume_ml: number;
  length_mm: number;
  extent_mm: number;
  max_csa_mm2: number;
  max_csa_z_mm: number | null;
  mean_hu: number | null;
  csa_at_level_mm2?: number;
  mean_hu_at_level?: number | null;
  truncated: boolean;
}
interface Measurements {
  structures: Record<string, Structure>;
  tpa_cm2?: number;
  pmi_cm2_per_m2?: number;
}
interface CliReport extends Measurements {
  backend: string;
  options: { level_z_mm?: number; height_m?: number; hu_window: [number, number] };
  mask: { labels: Record<string, number> };
  warnings: string[];
}
type SW = { __psoasview: { viewsReady: boolean; state: string; segmentation: SegApi; volume(): { geometry: VolumeGeometry } | null; worldToCanvas(v: View, p: Vec3): [number, number]; jumpTo(p: Vec3): void } };

const seg = (page: Page) => page.evaluate(() => {
  const s = (window as unknown as SW).__psoasview.segmentation;
  return { state: s.state, note: s.note, error: s.error, progress: s.progress, model: s.model, backend: s.backend, numThreads: s.numThreads, hasResult: s.hasResult, levelZmm: s.levelZmm, heightM: s.heightM, overlay: s.overlay, maskId: s.mask()?.id ?? null };
});

interface Shot {
  width: number;
  height: number;
  /** Screenshot px per CSS px. */
  scale: number;
  rgb: Uint8Array;
  png: Buffer;
}

/** RGB of a viewport's screenshot (PNG decoded in the page, pixels back as base64), with the PNG itself. */
async function viewportRgb(page: Page, view: View): Promise<Shot> {
  const vp = page.getByTestId(`viewport-${view}`);
  const png = await vp.screenshot();
  const cssWidth = (await vp.boundingBox())!.width;
  const d = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    let bin = '';
    for (let i = 0; i < px.length; i += 4) bin += String.fromCharCode(px[i], px[i + 1], px[i + 2]);
    return { width: c.width, height: c.height, rgb: btoa(bin) };
  }, png.toString('base64'));
  return { width: d.width, height: d.height, scale: d.width / cssWidth, rgb: new Uint8Array(Buffer.from(d.rgb, 'base64')), png };
}

async function attachShot(testInfo: TestInfo, name: string, shot: Shot): Promise<void> {
  const file = testInfo.outputPath(name);
  fs.writeFileSync(file, shot.png);
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
}

type Hue = 'orange' | 'cyan' | null;
/** Overlay colours blended over grey CT (src/viewer/labels.ts: left [255,150,0], right [0,200,255]). */
function hue(r: number, g: number, b: number): Hue {
  if (r > b + 60 && g > b + 20 && r >= g) return 'orange';
  if (b > r + 60 && g > r + 40) return 'cyan';
  return null;
}

/** Pixels coloured orange / cyan with the overlay on that are not so with it off (markers, titles cancel out). */
function overlayPixels(on: Uint8Array, off: Uint8Array): { orange: number; cyan: number } {
  let orange = 0;
  let cyan = 0;
  for (let i = 0; i < on.length; i += 3) {
    const h = hue(on[i], on[i + 1], on[i + 2]);
    if (!h || hue(off[i], off[i + 1], off[i + 2]) === h) continue;
    if (h === 'orange') orange++;
    else cyan++;
  }
  return { orange, cyan };
}

/** Hue of the 5x5 neighbourhood majority around a CSS-px point of a screenshot. */
function hueAt(shot: Shot, [x, y]: [number, number]): Hue {
  const votes: Record<string, number> = {};
  for (let dy = -2; dy <= 2; dy++)
    for (let dx = -2; dx <= 2; dx++) {
      const px = Math.min(shot.width - 1, Math.max(0, Math.round(x * shot.scale) + dx));
      const py = Math.min(shot.height - 1, Math.max(0, Math.round(y * shot.scale) + dy));
      const o = 3 * (px + shot.width * py);
      const h = hue(shot.rgb[o], shot.rgb[o + 1], shot.rgb[o + 2]) ?? 'none';
      votes[h] = (votes[h] ?? 0) + 1;
    }
  const best = Object.entries(votes).sort((a, b) => b[1] - a[1])[0][0];
  return best === 'none' ? null : (best as Hue);
}

/**
 * A point surely inside label `label` (LPS mm): the centroid of its voxels on the axial slice where it is largest,
 * checked to fall on a voxel of that label.
 */
function interiorPoint(g: VolumeGeometry, data: Uint8Array, label: number): Vec3 {
  const [nx, ny, nz] = g.dimensions;
  const perSlice = new Float64Array(nz);
  for (let v = 0; v < data.length; v++) if (data[v] === label) perSlice[Math.floor(v / (nx * ny))]++;
  let k = 0;
  for (let kk = 1; kk < nz; kk++) if (perSlice[kk] > perSlice[k]) k = kk;
  let si = 0;
  let sj = 0;
  let n = 0;
  for (let j = 0; j < ny; j++)
    for (let i = 0; i < nx; i++)
      if (data[i + nx * (j + ny * k)] === label) {
        si += i;
        sj += j;
        n++;
      }
  const ci = Math.round(si / n);
  const cj = Math.round(sj / n);
  if (data[ci + nx * (cj + ny * k)] !== label) throw new Error(`label ${label}: slice centroid (${ci}, ${cj}, ${k}) is not inside the structure`);
  return indexToWorld(g, [ci, cj, k]);
}

function relDiff(a: number, b: number): number {
  if (a === b) return 0;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}

async function attach(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const file = testInfo.outputPath(name);
  await page.screenshot({ path: file });
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
}

async function download(page: Page, testId: string, testInfo: TestInfo): Promise<{ name: string; bytes: Buffer }> {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
  const file = testInfo.outputPath(dl.suggestedFilename());
  await dl.saveAs(file);
  return { name: dl.suggestedFilename(), bytes: fs.readFileSync(file) };
}

/** One script of a Long Animation Frame entry (what invoked it and for how long, ms). */
interface LoafScript {
  invokerType: string;
  invoker: string;
  /** Where the script came from (bundle URL and function name, when Chromium knows them): which handler was long. */
  source?: string;
  ms: number;
  /** ms after the probe started (just before "Segment psoas" is clicked). */
  at: number;
}

function onPageErrors(page: Page): void {
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
}

test.describe('segmentation panel (real model, sample study)', () => {
  test('Segment psoas on WASM: overlay in all views, figures and mask equal the CLI, L3 level + PMI, cancel keeps the result', async ({ page }, testInfo) => {
    test.setTimeout(720_000);
    onPageErrors(page);
    // Read at test time: the package may be retrained or replaced.
    const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'models', MODEL_NAME, 'manifest.json'), 'utf8')) as { name: string; sha256: string; version: string };
    const laps: string[] = [];
    let tLap = Date.now();
    const lap = (what: string) => {
      laps.push(`${what} ${((Date.now() - tLap) / 1000).toFixed(1)} s`);
      tLap = Date.now();
    };
    await page.goto('/viewer?sample=1');
    const st = await waitForViews(page);
    lap('open sample');
    expect(st.error, JSON.stringify(st.error)).toBeUndefined();

    // Model picker lists the served package (chosen by name: others may be served too); WASM, so the browser runs
    // the CPU path the CLI is compared to.
    const select = page.getByTestId('model-select');
    await expect(select).toContainText(MODEL_NAME);
    await select.selectOption({ label: `${manifest.name} ${manifest.version}` });
    await page.getByTestId('backend-select').selectOption('wasm');
    await expect(page.getByTestId('results')).toHaveCount(0);

    // Run; while it runs, the views keep drawing and the progress names the stage and tile. The main thread must
    // stay responsive: the longest gap between animation frames is recorded over the whole run.
    await page.evaluate(() => {
      const w = window as unknown as { __maxFrameGap: number; __frames: boolean; __loaf: LoafScript[] };
      w.__maxFrameGap = 0;
      w.__frames = true;
      // Long Animation Frames (Chromium ≥ 123): every script that ran in a frame over 50 ms, with what invoked it.
      w.__loaf = [];
      const t0 = performance.now();
      new PerformanceObserver((list) => {
        type Script = { invokerType: string; invoker: string; duration: number; startTime: number; sourceURL?: string; sourceFunctionName?: string; sourceCharPosition?: number };
        for (const f of list.getEntries() as unknown as { scripts: Script[] }[])
          for (const sc of f.scripts)
            w.__loaf.push({
              invokerType: sc.invokerType,
              invoker: sc.invoker,
              source: `${(sc.sourceURL ?? '').replace(/^.*\//, '')}:${sc.sourceFunctionName ?? ''}@${sc.sourceCharPosition ?? ''}`,
              ms: sc.duration,
              at: sc.startTime - t0,
            });
      }).observe({ type: 'long-animation-frame' });
      let last = performance.now();
      const tick = (t: number) => {
        w.__maxFrameGap = Math.max(w.__maxFrameGap, t - last);
        last = t;
        if (w.__frames) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    const t0 = Date.now();
    await page.getByTestId('segment-button').click();
    await expect(page.getByTestId('seg-progress-text')).toContainText(/inference: tile \d+\/\d+/, { timeout: 120_000 });
    for (const v of VIEWS) expect(await litFraction(page, v), `${v} view drawn during the run`).toBeGreaterThan(0.05);
    await expect.poll(async () => (await seg(page)).hasResult, { timeout: 480_000, intervals: [500] }).toBe(true);
    const uiMs = Date.now() - t0;
    lap('UI segmentation');
    // Let the overlay's first draws land in the record.
    await expect.poll(async () => (await seg(page)).overlay.viewsWithOverlay, { timeout: 30_000 }).toBe(3);
    await page.waitForTimeout(1000);
    const { maxFrameGap, loaf } = await page.evaluate(() => {
      const w = window as unknown as { __maxFrameGap: number; __frames: boolean; __loaf: LoafScript[] };
      w.__frames = false;
      return { maxFrameGap: w.__maxFrameGap, loaf: w.__loaf };
    });
    // Cornerstone draws the views in animation-frame callbacks; on this machine the GPU is SwiftShader (on the
    // CPU), and the overlay's FIRST draw (label texture upload, two-volume shader compiled in software) is one long
    // frame that a real GPU does not have. Everything else — the app's own work and Cornerstone's set-up of the
    // overlay (label volume built a few slices per task, localVolume.ts) — must stay short.
    const isDraw = (x: LoafScript) => x.invokerType === 'user-callback' && x.invoker === 'FrameRequestCallback';
    const longest = (xs: LoafScript[]) => xs.reduce((a, x) => (x.ms > a.ms ? x : a), { invokerType: '-', invoker: '-', ms: 0, at: 0 });
    const work = longest(loaf.filter((x) => !isDraw(x)));
    const draw = longest(loaf.filter(isDraw));
    console.log(
      `[segment] during the ${(uiMs / 1000).toFixed(1)} s run and the overlay's first draws: longest frame gap ${maxFrameGap.toFixed(0)} ms; ` +
        `longest script outside drawing ${work.ms.toFixed(0)} ms (${work.invoker}, ${work.source ?? '?'}, at ${(work.at / 1000).toFixed(1)} s); ` +
        `longest draw callback ${draw.ms.toFixed(0)} ms (at ${(draw.at / 1000).toFixed(1)} s)`,
    );
    console.log(`[segment] scripts outside drawing over 50 ms: ${JSON.stringify(loaf.filter((x) => !isDraw(x) && x.ms > 50))}`);
    // Measured 23, 38, 38 and 63 ms in four runs on a 2-core machine (slab tasks and message handlers; the 63 ms one
    // at the start of the run, 0.3 s, not profiled). Inference on the main thread would freeze the page for the whole run; building
    // the overlay's volume in one go took ~230 ms and copying the CT in one go 116–185 ms.
    expect(work.ms, `longest script outside drawing: ${JSON.stringify(work)}`).toBeLessThan(100);
    expect(maxFrameGap).toBeLessThan(Math.min(3000, uiMs / 3));
    const s = await seg(page);
    expect(s.error, JSON.stringify(s.error)).toBeUndefined();
    expect(s.state).toBe('ready');
    expect(s.backend).toBe('onnxruntime-web/wasm');
    expect(s.model).toMatchObject({ name: manifest.name, version: manifest.version, backend: 'onnxruntime-web/wasm' });
    await expect(page.getByTestId('seg-backend')).toContainText('onnxruntime-web/wasm');
    await expect(page.getByTestId('seg-note')).toContainText('Done');
    await expect(page.getByTestId('model-info')).toContainText(s.model!.sha256.slice(0, 12));
    // The app served the package that is in models/ now (the CLI's default); else dist/ predates it.
    expect(s.model!.sha256, `served model = models/${MODEL_NAME} (rebuild dist/ if it was retrained since)`).toBe(manifest.sha256);
    for (const v of VIEWS) expect(await litFraction(page, v), `${v} view drawn after the run`).toBeGreaterThan(0.05);

    // The browser's mask (run-length encoded by the test hook) → interior points of each psoas.
    const { runs, geometry } = await page.evaluate(() => {
      const a = (window as unknown as SW).__psoasview;
      return { runs: a.segmentation.maskRunLengths()!, geometry: a.volume()!.geometry };
    });
    const browserMask = decodeRunLengths(runs);
    expect(browserMask.length).toBe(geometry.dimensions[0] * geometry.dimensions[1] * geometry.dimensions[2]);
    const leftP = interiorPoint(geometry, browserMask, 1);
    const rightP = interiorPoint(geometry, browserMask, 2);
    expect(leftP[0], 'psoas_left (label 1) lies on the patient left (+x in LPS)').toBeGreaterThan(rightP[0]);

    // Overlay in all three views: through the left psoas first, then the right one (for the sagittal view).
    await page.evaluate((p) => (window as unknown as SW).__psoasview.jumpTo(p), leftP);
    await expect.poll(async () => (await seg(page)).overlay.viewsWithOverlay, { timeout: 30_000 }).toBe(3);
    const toggle = page.getByTestId('overlay-toggle');
    const canvasOf = (v: View, p: Vec3) => page.evaluate(([view, q]) => (window as unknown as SW).__psoasview.worldToCanvas(view, q), [v, p] as const);
    /** Waits until the axial view shows `want` at the LPS point (the overlay re-renders asynchronously). */
    const waitHue = async (p: Vec3, want: Hue) => {
      const xy = await canvasOf('axial', p);
      await expect.poll(async () => hueAt(await viewportRgb(page, 'axial'), xy), { timeout: 15_000 }).toBe(want);
      await page.waitForTimeout(200);
    };
    await waitHue(leftP, 'orange');
    const shots = async () => {
      const out = {} as Record<View, Shot>;
      for (const v of VIEWS) out[v] = await viewportRgb(page, v);
      return out;
    };
    const on = await shots();
    for (const v of VIEWS) await attachShot(testInfo, `overlay-on-${v}.png`, on[v]);
    await toggle.uncheck();
    await waitHue(leftP, null);
    const off = await shots();
    for (const v of VIEWS) await attachShot(testInfo, `overlay-off-${v}.png`, off[v]);
    const counts = Object.fromEntries(VIEWS.map((v) => [v, overlayPixels(on[v].rgb, off[v].rgb)])) as Record<View, { orange: number; cyan: number }>;
    console.log(`[segment] overlay pixels (on minus off) through the left psoas: ${JSON.stringify(counts)}`);
    for (const v of VIEWS) expect(counts[v].orange, `${v}: left psoas (orange) overlay drawn`).toBeGreaterThan(50);
    // Radiological convention: patient's left on the image's right; the colour there is the left psoas's.
    const box = (await page.getByTestId('viewport-axial').boundingBox())!;
    const lc = await canvasOf('axial', leftP);
    expect(lc[0], "patient's left psoas on the image's right half").toBeGreaterThan(box.width / 2);
    expect(hueAt(on.axial, lc)).toBe('orange');
    expect(hueAt(off.axial, lc)).toBeNull();

    // Through the right psoas: cyan in all three views, on the image's left half of the axial view.
    await toggle.check();
    await page.evaluate((p) => (window as unknown as SW).__psoasview.jumpTo(p), rightP);
    await waitHue(rightP, 'cyan');
    const on2 = await shots();
    await toggle.uncheck();
    await waitHue(rightP, null);
    const off2 = await shots();
    await toggle.check();
    await waitHue(rightP, 'cyan');
    const counts2 = Object.fromEntries(VIEWS.map((v) => [v, overlayPixels(on2[v].rgb, off2[v].rgb)])) as Record<View, { orange: number; cyan: number }>;
    console.log(`[segment] overlay pixels (on minus off) through the right psoas: ${JSON.stringify(counts2)}`);
    for (const v of VIEWS) expect(counts2[v].cyan, `${v}: right psoas (cyan) overlay drawn`).toBeGreaterThan(50);
    await attachShot(testInfo, 'overlay-on-sagittal-right.png', on2.sagittal);
    const rcAx = await canvasOf('axial', rightP);
    expect(rcAx[0], "patient's right psoas on the image's left half").toBeLessThan(box.width / 2);
    expect(hueAt(on2.axial, rcAx)).toBe('cyan');
    expect(hueAt(off2.axial, rcAx)).toBeNull();
    // Full opacity: the fill is (nearly) the pure label colour.
    // Opacity 100 %: (nearly) pure cyan [0, 200, 255] instead of cyan blended with the grey CT.
    await page.getByTestId('overlay-opacity').fill('100');
    await expect
      .poll(async () => {
        const full = await viewportRgb(page, 'axial');
        const o = 3 * (Math.round(rcAx[0] * full.scale) + full.width * Math.round(rcAx[1] * full.scale));
        return full.rgb[o] < 40 && full.rgb[o + 2] > 215 ? 'pure cyan' : `rgb ${full.rgb.slice(o, o + 3).join(',')}`;
      }, { timeout: 15_000 })
      .toBe('pure cyan');
    await page.getByTestId('overlay-opacity').fill('50');
    lap('overlay checks');

    // L3 level from the axial view (through the left psoas at its largest section), height 1.75 m.
    await page.evaluate((p) => (window as unknown as SW).__psoasview.jumpTo(p), leftP);
    await page.waitForTimeout(300);
    await page.getByTestId('level-from-axial').click();
    await expect.poll(async () => (await seg(page)).levelZmm).not.toBeNull();
    const levelZ = (await seg(page)).levelZmm!;
    expect(Math.abs(levelZ - leftP[2]), 'level = the axial slice shown (the left psoas point)').toBeLessThan(0.01);
    await page.getByTestId('height-input').fill('1.75');
    await expect(page.getByTestId('pmi')).toContainText('cm²/m²');
    await expect(page.getByTestId('m-csa-level-psoas_left')).not.toHaveText('–');
    await attach(page, testInfo, 'segmentation-panel.png');
    await page.getByTestId('results').screenshot({ path: testInfo.outputPath('results-panel.png') });

    // The CLI on the same DICOM folder, with the same level and height.
    const out = testInfo.outputPath('cli');
    const tc = Date.now();
    const { stdout } = await run(process.execPath, [path.join(REPO_ROOT, 'bin', 'psoasview.mjs'), 'segment', SAMPLE_DICOM, '--model', path.join(REPO_ROOT, 'models', MODEL_NAME), '--out', out, `--level=${levelZ}`, '--height', '1.75', '--json', '-q'], {
      cwd: REPO_ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    const cli = JSON.parse(stdout) as CliReport;
    lap('level, height, CLI');
    console.log(`[segment] UI run ${(uiMs / 1000).toFixed(1)} s (${s.backend}, ${s.numThreads} threads); CLI ${((Date.now() - tc) / 1000).toFixed(1)} s (${cli.backend})`);
    expect(cli.options.level_z_mm).toBe(levelZ);

    // Panel figures (data-value = the number behind the text) vs the CLI's measurements.json.
    const rows: Array<[string, keyof Structure, number]> = [
      ['volume', 'volume_ml', 2],
      ['length', 'length_mm', 1],
      ['extent', 'extent_mm', 1],
      ['max-csa', 'max_csa_mm2', 0],
      ['mean-hu', 'mean_hu', 1],
      ['csa-level', 'csa_at_level_mm2', 0],
    ];
    let maxRel = 0;
    const table: string[] = [];
    for (const side of ['psoas_left', 'psoas_right']) {
      expect(cli.structures[side].present, `${side} found by the CLI`).toBe(true);
      for (const [id, key, digits] of rows) {
        const cell = page.getByTestId(`m-${id}-${side}`);
        const ui = Number(await cell.getAttribute('data-value'));
        const want = cli.structures[side][key] as number;
        await expect(cell).toHaveText(ui.toFixed(digits));
        const d = relDiff(ui, want);
        maxRel = Math.max(maxRel, d);
        table.push(`${side} ${key}: UI ${ui} CLI ${want} (rel ${d.toExponential(2)})`);
        expect(d, `${side} ${key}: UI ${ui} vs CLI ${want}`).toBeLessThanOrEqual(0.001);
      }
      await expect(page.getByTestId(`m-truncated-${side}`)).toHaveText(cli.structures[side].truncated ? /yes/ : 'no');
    }
    const tpa = Number(await page.getByTestId('tpa').getAttribute('data-value'));
    const pmi = Number(await page.getByTestId('pmi').getAttribute('data-value'));
    for (const [name, ui, want] of [
      ['TPA cm²', tpa, cli.tpa_cm2!],
      ['PMI cm²/m²', pmi, cli.pmi_cm2_per_m2!],
    ] as const) {
      const d = relDiff(ui, want);
      maxRel = Math.max(maxRel, d);
      table.push(`${name}: UI ${ui} CLI ${want} (rel ${d.toExponential(2)})`);
      expect(d, `${name}: UI ${ui} vs CLI ${want}`).toBeLessThanOrEqual(0.001);
    }
    await expect(page.getByTestId('pmi')).toHaveText(`${pmi.toFixed(2)} cm²/m²`);

    // Downloads: measurements.json (the CLI's shape and figures) and the mask (NIfTI) vs the CLI's mask file.
    const rep = await download(page, 'download-report', testInfo);
    expect(rep.name).toBe('measurements.json');
    const uiReport = JSON.parse(rep.bytes.toString('utf8')) as CliReport & { tool: { runtime: string } };
    expect(uiReport.tool.runtime).toBe('browser');
    expect(uiReport.backend).toBe('onnxruntime-web/wasm');
    expect(uiReport.options).toEqual(cli.options);
    expect(uiReport.mask.labels).toEqual(cli.mask.labels);
    for (const k of Object.keys(cli)) expect(uiReport, `measurements.json field ${k}`).toHaveProperty(k);
    for (const side of Object.keys(cli.structures))
      for (const key of ['volume_ml', 'length_mm', 'extent_mm', 'max_csa_mm2', 'mean_hu', 'csa_at_level_mm2'] as const)
        expect(relDiff(uiReport.structures[side][key] as number, cli.structures[side][key] as number), `report ${side} ${key}`).toBeLessThanOrEqual(0.001);
    expect(relDiff(uiReport.pmi_cm2_per_m2!, cli.pmi_cm2_per_m2!)).toBeLessThanOrEqual(0.001);

    const maskFile = await download(page, 'download-mask', testInfo);
    expect(maskFile.name).toBe('psoas-mask.nii.gz');
    const uiNifti = readNifti(new Uint8Array(maskFile.bytes), 'browser psoas-mask.nii.gz', { units: 'label' });
    const cliNifti = readNifti(new Uint8Array(fs.readFileSync(path.join(out, 'psoas-mask.nii.gz'))), 'CLI psoas-mask.nii.gz', { units: 'label' });
    expect(uiNifti.geometry.dimensions).toEqual(cliNifti.geometry.dimensions);
    for (let a = 0; a < 3; a++) {
      expect(Math.abs(uiNifti.geometry.spacing[a] - cliNifti.geometry.spacing[a])).toBeLessThan(1e-4);
      expect(Math.abs(uiNifti.geometry.origin[a] - cliNifti.geometry.origin[a])).toBeLessThan(1e-3);
    }
    // The downloaded file holds exactly the mask the panel measured and shows.
    expect(Buffer.compare(Buffer.from(uiNifti.data as Uint8Array), Buffer.from(browserMask))).toBe(0);
    const a = uiNifti.data as Uint8Array;
    const b = cliNifti.data as Uint8Array;
    let same = 0;
    const perLabel: Record<number, [number, number]> = { 1: [0, 0], 2: [0, 0] };
    for (let v = 0; v < a.length; v++) {
      if (a[v] === b[v]) same++;
      if (a[v] in perLabel) perLabel[a[v]][0]++;
      if (b[v] in perLabel) perLabel[b[v]][1]++;
    }
    const agree = same / a.length;
    console.log(
      `[segment] browser (WASM) vs CLI (onnxruntime-node): mask ${(agree * 100).toFixed(4)} % voxels equal ` +
        `(${a.length - same} of ${a.length} differ; left ${perLabel[1][0]} vs ${perLabel[1][1]}, right ${perLabel[2][0]} vs ${perLabel[2][1]} voxels); ` +
        `figures: max relative difference ${maxRel.toExponential(2)}\n  ${table.join('\n  ')}`,
    );
    testInfo.annotations.push({ type: 'browser vs CLI', description: `mask ${(agree * 100).toFixed(4)} % equal, figures max rel diff ${maxRel.toExponential(2)}` });
    expect(agree).toBeGreaterThanOrEqual(0.999);
    lap('figures, downloads, mask comparison');

    // Cancel during inference: back to ready, "Cancelled", the earlier result and overlay stay, views drawn.
    const before = await seg(page);
    await page.getByTestId('segment-button').click();
    await expect.poll(async () => (await seg(page)).progress?.tile?.done ?? 0, { timeout: 60_000, intervals: [100] }).toBeGreaterThan(0);
    await page.getByTestId('cancel-button').click();
    await expect(page.getByTestId('seg-note')).toHaveText('Cancelled');
    const after = await seg(page);
    expect(after.state).toBe('ready');
    expect(after.error).toBeUndefined();
    expect(after.maskId).toBe(before.maskId);
    await expect(page.getByTestId('seg-error')).toHaveCount(0);
    await expect(page.getByTestId('cancel-button')).toHaveCount(0);
    await expect(page.getByTestId('segment-button')).toBeEnabled();
    await expect(page.getByTestId('m-volume-psoas_left')).toHaveText(Number(await page.getByTestId('m-volume-psoas_left').getAttribute('data-value')).toFixed(2));
    expect(after.overlay.viewsWithOverlay).toBe(3);
    for (const v of VIEWS) expect(await litFraction(page, v), `${v} view drawn after cancel`).toBeGreaterThan(0.05);
    expect((await page.evaluate(() => (window as unknown as SW).__psoasview.viewsReady))).toBe(true);
    await attach(page, testInfo, 'after-cancel.png');
    lap('cancel');
    console.log(`[segment] test phases: ${laps.join(', ')}`);
  });
});

test.describe('segmentation panel: bad model packages', () => {
  test('checksum mismatch, rank-4 model and an unreachable URL give BAD_MODEL in the panel; the study stays open', async ({ page }, testInfo) => {
    onPageErrors(page);
    await page.goto('/viewer?synthetic=1');
    expect((await waitForViews(page)).state).toBe('ready');
    await expect(page.getByTestId('model-select')).toContainText(MODEL_NAME);
    const served = await page.getByTestId('model-select').locator('option').count();
    await page.getByText('Load package…').click();

    const tiny = fs.readFileSync(path.join(FIXTURES, 'tiny-conv3d-softmax.onnx'));
    const tinySha = createHash('sha256').update(tiny).digest('hex');
    const wrongSha = '0123456789abcdef'.repeat(4);
    const bad = { ...tinyManifest(), name: 'psoas-corrupt', version: '9.9.9', onnx: 'model.onnx', sha256: wrongSha };
    await page.getByTestId('model-files').setInputFiles([
      { name: 'manifest.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(bad)) },
      { name: 'model.onnx', mimeType: 'application/octet-stream', buffer: tiny },
    ]);
    const err = page.getByTestId('seg-error');
    await expect(err).toBeVisible({ timeout: 30_000 });
    await expect(err).toContainText('BAD_MODEL');
    await expect(err).toContainText('"psoas-corrupt" version 9.9.9');
    await expect(err).toContainText(`has sha256 ${tinySha}`);
    await expect(err).toContainText(`says ${wrongSha}`);
    console.log(`[segment] checksum mismatch → ${await err.textContent()}`);
    await attach(page, testInfo, 'bad-package-checksum.png');

    // A rank-4 model (right checksum): refused when its session is created, naming the input rank.
    const rank4 = fs.readFileSync(path.join(FIXTURES, 'tiny-rank4-identity.onnx'));
    const r4 = { ...tinyManifest(), name: 'rank4', onnx: 'model.onnx', sha256: createHash('sha256').update(rank4).digest('hex') };
    r4.output = { ...r4.output, name: 'out' };
    await page.getByTestId('model-files').setInputFiles([
      { name: 'manifest.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(r4)) },
      { name: 'model.onnx', mimeType: 'application/octet-stream', buffer: rank4 },
    ]);
    await expect(err).toContainText(/rank 4/, { timeout: 30_000 });
    await expect(err).toContainText('BAD_MODEL');

    // An unreachable package URL (nothing listens on port 9).
    await page.getByTestId('model-url').fill('http://127.0.0.1:9/psoas/manifest.json');
    await page.getByTestId('model-url-load').click();
    await expect(err).toContainText('Could not download model manifest http://127.0.0.1:9/psoas/manifest.json', { timeout: 30_000 });
    await expect(err).toContainText('BAD_MODEL');

    // Nothing bad was added to the picker; the study is still open and drawn; the panel is usable again.
    await expect(page.getByTestId('model-select').locator('option')).toHaveCount(served);
    const app = await page.evaluate(() => ({ state: (window as unknown as SW).__psoasview.state, viewsReady: (window as unknown as SW).__psoasview.viewsReady, seg: (window as unknown as SW).__psoasview.segmentation.state }));
    expect(app).toEqual({ state: 'ready', viewsReady: true, seg: 'ready' });
    for (const v of VIEWS) expect(await litFraction(page, v), `${v} view still drawn`).toBeGreaterThan(0.05);
    await expect(page.getByTestId('segment-button')).toBeEnabled();
    await expect(page.getByTestId('error')).toHaveCount(0);
  });
});
