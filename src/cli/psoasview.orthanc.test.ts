/**
 * `psoasview segment <DICOMweb series URL>` against a real Orthanc (Debian Orthanc + DICOMweb plugin): the 20 real
 * Siemens JPEG 2000 slices of ../shared/data (given UIDs with dcmodify, as Orthanc rejects empty ones) are
 * uploaded, then the CLI is given the series URL (and a study URL, which picks the best CT series).
 * Skips with a printed reason when Orthanc, dcmodify or ../shared/data is absent.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrthanc, uploadFiles, type OrthancHandle } from '../../scripts/orthanc';
import { copyWithUids, freePort, onPath } from '../../scripts/test-support';
import { readNifti } from '../core/io/nifti';
import { tinyManifest } from '../pipeline/synthetic';

const REPO = path.resolve(__dirname, '../..');
const BIN = path.join(REPO, 'bin', 'psoasview.mjs');
const TINY_ONNX = path.join(REPO, 'src/inference/fixtures/tiny-conv3d-softmax.onnx');
const REAL = path.resolve(REPO, '../shared/data/real/abdomen-ct-dicom-20slices');
const missing = [!onPath('Orthanc') && 'the Orthanc binary', !onPath('dcmodify') && 'dcmodify (dcmtk)', !existsSync(REAL) && REAL].filter(Boolean);
if (missing.length) console.warn(`psoasview.orthanc.test: skipping: ${missing.join(', ')} absent`);

const STUDY = '2.25.1618033988749894848204586834365';
const SERIES = '2.25.1414213562373095048801688724209';


function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: REPO });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(missing.length > 0)('psoasview segment from a DICOMweb URL (real Orthanc)', () => {
  let h: OrthancHandle | undefined;
  let dir = '';
  let pkg = '';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'psoasview-cli-orthanc-'));
    const files = copyWithUids(REAL, dir, { study: STUDY, series: SERIES, patientName: 'ANON^CLI', patientId: 'CLI01' });
    pkg = path.join(dir, 'pkg');
    mkdirSync(pkg);
    copyFileSync(TINY_ONNX, path.join(pkg, 'model.onnx'));
    writeFileSync(
      path.join(pkg, 'manifest.json'),
      JSON.stringify({ ...tinyManifest(), onnx: 'model.onnx', sha256: createHash('sha256').update(readFileSync(TINY_ONNX)).digest('hex') }),
    );
    h = await startOrthanc({ port: await freePort() });
    await uploadFiles(h.url, files);
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it.each([
    ['series URL', () => `${h!.dicomwebUrl}/studies/${STUDY}/series/${SERIES}`],
    ['study URL (best CT series picked)', () => `${h!.dicomwebUrl}/studies/${STUDY}`],
  ])('%s → mask on the 512x512x20 source grid, series UIDs in measurements.json', async (_what, url) => {
    const out = path.join(dir, `out-${_what.length}`);
    const r = await cli(['segment', url(), '--out', out, '--model', pkg, '-q', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.input).toMatchObject({
      source: url(),
      kind: 'dicomweb',
      dimensions: [512, 512, 20],
      orientation: 'LPS',
      modality: 'CT',
      study_instance_uid: STUDY,
      series_instance_uid: SERIES,
    });
    const mask = readNifti(new Uint8Array(readFileSync(path.join(out, 'psoas-mask.nii.gz'))), 'mask');
    expect(mask.geometry.dimensions).toEqual([512, 512, 20]);
    for (let a = 0; a < 3; a++) expect(mask.geometry.origin[a]).toBeCloseTo(j.input.origin[a], 3);
  }, 120_000);

  it('an unknown series is a clear error naming the URL', async () => {
    const url = `${h!.dicomwebUrl}/studies/${STUDY}/series/2.25.999`;
    const r = await cli(['segment', url, '--out', path.join(dir, 'bad'), '--model', pkg, '-q']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${h!.dicomwebUrl}/studies/${STUDY}/series/2.25.999/metadata`);
  }, 60_000);
});
