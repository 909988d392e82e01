/**
 * End-to-end: the viewer app (start page, /viewer route, three-view MPR, orientation, overlays, errors).
 *
 * Orientation is proven with pixels, not just with the app's own numbers: the phantom's ground truth (a point
 * inside each psoas in patient LPS mm, from the generator's labels.nii.gz + truth.json) is projected with the app's
 * `worldToCanvas`, and the screenshot pixel there must be soft tissue under the default W400/L40 window; the
 * patient's LEFT psoas must land on the image's RIGHT half of the axial view (radiological convention), and in
 * the coronal view a superior point must be higher on the screen than an inferior one.
 */
import { expect, test, type Page } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { indexToWorld } from '../src/core/geometry';
import { readNifti } from '../src/core/io/nifti';
import { loadFixtures, phantomOrReason, viewerUrl } from './fixtures';
import { EXPECTED_MARKERS, VIEWS, greyAt, litFraction, saveScreenshot, waitForViews, type Vec3, type View, type W } from './helpers';


async function expectMarkers(page: Page): Promise<void> {
  for (const v of VIEWS) {
    const m = await page.evaluate((view) => (window as unknown as W).__psoasview.orientationMarkers(view), v);
    expect(m, `${v} orientation markers`).toEqual(EXPECTED_MARKERS[v]);
    // and the letters drawn on screen are the same
    for (const edge of ['top', 'bottom', 'left', 'right'] as const) {
      await expect(page.getByTestId(`marker-${v}-${edge}`)).toHaveText(EXPECTED_MARKERS[v][edge]);
    }
  }
}

/** Linear window (W/L in HU) → 0..255 grey, as the viewer applies it. */
function grey(hu: number, width = 400, center = 40): number {
  return Math.round(255 * Math.min(1, Math.max(0, (hu - (center - width / 2)) / width)));
}

/**
 * A point surely INSIDE each psoas, in patient LPS mm, from the generator's own label map (labels.nii.gz,
 * 1 = psoas_left, 2 = psoas_right, read with the project's NIfTI reader — a path independent of the DICOM the
 * viewer loads through the PACS): the centroid of the label's voxels on the axial slice of maximum
 * cross-section (truth.json `max_area_z_mm`), checked to fall on a voxel of that label.
 */
function psoasInteriorPoints(dir: string, truth: Record<string, { max_area_z_mm: number; start_lps: Vec3; end_lps: Vec3 }>): Record<'left' | 'right', Vec3> {
  const labels = readNifti(new Uint8Array(fs.readFileSync(path.join(dir, 'labels.nii.gz'))), 'labels.nii.gz', { units: 'label' });
  const g = labels.geometry;
  const [nx, ny, nz] = g.dimensions;
  const out = {} as Record<'left' | 'right', Vec3>;
  for (const [side, label] of [
    ['left', 1],
    ['right', 2],
  ] as const) {
    const zTarget = truth[`psoas_${side}`].max_area_z_mm;
    let k = 0;
    for (let kk = 0; kk < nz; kk++) if (Math.abs(indexToWorld(g, [0, 0, kk])[2] - zTarget) < Math.abs(indexToWorld(g, [0, 0, k])[2] - zTarget)) k = kk;
    let si = 0;
    let sj = 0;
    let n = 0;
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++)
        if (labels.data[i + nx * (j + ny * k)] === label) {
          si += i;
          sj += j;
          n++;
        }
    if (n === 0) throw new Error(`labels.nii.gz: no voxel of label ${label} (psoas_${side}) on slice k=${k} (z≈${zTarget} mm)`);
    const ci = Math.round(si / n);
    const cj = Math.round(sj / n);
    if (labels.data[ci + nx * (cj + ny * k)] !== label) throw new Error(`psoas_${side} centroid (${ci}, ${cj}, ${k}) is not inside the muscle`);
    out[side] = indexToWorld(g, [ci, cj, k]);
  }
  return out;
}

test.describe('start page', () => {
  test('shows the product, the sample card, the PACS and local-file panels', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByRole('heading', { name: 'psoasview' })).toBeVisible();
    await expect(page.getByTestId('open-sample')).toBeVisible();
    await expect(page.getByTestId('study-list')).toBeVisible();
    await expect(page.getByTestId('local-drop')).toBeVisible();
    await expect(page.getByTestId('local-files')).toHaveAttribute('multiple', '');
    await expect(page.getByTestId('local-folder')).toHaveAttribute('webkitdirectory', '');
    await expect(page.getByTestId('pacs-url')).toContainText('/dicomweb');
    expect(await page.evaluate(() => (window as unknown as W).__psoasview.state)).toBe('idle');
  });
});

test.describe('sample study', () => {
  test('opens in three oriented views with the default soft-tissue window', async ({ page }, testInfo) => {
    await page.goto('/');
    await page.getByTestId('open-sample').click();
    await expect(page).toHaveURL(/\/viewer\?sample=1/);
    const st = await waitForViews(page);
    expect(st.error, JSON.stringify(st.error)).toBeUndefined();
    expect(st.state).toBe('ready');
    for (const v of VIEWS) {
      await expect(page.getByTestId(`viewport-${v}`)).toBeVisible();
      expect(await litFraction(page, v), `${v} view draws an image`).toBeGreaterThan(0.05);
    }
    await expectMarkers(page);
    for (const v of VIEWS) await expect(page.getByTestId(`wl-${v}`)).toHaveText('W 400 / L 40');
    await expect(page.getByTestId('patient-header')).toBeVisible();
    await saveScreenshot(page, testInfo, 'sample-mpr.png');
  });

});

test.describe('viewer interaction (built-in synthetic volume)', () => {
  test('keyboard: presets, help, slice scrolling, reset', async ({ page }) => {
    await page.goto('/viewer?synthetic=1');
    expect((await waitForViews(page)).state).toBe('ready');
    const axial = page.getByTestId('viewport-axial');
    await expect(page.getByTestId('preset-soft')).toHaveAttribute('aria-pressed', 'true');
    await page.keyboard.press('2');
    await expect(page.getByTestId('wl-axial')).toHaveText('W 1800 / L 400');
    await expect(page.getByTestId('preset-bone')).toHaveAttribute('aria-pressed', 'true');
    await expect(page.getByTestId('preset-soft')).toHaveAttribute('aria-pressed', 'false');
    await page.keyboard.press('3');
    await expect(page.getByTestId('wl-axial')).toHaveText('W 1500 / L -600');
    await page.keyboard.press('1');
    await expect(page.getByTestId('wl-axial')).toHaveText('W 400 / L 40');
    await page.keyboard.press('?');
    await expect(page.getByTestId('help')).toBeVisible();
    await expect(page.getByTestId('help')).toContainText('Crosshairs');
    await page.keyboard.press('Escape');
    await expect(page.getByTestId('help')).toBeHidden();

    const slice = page.getByTestId('slice-axial');
    const before = await slice.textContent();
    await axial.hover();
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    await expect(slice).not.toHaveText(before ?? '');
    await page.keyboard.press('r');
    await expect(slice).toHaveText(before ?? '');

    await page.keyboard.press('c');
    await expect(page.getByTestId('tool-crosshairs')).toHaveAttribute('aria-pressed', 'true');
    await page.keyboard.press('c');
    await expect(page.getByTestId('tool-windowLevel')).toHaveAttribute('aria-pressed', 'true');
  });

  test('dragging window/level in one view changes all three alike', async ({ page }) => {
    await page.goto('/viewer?synthetic=1');
    expect((await waitForViews(page)).state).toBe('ready');
    const box = (await page.getByTestId('viewport-axial').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 120, box.y + box.height / 2 + 60, { steps: 6 });
    await page.mouse.up();
    const wl = async (v: View) => (await page.getByTestId(`wl-${v}`).textContent())!.match(/W (-?\d+) \/ L (-?\d+)/)!.slice(1).map(Number);
    await expect.poll(async () => (await wl('axial'))[0]).not.toBe(400);
    const a = await wl('axial');
    await expect.poll(() => wl('coronal')).toEqual(a);
    await expect.poll(() => wl('sagittal')).toEqual(a);
    // a free window is no preset
    for (const p of ['soft', 'bone', 'lung']) await expect(page.getByTestId(`preset-${p}`)).toHaveAttribute('aria-pressed', 'false');
  });

  test('the cursor probe shows the HU and LPS position under the mouse', async ({ page }) => {
    await page.goto('/viewer?synthetic=1');
    expect((await waitForViews(page)).state).toBe('ready');
    // Left marker sphere: +1000 HU centred at LPS (90, 0, 0) mm; mirror point (-90, 0, 0) is soft tissue (+40 HU).
    await page.evaluate(() => (window as unknown as W).__psoasview.jumpTo([90, 0, 0]));
    const box = (await page.getByTestId('viewport-axial').boundingBox())!;
    for (const [p, hu] of [
      [[90, 0, 0], 1000],
      [[-90, 0, 0], 40],
    ] as Array<[Vec3, number]>) {
      const [x, y] = await page.evaluate((q) => (window as unknown as W).__psoasview.worldToCanvas('axial', q), p);
      await page.mouse.move(box.x + x, box.y + y);
      const probe = page.getByTestId('probe-axial');
      await expect(probe).toContainText(`${hu} HU`);
      const m = (await probe.textContent())!.match(/LPS \((-?[\d.]+), (-?[\d.]+), (-?[\d.]+)\)/)!;
      // within one CSS pixel of the target (about 1 mm at this zoom)
      expect(Math.abs(Number(m[1]) - p[0])).toBeLessThan(1.5);
      expect(Math.abs(Number(m[2]) - p[1])).toBeLessThan(1.5);
      expect(Math.abs(Number(m[3]) - p[2])).toBeLessThan(0.01);
    }
  });

  test('double-click shows one view alone; "m" brings the three back, still drawn and oriented', async ({ page }) => {
    await page.goto('/viewer?synthetic=1');
    expect((await waitForViews(page)).state).toBe('ready');
    const grid = (await page.getByTestId('mpr').boundingBox())!;
    await page.getByTestId('viewport-axial').dblclick();
    await expect(page.getByTestId('viewport-coronal')).toBeHidden();
    await expect(page.getByTestId('viewport-sagittal')).toBeHidden();
    const big = (await page.getByTestId('viewport-axial').boundingBox())!;
    expect(big.width).toBeGreaterThan(grid.width - 4);
    await page.waitForTimeout(300);
    expect(await litFraction(page, 'axial')).toBeGreaterThan(0.05);
    const left = await page.evaluate(() => (window as unknown as W).__psoasview.worldToCanvas('axial', [90, 0, 0]));
    expect(left[0]).toBeGreaterThan(big.width / 2);
    const [g] = await greyAt(page, 'axial', [left]);
    expect(g, 'bone-bright left marker drawn where worldToCanvas says (after the resize)').toBe(255);
    await page.getByTestId('viewport-axial').hover();
    await page.keyboard.press('m');
    for (const v of VIEWS) await expect(page.getByTestId(`viewport-${v}`)).toBeVisible();
    await page.waitForTimeout(300);
    for (const v of VIEWS) expect(await litFraction(page, v), `${v} drawn again`).toBeGreaterThan(0.05);
    await expectMarkers(page);
  });

  test('narrow screens stack the three views', async ({ page }) => {
    await page.setViewportSize({ width: 700, height: 900 });
    await page.goto('/viewer?synthetic=1');
    expect((await waitForViews(page)).state).toBe('ready');
    const a = (await page.getByTestId('viewport-axial').boundingBox())!;
    const c = (await page.getByTestId('viewport-coronal').boundingBox())!;
    expect(c.y).toBeGreaterThanOrEqual(a.y + a.height - 4);
    expect(Math.abs(c.x - a.x)).toBeLessThan(4);
  });
});

test.describe('orientation on the built-in synthetic volume (markers of known LPS position)', () => {
  // Marker spheres (LPS mm, see src/viewer/synthetic.ts): bone-bright on the patient's LEFT at (90, 0, 0),
  // contrast-bright SUPERIOR at (0, 20, 90), air ANTERIOR at (0, -75, -40). The same anatomy is also stored
  // flipped (i → Right, j → Anterior): the screen must not change.
  for (const variant of ['1', 'flipped']) {
    test(`synthetic=${variant}: left on the image's right, anterior up (axial), head up (coronal/sagittal)`, async ({ page }) => {
      await page.goto(`/viewer?synthetic=${variant}`);
      expect((await waitForViews(page)).state).toBe('ready');
      await expectMarkers(page);
      const box = (await page.getByTestId('viewport-axial').boundingBox())!;

      await page.evaluate(() => (window as unknown as W).__psoasview.jumpTo([90, 0, 0]));
      await page.waitForTimeout(300);
      const left = await page.evaluate(() => (window as unknown as W).__psoasview.worldToCanvas('axial', [90, 0, 0]));
      const mirror = await page.evaluate(() => (window as unknown as W).__psoasview.worldToCanvas('axial', [-90, 0, 0]));
      expect(left[0]).toBeGreaterThan(box.width / 2);
      expect(mirror[0]).toBeLessThan(box.width / 2);
      const [gLeft, gMirror] = await greyAt(page, 'axial', [left, mirror]);
      expect(gLeft, 'bone marker (+1000 HU) is white under W400/L40').toBe(255);
      expect(Math.abs(gMirror - grey(40)), 'soft tissue (+40 HU) is mid-grey').toBeLessThan(12);

      await page.evaluate(() => (window as unknown as W).__psoasview.jumpTo([0, -75, -40]));
      await page.waitForTimeout(300);
      const ant = await page.evaluate(() => (window as unknown as W).__psoasview.worldToCanvas('sagittal', [0, -75, -40]));
      const sBox = (await page.getByTestId('viewport-sagittal').boundingBox())!;
      expect(ant[0], 'anterior is on the left of the sagittal view').toBeLessThan(sBox.width / 2);
      const antAxial = await page.evaluate(() => (window as unknown as W).__psoasview.worldToCanvas('axial', [0, -75, -40]));
      expect(antAxial[1], 'anterior is at the top of the axial view').toBeLessThan(box.height / 2);
      const [gAnt] = await greyAt(page, 'sagittal', [ant]);
      expect(gAnt, 'air marker is black').toBe(0);

      await page.evaluate(() => (window as unknown as W).__psoasview.jumpTo([0, 20, 90]));
      await page.waitForTimeout(300);
      const sup = await page.evaluate(() => (window as unknown as W).__psoasview.worldToCanvas('coronal', [0, 20, 90]));
      const cBox = (await page.getByTestId('viewport-coronal').boundingBox())!;
      expect(sup[1], 'superior is at the top of the coronal view').toBeLessThan(cBox.height / 2);
      const [gSup] = await greyAt(page, 'coronal', [sup]);
      expect(gSup, 'contrast marker (+300 HU) is white').toBe(255);
    });
  }
});

test.describe('errors are shown, never a blank page', () => {
  test('a viewer URL without a study says what is missing', async ({ page }) => {
    await page.goto('/viewer');
    const alert = page.getByTestId('error');
    await expect(alert).toBeVisible();
    await expect(alert).toHaveAttribute('role', 'alert');
    await expect(alert).toContainText('BAD_ARGUMENT');
    await expect(alert).toContainText('StudyInstanceUIDs');
  });

  test('an unknown study UID gives a specific error', async ({ page }) => {
    loadFixtures();
    await page.goto(viewerUrl('1.2.826.0.1.3680043.8.498.999999999'));
    const st = await waitForViews(page);
    expect(st.state).toBe('error');
    await expect(page.getByTestId('error')).toBeVisible();
    await expect(page.getByTestId('error')).toContainText(st.error!.code);
  });
});

test.describe('phantom from the PACS', () => {
  test('PACS link opens the phantom in three views with correct orientation (pixel probes)', async ({ page }, testInfo) => {
    const { phantom, reason } = phantomOrReason();
    test.skip(!phantom, reason);
    const ph = phantom!;
    await page.goto(viewerUrl(ph.studyInstanceUid, ph.seriesInstanceUid));
    const st = await waitForViews(page);
    expect(st.error, JSON.stringify(st.error)).toBeUndefined();
    const vol = await page.evaluate(() => (window as unknown as W).__psoasview.volume());
    expect(vol?.seriesInstanceUid).toBe(ph.seriesInstanceUid);
    for (const v of VIEWS) expect(await litFraction(page, v), `${v} view draws an image`).toBeGreaterThan(0.05);
    await expectMarkers(page);
    await saveScreenshot(page, testInfo, 'phantom-mpr.png');

    type Truth = Record<string, { max_area_z_mm: number; start_lps: Vec3; end_lps: Vec3 }>;
    const truth = ph.truth as Truth;
    const inside = psoasInteriorPoints(ph.dir, truth);
    const box = (await page.getByTestId('viewport-axial').boundingBox())!;
    for (const side of ['left', 'right'] as const) {
      const p = inside[side];
      await page.evaluate((q) => (window as unknown as W).__psoasview.jumpTo(q), p);
      await page.waitForTimeout(300);
      const hu = await page.evaluate((q) => (window as unknown as W).__psoasview.huAtWorld(q), p);
      // Psoas in the phantom is muscle (+30..+80 HU) with noise (SD 12 HU).
      expect(hu, `HU inside the ${side} psoas`).toBeGreaterThan(0);
      expect(hu).toBeLessThan(130);
      const [x, y] = await page.evaluate((q) => (window as unknown as W).__psoasview.worldToCanvas('axial', q), p);
      // Radiological convention: patient's left on the image's right.
      if (side === 'left') expect(x, 'left psoas x on screen').toBeGreaterThan(box.width / 2);
      else expect(x, 'right psoas x on screen').toBeLessThan(box.width / 2);
      const [g] = await greyAt(page, 'axial', [[x, y]]);
      // Screen grey is the windowed, interpolated image; ±40 grey levels ≈ ±63 HU absorbs noise and interpolation.
      expect(Math.abs(g - grey(hu)), `grey at the ${side} psoas (HU ${hu}) under W400/L40`).toBeLessThan(40);
      expect(g, 'soft tissue is neither black nor white').toBeGreaterThan(60);
      expect(g).toBeLessThan(230);
    }
    await saveScreenshot(page, testInfo, 'phantom-mpr-psoas-level.png');

    // Coronal: head up. The superior (start) and inferior (end) ends of the left psoas centreline.
    const sup = truth.psoas_left.start_lps;
    const inf = truth.psoas_left.end_lps;
    expect(sup[2] - inf[2]).toBeGreaterThan(100);
    await page.evaluate((q) => (window as unknown as W).__psoasview.jumpTo(q), inside.left);
    const ySup = (await page.evaluate((q) => (window as unknown as W).__psoasview.worldToCanvas('coronal', q), sup))[1];
    const yInf = (await page.evaluate((q) => (window as unknown as W).__psoasview.worldToCanvas('coronal', q), inf))[1];
    expect(ySup, 'superior point is higher on screen (smaller y) in the coronal view').toBeLessThan(yInf);
  });
});
