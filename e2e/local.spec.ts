/**
 * End-to-end: local files opened from the start page (no PACS involved).
 * - the real abdominal CT NIfTI (../shared/data/real/abdomen-ct-3mm.nii.gz, RAS int32 HU) loads and renders in
 *   three views with radiological orientation; a screenshot of the layout is attached;
 * - the 20 real JPEG 2000 slices whose Study/Series/SOP UIDs are EMPTY either load with a visible warning about
 *   the missing UIDs, or fail with the specific MISSING_UID message — never a blank page or a generic error.
 * Both skip with a printed reason when ../shared/data is absent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, test } from '@playwright/test';
import { SHARED_DATA_DIR } from './fixtures';
import { litFraction, saveScreenshot, waitForViews, type W } from './helpers';

const NIFTI = path.join(SHARED_DATA_DIR, 'real', 'abdomen-ct-3mm.nii.gz');
const J2K_DIR = path.join(SHARED_DATA_DIR, 'real', 'abdomen-ct-dicom-20slices');
const haveNifti = fs.existsSync(NIFTI);
const haveJ2k = fs.existsSync(J2K_DIR);
if (!haveNifti) console.warn(`[e2e] local NIfTI tests skipped: ${NIFTI} is absent (../shared/data not mounted)`);
if (!haveJ2k) console.warn(`[e2e] local J2K tests skipped: ${J2K_DIR} is absent (../shared/data not mounted)`);

test('real abdominal CT NIfTI opened as a local file renders in three views', async ({ page }, testInfo) => {
  test.skip(!haveNifti, `${NIFTI} is absent (../shared/data not mounted)`);
  await page.goto('/');
  await page.getByTestId('local-files').setInputFiles(NIFTI);
  await expect(page).toHaveURL(/\/viewer\?local=/);
  const st = await waitForViews(page);
  expect(st.error, JSON.stringify(st.error)).toBeUndefined();
  const vol = await page.evaluate(() => (window as unknown as W).__psoasview.volume());
  expect(vol?.dimensions).toEqual([122, 101, 112]);
  vol!.spacing.forEach((s) => expect(s).toBeCloseTo(3.0, 3));
  // Values are HU (int32 on disk, -1207..3382): air outside the patient at a corner voxel.
  const corner = await page.evaluate(() => (window as unknown as W).__psoasview.huAtIndex(0, 0, 0));
  expect(corner).toBeLessThan(-900);
  for (const v of ['axial', 'coronal', 'sagittal'] as const) {
    expect(await litFraction(page, v), `${v} view draws an image`).toBeGreaterThan(0.05);
  }
  const axial = await page.evaluate(() => (window as unknown as W).__psoasview.orientationMarkers('axial'));
  expect(axial).toEqual({ top: 'A', bottom: 'P', left: 'R', right: 'L' });
  const coronal = await page.evaluate(() => (window as unknown as W).__psoasview.orientationMarkers('coronal'));
  expect(coronal).toEqual({ top: 'S', bottom: 'I', left: 'R', right: 'L' });
  await expect(page.getByTestId('volume-dims')).toContainText('122 × 101 × 112');
  await saveScreenshot(page, testInfo, 'real-nifti-mpr.png');
});

test('dropping the NIfTI file on the drop zone opens it too', async ({ page }) => {
  test.skip(!haveNifti, `${NIFTI} is absent (../shared/data not mounted)`);
  await page.goto('/');
  const b64 = fs.readFileSync(NIFTI).toString('base64');
  // A real drop carries a DataTransfer; build one in the page with the file's bytes.
  await page.evaluate(
    ({ b64, name }) => {
      const bin = atob(b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], name, { type: 'application/gzip' }));
      const zone = document.querySelector('[data-testid="local-drop"]')!;
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    },
    { b64, name: path.basename(NIFTI) },
  );
  await expect(page).toHaveURL(/\/viewer\?local=/);
  const st = await waitForViews(page);
  expect(st.error, JSON.stringify(st.error)).toBeUndefined();
  const vol = await page.evaluate(() => (window as unknown as W).__psoasview.volume());
  expect(vol?.dimensions).toEqual([122, 101, 112]);
  expect(vol?.source).toContain('abdomen-ct-3mm.nii.gz');
});

test('20 real J2K slices with EMPTY UIDs: load with a visible warning or a specific error', async ({ page }, testInfo) => {
  test.skip(!haveJ2k, `${J2K_DIR} is absent (../shared/data not mounted)`);
  const files = fs
    .readdirSync(J2K_DIR)
    .map((f) => path.join(J2K_DIR, f))
    .filter((f) => fs.statSync(f).isFile());
  expect(files.length).toBe(20);
  await page.goto('/');
  await page.getByTestId('local-files').setInputFiles(files);
  const st = await waitForViews(page, 110_000);
  if (st.state === 'error') {
    expect(st.error?.code).toBe('MISSING_UID');
    await expect(page.getByTestId('error')).toBeVisible();
    await expect(page.getByTestId('error')).toContainText(/UID/);
  } else {
    expect(st.state).toBe('ready');
    await expect(page.getByTestId('warnings')).toBeVisible();
    await expect(page.getByTestId('warnings')).toContainText(/UID/i);
    const vol = await page.evaluate(() => (window as unknown as W).__psoasview.volume());
    expect(vol?.dimensions).toEqual([512, 512, 20]);
    expect(await litFraction(page, 'axial')).toBeGreaterThan(0.05);
  }
  await saveScreenshot(page, testInfo, 'real-j2k-empty-uids.png');
});

// Broken inputs (made in the test, no shared data needed): each must give a specific, visible error that names
// the file — never a blank page or a generic failure.
const BROKEN: Array<{ name: string; bytes: Buffer; codes: string[] }> = [
  { name: 'notes.dcm', bytes: Buffer.from('this is a text file, not DICOM\n'.repeat(20)), codes: ['NOT_DICOM', 'CORRUPT_FILE'] },
  // a gzip header followed by garbage: a corrupt .nii.gz
  { name: 'broken.nii.gz', bytes: Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0x03]), Buffer.alloc(300, 0x5a)]), codes: ['NOT_NIFTI', 'CORRUPT_FILE', 'UNSUPPORTED_NIFTI'] },
  // 348 zero bytes: a NIfTI-1 sized header with no magic
  { name: 'empty.nii', bytes: Buffer.alloc(400, 0), codes: ['NOT_NIFTI', 'UNSUPPORTED_NIFTI', 'CORRUPT_FILE'] },
];
for (const b of BROKEN) {
  test(`a broken local file (${b.name}) shows a specific error naming it`, async ({ page }) => {
    await page.goto('/');
    await page.getByTestId('local-files').setInputFiles({ name: b.name, mimeType: 'application/octet-stream', buffer: b.bytes });
    const st = await waitForViews(page);
    expect(st.state).toBe('error');
    expect(b.codes).toContain(st.error?.code);
    const alert = page.getByTestId('error');
    await expect(alert).toBeVisible();
    await expect(alert).toHaveAttribute('role', 'alert');
    await expect(alert).toContainText(st.error!.code);
    await expect(alert).toContainText(b.name);
  });
}
