/**
 * Helpers shared by the e2e specs: the shape of the app's `window.__psoasview` test API, waiting for the three views,
 * reading screenshot pixels, attaching screenshots.
 */
import type { Page, TestInfo } from '@playwright/test';

export type Vec3 = [number, number, number];
export type View = 'axial' | 'coronal' | 'sagittal';
export interface Markers {
  top: string;
  bottom: string;
  left: string;
  right: string;
}
/** The subset of the app's test API (src/app/testApi.ts) the specs use. */
export interface Api {
  state: string;
  viewsReady: boolean;
  error?: { code: string; message: string };
  volume(): {
    dimensions: Vec3;
    spacing: Vec3;
    origin: Vec3;
    direction: number[];
    seriesInstanceUid: string;
    source: string;
    warnings: string[];
  } | null;
  huAtIndex(i: number, j: number, k: number): number;
  huAtWorld(p: Vec3): number;
  worldToCanvas(v: View, p: Vec3): [number, number];
  jumpTo(p: Vec3): void;
  orientationMarkers(v: View): Markers;
}
export type W = { __psoasview: Api };

export const VIEWS: View[] = ['axial', 'coronal', 'sagittal'];
/** Radiological convention: the patient's left on the image's right; head up in coronal and sagittal. */
export const EXPECTED_MARKERS: Record<View, Markers> = {
  axial: { top: 'A', bottom: 'P', left: 'R', right: 'L' },
  coronal: { top: 'S', bottom: 'I', left: 'R', right: 'L' },
  sagittal: { top: 'S', bottom: 'I', left: 'A', right: 'P' },
};

/** Waits for 'ready' with the three views drawn, or 'error'; returns the state. */
export async function waitForViews(page: Page, timeout = 90_000): Promise<{ state: string; error?: { code: string; message: string } }> {
  await page.waitForFunction(
    () => {
      const a = (window as unknown as W).__psoasview;
      return !!a && (a.viewsReady || a.state === 'error');
    },
    null,
    { timeout },
  );
  return page.evaluate(() => {
    const a = (window as unknown as W).__psoasview;
    return { state: a.state, error: a.error };
  });
}

/** Red channel (0..255) of a viewport's screenshot, decoded in the page, with screenshot px per CSS px. */
async function viewportRed(page: Page, view: View): Promise<{ width: number; height: number; scale: number; red: number[] }> {
  const vp = page.getByTestId(`viewport-${view}`);
  const png = await vp.screenshot();
  const cssWidth = (await vp.boundingBox())!.width;
  const decoded = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const red: number[] = new Array(d.length / 4);
    for (let i = 0; i < red.length; i++) red[i] = d[4 * i];
    return { width: c.width, height: c.height, red };
  }, png.toString('base64'));
  return { ...decoded, scale: decoded.width / cssWidth };
}

/** Grey levels (R channel, 0..255) of a viewport's screenshot at CSS-px points (a 3x3 median against edges). */
export async function greyAt(page: Page, view: View, points: Array<[number, number]>): Promise<number[]> {
  const { width, height, scale, red } = await viewportRed(page, view);
  return points.map(([x, y]) => {
    const vals: number[] = [];
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        const px = Math.min(width - 1, Math.max(0, Math.round(x * scale) + dx));
        const py = Math.min(height - 1, Math.max(0, Math.round(y * scale) + dy));
        vals.push(red[px + width * py]);
      }
    vals.sort((a, b) => a - b);
    return vals[4];
  });
}

/** Fraction of non-black pixels in a viewport (is anything drawn at all?). */
export async function litFraction(page: Page, view: View): Promise<number> {
  const { red } = await viewportRed(page, view);
  let lit = 0;
  for (const r of red) if (r > 30) lit++;
  return lit / red.length;
}

export async function saveScreenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const file = testInfo.outputPath(name);
  await page.screenshot({ path: file });
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
}
