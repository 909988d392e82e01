/**
 * End-to-end: the viewer against a real Orthanc (started by e2e/global-setup.ts) through the preview server's
 * /dicomweb proxy.
 *
 * - The PACS study list shows the phantom study and the real JPEG 2000 study; patient-name search filters.
 * - The real J2K series opened by PACS link renders, and its HU equal an independent decoder's at sampled pixels:
 *   GDCM (`gdcmconv --raw`) decompresses the uploaded files, dcmjs reads the raw pixels, rescale is applied, and
 *   each sample's patient position (from ImagePositionPatient/Orientation/PixelSpacing — NOT file order) is
 *   mapped to the app's voxel index with the volume's own geometry, then compared with `huAtIndex(i,j,k)`.
 * - An unreachable PACS / a PACS answering an HTTP error shows a specific message naming the URL and status.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import { expect, test, type Page } from '@playwright/test';
import { worldToIndex, type Vec3, type VolumeGeometry } from '../src/core/geometry';
import { deadPacsBaseUrl, E2E_CACHE_DIR, j2kOrReason, loadFixtures, phantomOrReason, viewerUrl, type J2kFixture } from './fixtures';

const run = promisify(execFile);

/** The slice of dcmjs's (untyped) API the reference decoder uses; loaded through require so this file does not
 * depend on a project-wide `declare module 'dcmjs'`. */
interface DcmjsSubset {
  data: {
    DicomMessage: { readFile(buffer: ArrayBuffer): { dict: Record<string, unknown> } };
    DicomMetaDictionary: { naturalizeDataset(dict: Record<string, unknown>): Record<string, unknown> };
  };
}
const dcmjs = createRequire(import.meta.url)('dcmjs') as DcmjsSubset;

/** The viewer's test hook (contract in the project brief); only what these tests use. */
interface PsoasTestApi {
  state: 'idle' | 'loading' | 'ready' | 'error';
  error?: { code: string; message: string };
  /** Geometry of the loaded volume, flattened (voxel index i,j,k ↔ LPS mm as in src/core/geometry.ts). */
  volume(): (VolumeGeometry & { source: string; seriesInstanceUid: string }) | null;
  /** True once the three views have rendered the current volume. */
  viewsReady: boolean;
  huAtIndex(i: number, j: number, k: number): number;
  huAtWorld(lps: Vec3): number;
}
type WithApi = { __psoasview?: PsoasTestApi };

/** Waits until the viewer finished loading (ready or error) and returns state + error. */
async function waitForViewer(page: Page, timeout = 90_000): Promise<{ state: string; error?: { code: string; message: string } }> {
  await page.waitForFunction(
    () => {
      const api = (window as unknown as WithApi).__psoasview;
      return !!api && (api.state === 'ready' || api.state === 'error');
    },
    null,
    { timeout },
  );
  return page.evaluate(() => {
    const api = (window as unknown as WithApi).__psoasview!;
    return { state: api.state, error: api.error ? { code: api.error.code, message: api.error.message } : undefined };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Independent reference decoder (GDCM + dcmjs), test side.

interface ReferenceSlice {
  file: string;
  /** LPS mm of the centre of pixel (column 0, row 0). */
  ipp: Vec3;
  /** Unit LPS vector along a row (increasing column) and down a column (increasing row). */
  rowDir: Vec3;
  colDir: Vec3;
  /** [between rows, between columns] in mm, as DICOM PixelSpacing. */
  pixelSpacing: [number, number];
  rows: number;
  columns: number;
  /** HU = stored * slope + intercept. */
  hu: Float64Array;
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

async function decodeReference(j2k: J2kFixture): Promise<ReferenceSlice[]> {
  const outDir = path.join(E2E_CACHE_DIR, 'j2k-raw');
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const slices: ReferenceSlice[] = [];
  for (const file of j2k.files) {
    const rawFile = path.join(outDir, path.basename(file));
    await run('gdcmconv', ['--raw', file, rawFile]);
    const dict = dcmjs.data.DicomMessage.readFile(toArrayBuffer(fs.readFileSync(rawFile)));
    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
    const rows = Number(ds.Rows);
    const columns = Number(ds.Columns);
    const bitsAllocated = Number(ds.BitsAllocated);
    const signed = Number(ds.PixelRepresentation) === 1;
    expect(bitsAllocated, `${rawFile} BitsAllocated`).toBe(16);
    const pixelBuffer = (ds.PixelData as ArrayBuffer[])[0];
    const stored = signed ? new Int16Array(pixelBuffer) : new Uint16Array(pixelBuffer);
    expect(stored.length, `${rawFile} pixel count`).toBe(rows * columns);
    const slope = ds.RescaleSlope === undefined ? 1 : Number(ds.RescaleSlope);
    const intercept = ds.RescaleIntercept === undefined ? 0 : Number(ds.RescaleIntercept);
    const hu = new Float64Array(stored.length);
    for (let n = 0; n < stored.length; n++) hu[n] = stored[n] * slope + intercept;
    const iop = (ds.ImageOrientationPatient as number[]).map(Number);
    slices.push({
      file,
      ipp: (ds.ImagePositionPatient as number[]).map(Number) as Vec3,
      rowDir: [iop[0], iop[1], iop[2]],
      colDir: [iop[3], iop[4], iop[5]],
      pixelSpacing: (ds.PixelSpacing as number[]).map(Number) as [number, number],
      rows,
      columns,
      hu,
    });
  }
  return slices;
}

/** Deterministic sample pixels of one slice: a 16x16 grid plus 48 pseudo-random ones (LCG, fixed seed). */
function samplePixels(rows: number, columns: number, seed: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let a = 0; a < 16; a++) {
    for (let b = 0; b < 16; b++) {
      out.push([Math.round(((b + 0.5) * columns) / 16), Math.round(((a + 0.5) * rows) / 16)]);
    }
  }
  let s = seed >>> 0;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  for (let n = 0; n < 48; n++) out.push([Math.floor(rnd() * columns), Math.floor(rnd() * rows)]);
  // Both corners: catches an i/j flip that a symmetric grid would not.
  out.push([0, 0], [columns - 1, rows - 1]);
  return out.map(([c, r]) => [Math.min(c, columns - 1), Math.min(r, rows - 1)]);
}

// ---------------------------------------------------------------------------------------------------------------

test.describe('PACS (Orthanc via /dicomweb proxy)', () => {
  test('study list shows the phantom and the J2K study; patient-name search filters', async ({ page }) => {
    const { phantom, reason: phantomReason } = phantomOrReason();
    const { j2k, reason: j2kReason } = j2kOrReason();
    test.skip(!phantom && !j2k, `${phantomReason}; ${j2kReason}`);

    await page.goto('/');
    const list = page.getByTestId('study-list');
    await expect(list).toBeVisible();
    // The start page lists nothing until the user searches (default filter: modality CT).
    await page.getByTestId('study-search-submit').click();
    const rows = list.getByTestId('study-row');
    // Rows show the family name first (DICOM PN "FAMILY^GIVEN").
    const family = (pn: string) => pn.split('^')[0];
    if (phantom) await expect(rows.filter({ hasText: family(phantom.patientName) })).toHaveCount(1);
    if (j2k) await expect(rows.filter({ hasText: j2k.patientId })).toHaveCount(1);

    if (phantom && j2k) {
      // Search by patient name with a DICOM wildcard (QIDO-RS PatientName=PHAN*): only the phantom remains.
      const wildcard = `${family(phantom.patientName).slice(0, 4)}*`;
      await page.getByRole('textbox', { name: 'Patient name' }).fill(wildcard);
      await page.getByTestId('study-search-submit').click();
      await expect(rows.filter({ hasText: j2k.patientId })).toHaveCount(0);
      await expect(rows).toHaveCount(1);
      await expect(rows.first()).toContainText(family(phantom.patientName));

      // Choosing the study opens its best series in the viewer (OHIF-style deep link).
      await rows.first().click();
      await expect(page).toHaveURL(new RegExp(`/viewer\\?.*StudyInstanceUIDs=${phantom.studyInstanceUid.replace(/\./g, '\\.')}`));
      const st = await waitForViewer(page);
      expect(st.error, `viewer error: ${JSON.stringify(st.error)}`).toBeUndefined();
    }
  });

  test('real JPEG 2000 series over WADO-RS renders and matches an independent decoder (GDCM + dcmjs)', async ({ page }) => {
    const { j2k, reason } = j2kOrReason();
    test.skip(!j2k, reason);
    const fx = j2k!;

    const reference = await decodeReference(fx);
    expect(reference).toHaveLength(fx.files.length);

    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(viewerUrl(fx.studyInstanceUid, fx.seriesInstanceUid));
    const st = await waitForViewer(page);
    expect(st.error, `viewer error: ${JSON.stringify(st.error)}`).toBeUndefined();
    expect(st.state).toBe('ready');

    // Only the geometry crosses the bridge (the voxel array stays in the page).
    const vol = await page.evaluate(() => (window as unknown as WithApi).__psoasview!.volume());
    expect(vol).not.toBeNull();
    expect(vol!.seriesInstanceUid).toBe(fx.seriesInstanceUid);
    const g: VolumeGeometry = { dimensions: vol!.dimensions, spacing: vol!.spacing, origin: vol!.origin, direction: vol!.direction };
    console.log(`[pacs] J2K volume ${g.dimensions.join('x')} spacing ${g.spacing.map((x) => x.toFixed(4)).join(', ')} mm`);
    // Slice spacing comes from ImagePositionPatient (these slices are 3 mm thick but 2 mm apart), pixel spacing
    // from PixelSpacing.
    const zs = reference.map((s) => s.ipp[2]).sort((a, b) => a - b);
    const gaps = zs.slice(1).map((z, n) => z - zs[n]);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeLessThan(1e-3);
    expect(g.spacing[2]).toBeCloseTo(gaps[0], 3);
    expect(g.spacing[0]).toBeCloseTo(reference[0].pixelSpacing[1], 4);
    expect(g.spacing[1]).toBeCloseTo(reference[0].pixelSpacing[0], 4);
    expect([...g.dimensions].sort((a, b) => a - b)).toEqual([fx.files.length, 512, 512]);

    // Map every sample (column c, row r of a file) to patient LPS, then to the app's voxel index.
    const samples: Array<{ idx: Vec3; expected: number; where: string }> = [];
    const slicesSeen = new Set<number>();
    for (const [n, s] of reference.entries()) {
      for (const [c, r] of samplePixels(s.rows, s.columns, 1000 + n)) {
        const lps: Vec3 = [0, 1, 2].map(
          (a) => s.ipp[a] + c * s.pixelSpacing[1] * s.rowDir[a] + r * s.pixelSpacing[0] * s.colDir[a],
        ) as Vec3;
        const cont = worldToIndex(g, lps);
        const idx = cont.map(Math.round) as Vec3;
        // The app's grid must pass through every source pixel centre (no resampling of an even axial series).
        for (let a = 0; a < 3; a++) expect(Math.abs(cont[a] - idx[a]), `index ${a} of ${s.file} (${c},${r})`).toBeLessThan(1e-3);
        slicesSeen.add(idx[2]);
        samples.push({ idx, expected: s.hu[c + s.columns * r], where: `${path.basename(s.file)} col ${c} row ${r}` });
      }
    }
    // Each file maps to its own slice: the app sorted by position, whatever the file order.
    expect(slicesSeen.size).toBe(fx.files.length);

    const got = await page.evaluate((idxs) => {
      const api = (window as unknown as WithApi).__psoasview!;
      return idxs.map(([i, j, k]) => api.huAtIndex(i, j, k));
    }, samples.map((s) => s.idx));
    const mismatches = samples
      .map((s, n) => ({ ...s, got: got[n] }))
      .filter((s) => s.got !== s.expected);
    const distinct = new Set(samples.map((s) => s.expected)).size;
    console.log(`[pacs] J2K: ${samples.length} samples over ${reference.length} slices, ${distinct} distinct HU, ${mismatches.length} mismatches`);
    expect(distinct, 'samples should cover many different HU values').toBeGreaterThan(100);
    expect(mismatches.slice(0, 5), `HU mismatches (first 5 of ${mismatches.length})`).toEqual([]);

    // It renders: each viewport's canvas shows an image with contrast, not a blank/flat frame.
    await page.waitForFunction(() => (window as unknown as WithApi).__psoasview?.viewsReady === true, null, { timeout: 60_000 });
    for (const view of ['axial', 'coronal', 'sagittal'] as const) {
      const vp = page.getByTestId(`viewport-${view}`);
      await expect(vp).toBeVisible();
      const stats = await vp.evaluate((el) => {
        const canvases = [...el.querySelectorAll('canvas')];
        const c = canvases.sort((a, b) => b.width * b.height - a.width * a.height)[0];
        if (!c || c.width === 0) return null;
        const tmp = document.createElement('canvas');
        tmp.width = c.width;
        tmp.height = c.height;
        const ctx = tmp.getContext('2d')!;
        ctx.drawImage(c, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        let sum = 0;
        let sum2 = 0;
        const levels = new Set<number>();
        const n = d.length / 4;
        for (let p = 0; p < d.length; p += 4) {
          const y = (d[p] + d[p + 1] + d[p + 2]) / 3;
          sum += y;
          sum2 += y * y;
          levels.add(d[p]);
        }
        const mean = sum / n;
        return { width: c.width, height: c.height, mean, std: Math.sqrt(sum2 / n - mean * mean), levels: levels.size };
      });
      expect(stats, `${view} viewport has a canvas`).not.toBeNull();
      console.log(`[pacs] ${view} canvas ${stats!.width}x${stats!.height} mean ${stats!.mean.toFixed(1)} std ${stats!.std.toFixed(1)} levels ${stats!.levels}`);
      expect(stats!.std, `${view} viewport shows contrast`).toBeGreaterThan(10);
      expect(stats!.levels, `${view} viewport shows grey levels`).toBeGreaterThan(32);
    }
    expect(errors).toEqual([]);
  });

  test('phantom series opened from the PACS loads with its geometry', async ({ page }) => {
    const { phantom, reason } = phantomOrReason();
    test.skip(!phantom, reason);
    await page.goto(viewerUrl(phantom!.studyInstanceUid, phantom!.seriesInstanceUid));
    const st = await waitForViewer(page);
    expect(st.error, `viewer error: ${JSON.stringify(st.error)}`).toBeUndefined();
    const dims = await page.evaluate(() => (window as unknown as WithApi).__psoasview!.volume()?.dimensions);
    expect(dims?.[2]).toBe(phantom!.files.length);
  });

  test.describe('PACS failures', () => {
    // Made-up UIDs: every /dicomweb request is intercepted, so no Orthanc is involved.
    const study = '2.25.1111';
    const series = '2.25.2222';

    test('unreachable PACS: the error names the URL', async ({ page }) => {
      loadFixtures();
      await page.route('**/dicomweb/**', (route) => route.abort('connectionrefused'));
      await page.goto(viewerUrl(study, series));
      const st = await waitForViewer(page);
      expect(st.state).toBe('error');
      expect(st.error?.code).toBe('PACS_UNREACHABLE');
      const alert = page.getByTestId('error');
      await expect(alert).toBeVisible();
      await expect(alert).toHaveAttribute('role', 'alert');
      await expect(alert).toContainText('/dicomweb');
    });

    test('PACS answering HTTP 503: the error names the URL and the status', async ({ page }) => {
      await page.route('**/dicomweb/**', (route) =>
        route.fulfill({ status: 503, contentType: 'text/plain', body: 'Service Unavailable' }),
      );
      await page.goto(viewerUrl(study, series));
      const st = await waitForViewer(page);
      expect(st.state).toBe('error');
      expect(st.error?.code).toBe('PACS_HTTP_ERROR');
      const alert = page.getByTestId('error');
      await expect(alert).toBeVisible();
      await expect(alert).toContainText('503');
      await expect(alert).toContainText('/dicomweb');
    });

    test('PACS down behind the proxy (real connection refused, proxy answers 502): the error names URL and status', async ({ page }) => {
      // The second preview server proxies /dicomweb to 127.0.0.1:9, where nothing listens.
      await page.goto(`${deadPacsBaseUrl()}${viewerUrl(study, series)}`);
      const st = await waitForViewer(page);
      expect(st.state).toBe('error');
      expect(['PACS_HTTP_ERROR', 'PACS_UNREACHABLE']).toContain(st.error?.code);
      const alert = page.getByTestId('error');
      await expect(alert).toBeVisible();
      await expect(alert).toContainText('502');
      await expect(alert).toContainText('/dicomweb');
    });

    test('study list with an unreachable PACS shows the error, not an empty list', async ({ page }) => {
      await page.route('**/dicomweb/**', (route) => route.abort('connectionrefused'));
      await page.goto('/');
      await page.getByTestId('study-search-submit').click();
      const alert = page.getByTestId('error');
      await expect(alert).toBeVisible();
      await expect(alert).toContainText('/dicomweb');
    });
  });
});
