/**
 * The `psoasview` CLI run as a child process (node bin/psoasview.mjs …), on small synthetic NIfTI files written
 * with writeNifti: two cylinders along z (patient's left at LPS x = +10 mm, right at x = -10 mm, radius 6 mm,
 * 20 slices of 2 mm = 40 mm long), in fat (-100 HU). HU 50 (left) and 350 (right) are the values the tiny test
 * model (src/inference/fixtures/tiny-conv3d-softmax.onnx) labels 1 and 2, so `segment` with it finds them.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY, type VolumeGeometry } from '../core/geometry';
import { readNifti, writeNifti } from '../core/io/nifti';
import type { Volume } from '../core/volume';
import { cylinderPhantom, dice, tinyManifest } from '../pipeline/synthetic';
import { main } from './psoasview';

const REPO = path.resolve(__dirname, '../..');
const BIN = path.join(REPO, 'bin', 'psoasview.mjs');
const TINY_ONNX = path.join(REPO, 'src/inference/fixtures/tiny-conv3d-softmax.onnx');
const SHARED = path.resolve(REPO, '../shared/data');
const REAL_NII = path.join(SHARED, 'real/abdomen-ct-3mm.nii.gz');
const REAL_DICOM = path.join(SHARED, 'real/abdomen-ct-dicom-20slices');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The same command line run in this process through `main` (what bin/psoasview.mjs calls), for the many
 * bad-input cases: a child process per case would cost a second of CPU each. Env overrides are applied for the
 * duration of the call.
 */
async function inProcess(args: string[], env: Record<string, string> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  try {
    const code = await main(args, { out: (t) => (stdout += t + '\n'), err: (t) => (stderr += t + '\n') });
    return { code, stdout, stderr };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

// Synthetic study, voxel index (i, j, k) → LPS mm: x = -20 + i, y = -20 + j, z = -30 + 2k.
const GEOM: VolumeGeometry = { dimensions: [40, 40, 30], spacing: [1, 1, 2], origin: [-20, -20, -30], direction: [...IDENTITY] };
const R_MM = 6;
const K0 = 5;
const K1 = 24; // inclusive: 20 slices
const CENTRES: Record<1 | 2, [number, number]> = { 1: [30, 20], 2: [10, 20] }; // (i, j): x = +10 (left), x = -10 (right)
const HU = { fat: -100, 1: 50, 2: 350 };

function labelAt(i: number, j: number, k: number): 0 | 1 | 2 {
  if (k < K0 || k > K1) return 0;
  for (const l of [1, 2] as const) {
    const [ci, cj] = CENTRES[l];
    if ((i - ci) ** 2 + (j - cj) ** 2 <= R_MM * R_MM) return l;
  }
  return 0;
}

function syntheticStudy(values: Record<1 | 2, number> = { 1: 1, 2: 2 }): { image: Volume<Int16Array>; mask: Volume<Uint8Array>; counts: Record<1 | 2, number>; perSlice: Record<1 | 2, number> } {
  const [nx, ny, nz] = GEOM.dimensions;
  const img = new Int16Array(nx * ny * nz);
  const lab = new Uint8Array(nx * ny * nz);
  const counts = { 1: 0, 2: 0 };
  const perSlice = { 1: 0, 2: 0 };
  for (let k = 0, v = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, v++) {
        const l = labelAt(i, j, k);
        img[v] = l ? HU[l] : HU.fat;
        lab[v] = l ? values[l] : 0;
        if (l) {
          counts[l]++;
          if (k === K0) perSlice[l]++;
        }
      }
  return {
    image: { geometry: GEOM, data: img, units: 'HU', meta: {} },
    mask: { geometry: GEOM, data: lab, units: 'label', meta: {} },
    counts,
    perSlice,
  };
}

let dir = '';
let imagePath = '';
let maskPath = '';
let tinyPkg = '';
const study = syntheticStudy();
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'psoasview-cli-'));
  imagePath = path.join(dir, 'ct.nii.gz');
  maskPath = path.join(dir, 'mask.nii.gz');
  writeFileSync(imagePath, writeNifti(study.image));
  writeFileSync(maskPath, writeNifti(study.mask));
  // A model package like models/<name>/: the tiny fixture + its manifest with the right sha256.
  tinyPkg = path.join(dir, 'models', 'tiny');
  mkdirSync(tinyPkg, { recursive: true });
  copyFileSync(TINY_ONNX, path.join(tinyPkg, 'model.onnx'));
  const m = { ...tinyManifest(), onnx: 'model.onnx', sha256: createHash('sha256').update(readFileSync(TINY_ONNX)).digest('hex') };
  writeFileSync(path.join(tinyPkg, 'manifest.json'), JSON.stringify(m, null, 2));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('psoasview measure', () => {
  it('measures two cylinders: volume, extent, CSA, mean HU, input geometry, table on stdout', async () => {
    const out = path.join(dir, 'm1');
    const r = await cli(['measure', imagePath, '--mask', maskPath, '--out', out, '-q']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = readJson(path.join(out, 'measurements.json'));
    expect(j.tool).toMatchObject({ name: 'psoasview', command: 'measure' });
    expect(j.model).toBeUndefined();
    expect(j.backend).toBeNull();
    expect(j.input).toMatchObject({ source: imagePath, kind: 'nifti', dimensions: [40, 40, 30], spacing: [1, 1, 2], orientation: 'LPS', units: 'HU' });
    expect(j.input.origin).toEqual([-20, -20, -30]);
    expect(j.input.z_range_mm).toEqual([-30, 28]); // voxel centres of slices k = 0 and 29
    expect(j.mask).toMatchObject({ labels: { psoas_left: 1, psoas_right: 2 }, resampled: false, reordered: false });
    expect(Object.keys(j.timings_ms)).toEqual(expect.arrayContaining(['load', 'measure', 'total']));
    // 113 voxels per disc of radius 6 (1 mm pixels) x 20 slices x 2 mm³ = 4520 mm³; analytic πr²h = 4524 mm³.
    for (const [name, l] of [['psoas_left', 1], ['psoas_right', 2]] as const) {
      const s = j.structures[name];
      expect(study.perSlice[l]).toBe(113);
      expect(s.present).toBe(true);
      expect(s.label).toBe(l);
      expect(s.voxel_count).toBe(study.counts[l]);
      expect(s.volume_ml).toBeCloseTo((study.counts[l] * 2) / 1000, 9);
      expect(s.volume_ml).toBeCloseTo((Math.PI * R_MM * R_MM * 40) / 1000, 1);
      expect(s.extent_mm).toBeCloseTo(40, 9); // z from -30 + 2*5 - 1 = -21 to -30 + 2*24 + 1 = 19
      expect(s.extent_z_range_mm[0]).toBeCloseTo(-21, 9);
      expect(s.extent_z_range_mm[1]).toBeCloseTo(19, 9);
      expect(s.length_mm).toBeGreaterThan(39);
      expect(s.length_mm).toBeLessThan(41);
      expect(s.max_csa_mm2).toBeCloseTo(113, 9);
      expect(s.mean_hu).toBeCloseTo(HU[l], 9);
      expect(s.truncated).toBe(false);
    }
    // The left cylinder's centreline sits at LPS x = +10 (patient's left), the right one's at x = -10.
    expect(j.structures.psoas_left.centreline_endpoints_lps[0][0]).toBeCloseTo(10, 6);
    expect(j.structures.psoas_right.centreline_endpoints_lps[0][0]).toBeCloseTo(-10, 6);
    expect(j.warnings).toEqual([]);
    expect(r.stdout).toMatch(/psoas_left\s+1\s+4\.52\s/);
    expect(r.stdout).toMatch(/psoas_right\s+2\s+4\.52\s/);
    expect(r.stdout).toContain(path.join(out, 'measurements.json'));
  });

  it('--json prints the same JSON that it writes; --level/--height give TPA and PMI', async () => {
    const out = path.join(dir, 'm2');
    const r = await cli(['measure', imagePath, '--mask', maskPath, '--out', out, '--json', '--level', '0', '--height', '1.75', '-q']);
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout);
    expect(printed).toEqual(readJson(path.join(out, 'measurements.json')));
    expect(printed.options).toMatchObject({ level_z_mm: 0, height_m: 1.75 });
    // z = 0 mm is slice k = 15 (within 5..24): 113 mm² per side.
    expect(printed.structures.psoas_left.csa_at_level_mm2).toBeCloseTo(113, 9);
    expect(printed.tpa_mm2).toBeCloseTo(226, 9);
    expect(printed.tpa_cm2).toBeCloseTo(2.26, 9);
    expect(printed.pmi_cm2_per_m2).toBeCloseTo(2.26 / 1.75 ** 2, 9);
  });

  it('--map names the label values of a mask from another tool; without it, says which labels the mask holds', async () => {
    const other = path.join(dir, 'other-labels.nii.gz');
    writeFileSync(other, writeNifti(syntheticStudy({ 1: 7, 2: 9 }).mask));
    const out = path.join(dir, 'm3');
    const r = await cli(['measure', imagePath, '--mask', other, '--map', 'psoas_left=7,psoas_right=9', '--out', out, '-q', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.mask.labels).toEqual({ psoas_left: 7, psoas_right: 9 });
    expect(j.structures.psoas_left).toMatchObject({ label: 7, voxel_count: study.counts[1] });
    expect(j.structures.psoas_right).toMatchObject({ label: 9, voxel_count: study.counts[2] });
    expect(j.structures.psoas_right.mean_hu).toBeCloseTo(350, 9);

    // Swapped map: the numbers follow the map (psoas_left takes label 9, the 350 HU cylinder).
    const swapped = await cli(['measure', imagePath, '--mask', other, '--map', 'psoas_left=9,psoas_right=7', '--out', out, '-q', '--json']);
    expect(JSON.parse(swapped.stdout).structures.psoas_left.mean_hu).toBeCloseTo(350, 9);

    // Default map on labels 7/9: nothing to measure → error naming the labels found.
    const bad = await cli(['measure', imagePath, '--mask', other, '--out', out, '-q']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('None of the labels of --map (psoas_left=1,psoas_right=2)');
    expect(bad.stderr).toContain(`is in mask ${other}`);
    expect(bad.stderr).toMatch(/label\(s\) 7 \(\d+ voxels\), 9 \(\d+ voxels\)/);

    // Partly right map: measured, with a warning about the unnamed label.
    const partial = await cli(['measure', imagePath, '--mask', other, '--map', 'psoas_left=7,psoas_right=2', '--out', out, '-q', '--json']);
    expect(partial.code).toBe(0);
    const pj = JSON.parse(partial.stdout);
    expect(pj.structures.psoas_right.present).toBe(false);
    expect(pj.warnings).toEqual(
      expect.arrayContaining([`psoas_right (label 2) is absent from ${other}; the mask holds label(s) 9: check --map`]),
    );
  });

  it('a mask on another grid covering the image is resampled nearest-neighbour, with a warning', async () => {
    // 2 x 2 x 2 mm grid over the same field of view: 20 x 20 x 30 voxels, voxel (0,0,0) centre at (-19.5, -19.5, -30).
    const g: VolumeGeometry = { dimensions: [20, 20, 30], spacing: [2, 2, 2], origin: [-19.5, -19.5, -30], direction: [...IDENTITY] };
    const data = new Uint8Array(20 * 20 * 30);
    for (let k = K0; k <= K1; k++)
      for (let j = 0; j < 20; j++)
        for (let i = 0; i < 20; i++) {
          const x = -19.5 + 2 * i;
          const y = -19.5 + 2 * j;
          if ((x - 10) ** 2 + y ** 2 <= 36) data[i + 20 * (j + 20 * k)] = 1;
          if ((x + 10) ** 2 + y ** 2 <= 36) data[i + 20 * (j + 20 * k)] = 2;
        }
    const coarse = path.join(dir, 'coarse.nii.gz');
    writeFileSync(coarse, writeNifti({ geometry: g, data, units: 'label', meta: {} }));
    const out = path.join(dir, 'm4');
    const r = await cli(['measure', imagePath, '--mask', coarse, '--out', out, '-q', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.mask.resampled).toBe(true);
    expect(j.warnings[0]).toContain(`Mask ${coarse} is on another grid (mask 20x20x30 @ 2x2x2 mm LPS`);
    expect(j.warnings[0]).toContain('resampled nearest-neighbour onto the image grid');
    // Each 2 mm mask voxel becomes 2 x 2 image voxels: same labelled volume; within 15 % of the cylinder.
    expect(j.structures.psoas_left.volume_ml).toBeCloseTo((data.filter((v) => v === 1).length * 8) / 1000, 9);
    expect(Math.abs(j.structures.psoas_left.volume_ml - 4.52) / 4.52).toBeLessThan(0.15);
    expect(j.structures.psoas_left.extent_mm).toBeCloseTo(40, 9);
  });

  const badCases: Array<[what: string, args: () => string[], code: number, message: RegExp | string]> = [
    ['a missing image file', () => ['measure', path.join(dir, 'nope.nii.gz'), '--mask', maskPath, '--out', path.join(dir, 'b')], 1, `Input ${'<dir>'}/nope.nii.gz does not exist`],
    ['a missing mask file', () => ['measure', imagePath, '--mask', path.join(dir, 'nomask.nii.gz'), '--out', path.join(dir, 'b')], 1, 'Mask <dir>/nomask.nii.gz does not exist'],
    ['an image that is not an image', () => ['measure', path.join(dir, 'notes.txt'), '--mask', maskPath, '--out', path.join(dir, 'b')], 1, /error \[NOT_IMAGE\]: <dir>\/notes\.txt is not an image psoasview can read \(not a DICOM file\)/],
    ['a .nii.gz that is not NIfTI', () => ['measure', path.join(dir, 'fake.nii.gz'), '--mask', maskPath, '--out', path.join(dir, 'b')], 1, 'error [NOT_NIFTI]: <dir>/fake.nii.gz is not a NIfTI file: only 13 bytes'],
    ['a mask that is not NIfTI', () => ['measure', imagePath, '--mask', path.join(dir, 'notes.txt'), '--out', path.join(dir, 'b')], 1, /Mask <dir>\/notes\.txt must be a NIfTI label map/],
    ['a label map given as the image', () => ['measure', maskPath, '--mask', maskPath, '--out', path.join(dir, 'b')], 1, /\[NOT_CT\]: <dir>\/mask\.nii\.gz is a label map \(uint8/],
    ['a mask of another size reaching outside the image', () => ['measure', imagePath, '--mask', path.join(dir, 'big.nii.gz'), '--out', path.join(dir, 'b')], 1, /Mask <dir>\/big\.nii\.gz does not fit image <dir>\/ct\.nii\.gz: it is on another grid, and its labels reach 9\.5 mm outside the image's field of view \(mask 50x40x30 @ 1x1x2 mm/],
    ['a probability map as the mask', () => ['measure', imagePath, '--mask', path.join(dir, 'prob.nii.gz'), '--out', path.join(dir, 'b')], 1, /Mask <dir>\/prob\.nii\.gz is not a label map: it holds the value 0\.5/],
    ['a --map value that is not a number', () => ['measure', imagePath, '--mask', maskPath, '--map', 'psoas_left=abc,psoas_right=2', '--out', path.join(dir, 'b')], 2, 'label value of psoas_left must be an integer 1..255 (0 is background), got "abc"'],
    ['a --map entry without =', () => ['measure', imagePath, '--mask', maskPath, '--map', 'psoas_left', '--out', path.join(dir, 'b')], 2, '"psoas_left" is not name=value'],
    ['a --map giving one label twice', () => ['measure', imagePath, '--mask', maskPath, '--map', 'psoas_left=1,psoas_right=1', '--out', path.join(dir, 'b')], 2, 'psoas_left and psoas_right both use label 1'],
    ['a --map label 0', () => ['measure', imagePath, '--mask', maskPath, '--map', 'psoas_left=0', '--out', path.join(dir, 'b')], 2, 'got "0"'],
    ['a height in cm', () => ['measure', imagePath, '--mask', maskPath, '--level', '0', '--height', '175', '--out', path.join(dir, 'b')], 2, '(in cm? use --height 1.75)'],
    ['a height without a level', () => ['measure', imagePath, '--mask', maskPath, '--height', '1.7', '--out', path.join(dir, 'b')], 2, '--height needs --level'],
    ['a level that is not a number', () => ['measure', imagePath, '--mask', maskPath, '--level', 'L3', '--out', path.join(dir, 'b')], 2, '--level must be a number in mm (patient z), got "L3"'],
    ['no --mask', () => ['measure', imagePath, '--out', path.join(dir, 'b')], 2, '--mask <file> is required'],
    ['no --out', () => ['measure', imagePath, '--mask', maskPath], 2, '--out <dir> is required'],
    ['an unknown option', () => ['measure', imagePath, '--mask', maskPath, '--out', path.join(dir, 'b'), '--colour', 'red'], 2, "Unknown option '--colour'"],
    ['an unknown command', () => ['segmnet', imagePath], 2, 'unknown command "segmnet"'],
  ];

  it('--ref compares the mask with a reference label map: Dice, volume difference, surface distances; --ref-map names its labels', async () => {
    // The reference: the same cylinders, the left one 2 slices (4 mm) longer at the top, labelled 7 / 9.
    const refStudy = syntheticStudy({ 1: 7, 2: 9 });
    const [nx, ny] = GEOM.dimensions;
    let added = 0;
    for (const k of [K1 + 1, K1 + 2])
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++)
          if ((i - CENTRES[1][0]) ** 2 + (j - CENTRES[1][1]) ** 2 <= R_MM * R_MM) {
            refStudy.mask.data[i + nx * (j + ny * k)] = 7;
            added++;
          }
    const refPath = path.join(dir, 'ref-7-9.nii.gz');
    writeFileSync(refPath, writeNifti(refStudy.mask));
    const out = path.join(dir, 'mref');
    const r = await cli(['measure', imagePath, '--mask', maskPath, '--ref', refPath, '--ref-map', 'psoas_left=7,psoas_right=9', '--out', out, '-q', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.reference).toEqual({ file: refPath, labels: { psoas_left: 7, psoas_right: 9 }, resampled: false, reordered: false });
    const left = j.agreement.psoas_left;
    const n = study.counts[1];
    expect(left.dice).toBeCloseTo((2 * n) / (2 * n + added), 12);
    expect(left.false_negative_voxels).toBe(added);
    expect(left.false_positive_voxels).toBe(0);
    expect(left.volume_diff_ml).toBeCloseTo((-added * 2) / 1000, 12);
    expect(left.hd_mm).toBeCloseTo(4, 12); // the reference's top face is two 2 mm slices above the mask's
    expect(j.agreement.psoas_right).toMatchObject({ dice: 1, hd_mm: 0, assd_mm: 0, volume_diff_ml: 0 });
    expect(Object.keys(j.timings_ms)).toContain('compare');
    // The table on stdout.
    const t = await cli(['measure', imagePath, '--mask', maskPath, '--ref', refPath, '--ref-map', 'psoas_left=7,psoas_right=9', '--out', out, '-q']);
    expect(t.stdout).toContain(`against reference ${refPath}`);
    expect(t.stdout).toMatch(/psoas_right\s+1\.0000\s+1\.0000\s+0\.00\s+0\.00\s+0\.00\s+0\.00\s+0\.00/);
    // Without --ref-map the reference's 7/9 are not psoas_left/right: a clear error naming the file and its labels.
    const bad = await inProcess(['measure', imagePath, '--mask', maskPath, '--ref', refPath, '--out', out, '-q']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`Reference ${refPath} holds none of the labels psoas_left=1,psoas_right=2; it holds label(s) 7, 9: name them with --ref-map`);
    const badMap = await inProcess(['measure', imagePath, '--mask', maskPath, '--ref', refPath, '--ref-map', 'psoas_left=0', '--out', out, '-q']);
    expect(badMap.code).toBe(2);
    expect(badMap.stderr).toContain('--ref-map "psoas_left=0": label value of psoas_left must be an integer 1..255');
  });

  it('segment --ref: the agreement equals an independent Dice of the written mask against the truth', async () => {
    const g: VolumeGeometry = { dimensions: [120, 100, 48], spacing: [2, 2, 2.5], origin: [-119, -99, -58.75], direction: [...IDENTITY] };
    const { ct, truth } = cylinderPhantom(g);
    const ctPath = path.join(dir, 'cyl-ref.nii.gz');
    const truthPath = path.join(dir, 'cyl-truth.nii.gz');
    writeFileSync(ctPath, writeNifti(ct));
    writeFileSync(truthPath, writeNifti({ geometry: g, data: truth, units: 'label', meta: {} }));
    const out = path.join(dir, 'sref');
    const r = await cli(['segment', ctPath, '--ref', truthPath, '--out', out, '--model', tinyPkg, '--threads', '1', '-q', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const mask = readNifti(new Uint8Array(readFileSync(path.join(out, 'psoas-mask.nii.gz'))), 'mask');
    // A model whose channels name the sides the other way round: the mask takes the project's values by name
    // (psoas_left = 1), and the agreement compares those same values.
    const swapped = path.join(dir, 'models-swapped', 'tiny');
    mkdirSync(swapped, { recursive: true });
    copyFileSync(TINY_ONNX, path.join(swapped, 'model.onnx'));
    const tm = tinyManifest();
    writeFileSync(path.join(swapped, 'manifest.json'), JSON.stringify({ ...tm, onnx: 'model.onnx', output: { ...tm.output, labels: { 0: 'background', 1: 'psoas_right', 2: 'psoas_left' } } }));
    const sw = await cli(['segment', ctPath, '--ref', truthPath, '--out', path.join(dir, 'sref-swapped'), '--model', swapped, '--threads', '1', '-q', '--json']);
    expect(sw.code, sw.stderr).toBe(0);
    const js = JSON.parse(sw.stdout);
    expect(js.mask.labels).toEqual({ psoas_left: 1, psoas_right: 2 });
    expect(js.agreement.psoas_left).toMatchObject({ label: 1, ref_label: 1 });
    // channel 1 (the 50 HU cylinder, truth label 1) is now called psoas_right, value 2: no overlap with truth 2
    expect(js.agreement.psoas_right.dice).toBe(0);
    expect(js.agreement.psoas_left.dice).toBe(0);
    // A missing reference fails before the segmentation runs (no mask written), naming the file.
    const missing = await inProcess(['segment', ctPath, '--ref', path.join(dir, 'no-ref.nii.gz'), '--out', path.join(dir, 'sref2'), '--model', tinyPkg, '-q']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(path.join(dir, 'no-ref.nii.gz'));
    expect(existsSync(path.join(dir, 'sref2', 'psoas-mask.nii.gz'))).toBe(false);
    for (const [side, l] of [['psoas_left', 1], ['psoas_right', 2]] as const) {
      expect(j.agreement[side].dice).toBeCloseTo(dice(mask.data, truth, l), 12);
      expect(j.agreement[side].dice).toBeGreaterThan(0.9);
      expect(j.agreement[side].hd95_mm).toBeGreaterThanOrEqual(0);
      expect(j.agreement[side].hd95_mm).toBeLessThan(5);
    }
  });

  it('--list measures a cohort of image + mask pairs: one folder per case, summary.csv, a bad pair recorded (exit 1)', async () => {
    const other = path.join(dir, 'labels-7-9.nii.gz');
    writeFileSync(other, writeNifti(syntheticStudy({ 1: 7, 2: 9 }).mask));
    const list = path.join(dir, 'pairs.csv');
    writeFileSync(list, `image,mask,case,level_z_mm,height_m,ref\n${imagePath},${maskPath},S1,0,1.75,\n${imagePath},${other},S2,,,\n${imagePath},${maskPath},S3,,,${maskPath}\n`);
    const out = path.join(dir, 'mb');
    const r = await cli(['measure', '--list', list, '--out', out, '-q']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: 1 of 3 case(s) failed');
    expect(r.stderr).toContain(`S2 (${imagePath}): [BAD_ARGUMENT] None of the labels of --map (psoas_left=1,psoas_right=2) is in mask ${other}`);
    const sum = readJson(path.join(out, 'summary.json'));
    expect(sum.tool.command).toBe('measure');
    expect(sum.model).toBeUndefined();
    expect(sum.counts).toEqual({ ok: 2, error: 1, reused: 0, pending: 0 });
    // S1 equals a single `measure` with the same level and height.
    const single = await cli(['measure', imagePath, '--mask', maskPath, '--out', path.join(dir, 'mb1'), '--level', '0', '--height', '1.75', '--json', '-q']);
    const one = JSON.parse(single.stdout);
    expect(readJson(path.join(out, 'S1', 'measurements.json')).structures).toEqual(one.structures);
    expect(sum.cases[0]).toMatchObject({ case: 'S1', status: 'ok', pmi_cm2_per_m2: one.pmi_cm2_per_m2 });
    expect(sum.cases[0].structures.psoas_left.volume_ml).toBeCloseTo((study.counts[1] * 2) / 1000, 9);
    expect(sum.cases[0].structures.psoas_left.csa_at_level_mm2).toBeCloseTo(113, 9);
    expect(sum.cases[2].structures.psoas_right.mean_hu).toBeCloseTo(350, 9);
    expect(existsSync(path.join(out, 'S2'))).toBe(false);
    const csv = readFileSync(path.join(out, 'summary.csv'), 'utf8').trimEnd().split('\n');
    expect(csv).toHaveLength(4);
    expect(csv[2]).toMatch(/^S2,error,/);
    // S3 was compared with a reference (itself): the table gains Dice etc. per side, empty for the others.
    const head = csv[0].split(',');
    expect(head).toEqual(expect.arrayContaining(['psoas_left_dice', 'psoas_right_hd95_mm', 'psoas_left_assd_mm', 'psoas_right_volume_diff_percent']));
    const s3 = csv[3].split(',');
    expect(s3[head.indexOf('psoas_left_dice')]).toBe('1');
    expect(s3[head.indexOf('psoas_right_hd95_mm')]).toBe('0');
    expect(csv[1].split(',')[head.indexOf('psoas_left_dice')]).toBe('');
    expect(sum.cases[2].agreement.psoas_left).toEqual({ dice: 1, volume_diff_percent: 0, assd_mm: 0, hd95_mm: 0 });
    // --map applies to every row: with the 7/9 map only S2 is measured and the others fail.
    const swapped = await cli(['measure', '--list', list, '--out', path.join(dir, 'mb2'), '--map', 'psoas_left=7,psoas_right=9', '-q', '--json']);
    expect(swapped.code).toBe(1);
    expect(JSON.parse(swapped.stdout).cases.map((c: { status: string }) => c.status)).toEqual(['error', 'ok', 'error']);
  });

  describe('bad input: non-zero exit and a message naming the file / option and the value', () => {
    beforeAll(() => {
      writeFileSync(path.join(dir, 'notes.txt'), 'not an image\n');
      writeFileSync(path.join(dir, 'fake.nii.gz'), 'not an image\n');
      // Same spacing and origin, 10 more columns, labels at i = 45..49 (x = +25..+29 mm); the image ends at x = +19.5 mm.
      const g: VolumeGeometry = { ...GEOM, dimensions: [50, 40, 30] };
      const big = new Uint8Array(50 * 40 * 30);
      for (let k = K0; k <= K1; k++) for (let j = 18; j <= 22; j++) for (let i = 45; i <= 49; i++) big[i + 50 * (j + 40 * k)] = 1;
      writeFileSync(path.join(dir, 'big.nii.gz'), writeNifti({ geometry: g, data: big, units: 'label', meta: {} }));
      const prob = new Float32Array(40 * 40 * 30);
      prob[100] = 0.5;
      writeFileSync(path.join(dir, 'prob.nii.gz'), writeNifti({ geometry: GEOM, data: prob, units: 'other', meta: {} }));
    });

    it('through the bin: exit status 1 for bad input, 2 for a bad command line', async () => {
      expect((await cli(['measure', path.join(dir, 'notes.txt'), '--mask', maskPath, '--out', path.join(dir, 'b')])).code).toBe(1);
      const usage = await cli(['measure', imagePath, '--mask', maskPath, '--map', 'psoas_left=x', '--out', path.join(dir, 'b')]);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain("Run 'psoasview measure --help' for its options.");
    });

    it.each(badCases)('%s', async (_what, args, code, message) => {
      const r = await inProcess(args());
      expect(r.code).toBe(code);
      const err = r.stderr.split(dir).join('<dir>');
      if (typeof message === 'string') expect(err).toContain(message);
      else expect(err).toMatch(message);
      expect(r.stdout).toBe('');
    });
  });
});

describe('psoasview segment', () => {
  it('runs the tiny model package end to end: mask on the source grid (RAS NIfTI), model provenance, timings', async () => {
    // pipeline/synthetic's cylinder "CT" (tuned so the tiny model neither grows nor shrinks the cylinders) on a
    // RAS-stored grid like TotalSegmentator's files: i → patient's right, j → anterior. LPS x = -(i*2 - 119).
    const g: VolumeGeometry = { dimensions: [120, 100, 48], spacing: [2, 2, 2.5], origin: [119, 99, -58.75], direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1] };
    const { ct, truth } = cylinderPhantom(g);
    const ctPath = path.join(dir, 'cylinders-ras.nii.gz');
    writeFileSync(ctPath, writeNifti(ct));
    const out = path.join(dir, 's1');
    const r = await cli(['segment', ctPath, '--out', out, '--model', tinyPkg, '--threads', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('inference');
    const j = JSON.parse(r.stdout);
    expect(j).toEqual(readJson(path.join(out, 'measurements.json')));
    const sha = createHash('sha256').update(readFileSync(TINY_ONNX)).digest('hex');
    expect(j.model).toEqual({ name: 'tiny-conv3d-softmax', version: 'test', sha256: sha, path: tinyPkg });
    expect(j.backend).toBe('onnxruntime-node/cpu');
    expect(j.input).toMatchObject({ dimensions: [120, 100, 48], spacing: [2, 2, 2.5], orientation: 'RAS' });
    for (const stage of ['model_load', 'load', 'reorient', 'resample', 'normalise', 'inference', 'argmax', 'mapBack', 'postprocess', 'measure', 'total'])
      expect(j.timings_ms[stage], stage).toBeGreaterThanOrEqual(0);
    expect(j.steps).toHaveLength(7);
    expect(j.steps[0]).toBe('reorient: RAS → LPS: axes [0,1,2], flips [1,1,0] (applied within the resampling, no copy)');

    const mask = readNifti(new Uint8Array(readFileSync(path.join(out, 'psoas-mask.nii.gz'))), 'mask');
    expect(mask.units).toBe('label');
    expect(mask.data).toBeInstanceOf(Uint8Array);
    expect(mask.geometry.dimensions).toEqual(g.dimensions);
    for (let a = 0; a < 3; a++) {
      expect(mask.geometry.spacing[a]).toBeCloseTo(g.spacing[a], 5);
      expect(mask.geometry.origin[a]).toBeCloseTo(g.origin[a], 4);
    }
    expect(mask.geometry.direction.map((v) => Math.round(v * 1e6) / 1e6)).toEqual(g.direction);
    // Label 1 must be the patient's LEFT cylinder (LPS x = +45 mm), 2 the right one, voxel for voxel.
    for (const l of [1, 2] as const) {
      expect(dice(mask.data, truth, l), `Dice of label ${l}`).toBeGreaterThan(0.9);
      const s = j.structures[l === 1 ? 'psoas_left' : 'psoas_right'];
      expect(s.voxel_count).toBe(mask.data.filter((v) => v === l).length);
      expect(s.centreline_endpoints_lps[0][0]).toBeCloseTo(l === 1 ? 45 : -45, 0);
      // Cylinder r = 16 mm, |z| <= 50 mm: 80.4 mL, 100 mm long.
      expect(Math.abs(s.volume_ml - (Math.PI * 16 * 16 * 100) / 1000)).toBeLessThan(8);
      expect(s.extent_mm).toBeCloseTo(100, -1);
    }
  });

  it('takes the first package of the models folder by default (PSOASVIEW_MODELS_DIR)', async () => {
    const out = path.join(dir, 's2');
    const r = await cli(['segment', imagePath, '--out', out, '-q', '--threads', '1'], { PSOASVIEW_MODELS_DIR: path.join(dir, 'models') });
    expect(r.code).toBe(0);
    expect(readJson(path.join(out, 'measurements.json')).model.path).toBe(tinyPkg);
  });

  it.each([
    ['an empty models folder', (): string[] => ['segment', imagePath, '--out', path.join(dir, 'b')], () => ({ PSOASVIEW_MODELS_DIR: path.join(dir, 'no-models') }), /\[BAD_MODEL\]: No model package in <dir>\/no-models/],
    ['a model whose ONNX does not match its sha256', (): string[] => ['segment', imagePath, '--out', path.join(dir, 'b'), '--model', path.join(dir, 'tampered')], () => ({}), /ONNX model <dir>\/tampered\/model\.onnx has sha256 [0-9a-f]{64}, manifest <dir>\/tampered\/manifest\.json says 0{64}/],
    ['a missing input', (): string[] => ['segment', path.join(dir, 'missing'), '--out', path.join(dir, 'b'), '--model', tinyPkg], () => ({}), 'Input <dir>/missing does not exist'],
    ['a DICOMweb URL without a study', (): string[] => ['segment', 'http://127.0.0.1:9/dicom-web/series/1.2.3', '--out', path.join(dir, 'b'), '--model', tinyPkg], () => ({}), 'names no study: expected .../studies/<StudyInstanceUID>/series/<SeriesInstanceUID>'],
    ['an unreachable PACS', (): string[] => ['segment', 'http://127.0.0.1:9/dicom-web/studies/1.2.3/series/4.5.6', '--out', path.join(dir, 'b'), '--model', tinyPkg], () => ({}), /\[PACS_UNREACHABLE\]: Cannot reach the PACS at http:\/\/127\.0\.0\.1:9\/dicom-web\/studies\/1\.2\.3\/series\/4\.5\.6\/metadata/],
    ['--out that is a file', (): string[] => ['segment', imagePath, '--out', imagePath, '--model', tinyPkg], () => ({}), '--out <dir>/ct.nii.gz exists and is not a folder'],
  ] as Array<[string, () => string[], () => Record<string, string>, RegExp | string]>)('fails on %s', async (_what, args, env, message) => {
    mkdirSync(path.join(dir, 'no-models'), { recursive: true });
    mkdirSync(path.join(dir, 'tampered'), { recursive: true });
    copyFileSync(TINY_ONNX, path.join(dir, 'tampered', 'model.onnx'));
    writeFileSync(path.join(dir, 'tampered', 'manifest.json'), JSON.stringify({ ...tinyManifest(), onnx: 'model.onnx', sha256: '0'.repeat(64) }));
    const r = await inProcess(args(), env());
    expect(r.code).toBe(1);
    const err = r.stderr.split(dir).join('<dir>');
    if (typeof message === 'string') expect(err).toContain(message);
    else expect(err).toMatch(message);
  });

  const realModel = (() => {
    const models = path.join(REPO, 'models');
    if (!existsSync(models)) return undefined;
    const names = readdirSync(models).sort();
    const n = names.find((x) => existsSync(path.join(models, x, 'manifest.json')));
    return n ? path.join(models, n) : undefined;
  })();
  if (!existsSync(REAL_NII)) console.warn(`psoasview.test: skipping the real-CT segment test: ${REAL_NII} is absent (../shared/data not mounted)`);
  it.skipIf(!existsSync(REAL_NII))(
    `segments the real abdominal CT (3 mm NIfTI) with ${realModel ? 'the model in models/' : 'the tiny model (no package in models/ yet)'}: writes a mask and measurements (no accuracy claim)`,
    async () => {
      const out = path.join(dir, 'real');
      const r = await cli(['segment', REAL_NII, '--out', out, '--model', realModel ?? tinyPkg, '-q']);
      expect(r.code, r.stderr).toBe(0);
      const j = readJson(path.join(out, 'measurements.json'));
      expect(j.input).toMatchObject({ dimensions: [122, 101, 112], spacing: [3, 3, 3], orientation: 'RAS' });
      expect(Object.keys(j.structures)).toEqual(['psoas_left', 'psoas_right']);
      const mask = readNifti(new Uint8Array(readFileSync(path.join(out, 'psoas-mask.nii.gz'))), 'mask');
      expect(mask.geometry.dimensions).toEqual([122, 101, 112]);
      console.log(
        `real CT, ${j.model.name}: ` +
          Object.entries(j.structures as Record<string, { volume_ml: number; length_mm: number }>)
            .map(([n, s]) => `${n} ${s.volume_ml.toFixed(1)} mL, ${s.length_mm.toFixed(0)} mm`)
            .join('; ') +
          `; inference ${Math.round(j.timings_ms.inference)} ms, total ${Math.round(j.timings_ms.total)} ms`,
      );
    },
    // the shipped 2 mm U-Net takes ~1 min on 2 shared cores; leave room for a loaded CI machine
    300_000,
  );

  if (!existsSync(REAL_DICOM)) console.warn(`psoasview.test: skipping the DICOM folder test: ${REAL_DICOM} is absent (../shared/data not mounted)`);
  it.skipIf(!existsSync(REAL_DICOM))(
    'reads a DICOM folder (20 real JPEG 2000 slices, empty UIDs): mask on its 512x512x20 grid',
    async () => {
      const out = path.join(dir, 'dicom');
      const r = await cli(['segment', REAL_DICOM, '--out', out, '--model', tinyPkg, '-q', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.input).toMatchObject({ kind: 'dicom-folder', dimensions: [512, 512, 20], orientation: 'LPS', modality: 'CT' });
      expect(j.input.spacing[0]).toBeCloseTo(0.977, 3);
      const mask = readNifti(new Uint8Array(readFileSync(path.join(out, 'psoas-mask.nii.gz'))), 'mask');
      expect(mask.geometry.dimensions).toEqual([512, 512, 20]);
    },
    120_000,
  );
});

describe('psoasview segment, batch (several inputs / --list)', () => {
  // Two cylinder CTs (pipeline/synthetic, which the tiny model segments), one on an LPS grid and one on a RAS grid
  // with 3 mm slices; a label map given as an image (NOT_CT) and a path that does not exist.
  const grids: Record<string, VolumeGeometry> = {
    lps: { dimensions: [120, 100, 48], spacing: [2, 2, 2.5], origin: [-119, -99, -58.75], direction: [...IDENTITY] },
    ras: { dimensions: [120, 100, 40], spacing: [2, 2, 3], origin: [119, 99, -58.5], direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1] },
  };
  let bdir = '';
  const files: Record<string, string> = {};
  beforeAll(() => {
    bdir = path.join(dir, 'batch');
    for (const [name, g] of Object.entries(grids)) {
      mkdirSync(path.join(bdir, `P-${name}`), { recursive: true });
      files[name] = path.join(bdir, `P-${name}`, 'ct.nii.gz');
      writeFileSync(files[name], writeNifti(cylinderPhantom(g).ct));
    }
  });

  it('one model session for all cases: per-case folders equal to single runs, summary.csv/json, failed cases recorded, exit 1; --resume keeps the done cases', async () => {
    const list = path.join(bdir, 'cohort.csv');
    const missing = path.join(bdir, 'P-late', 'ct.nii.gz');
    writeFileSync(list, `# cohort\ninput,level_z_mm,height_m\n${files.ras},0,1.8\n${maskPath}\n${missing}\n`);
    const out = path.join(bdir, 'out');
    const r = await cli(['segment', files.lps, '--list', list, '--out', out, '--model', tinyPkg, '--threads', '1']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('batch of 4 case(s)');
    expect(r.stderr).toContain('error: 2 of 4 case(s) failed');
    expect(r.stderr).toContain(`  mask (${maskPath}): [NOT_CT] ${maskPath} is a label map`);
    expect(r.stderr).toContain(`  P-late_ct (${missing}): [BAD_ARGUMENT] Input ${missing} does not exist`);
    // The model was loaded once: one "model" line for four cases.
    expect(r.stderr.match(/^model /gm)).toHaveLength(1);

    const sum = readJson(path.join(out, 'summary.json'));
    expect(sum.model.sha256).toBe(createHash('sha256').update(readFileSync(TINY_ONNX)).digest('hex'));
    expect(sum.model_load_ms).toBeGreaterThan(0);
    expect(sum.counts).toEqual({ ok: 2, error: 2, reused: 0, pending: 0 });
    // Case names: the shared file name "ct" takes its patient folder; "mask" is unique.
    expect(sum.cases.map((c: { case: string; status: string }) => [c.case, c.status])).toEqual([
      ['P-lps_ct', 'ok'],
      ['P-ras_ct', 'ok'],
      ['mask', 'error'],
      ['P-late_ct', 'error'],
    ]);
    expect(existsSync(path.join(out, 'mask'))).toBe(false); // nothing written for a failed case
    expect(sum.cases[2].error.code).toBe('NOT_CT');

    // Each case equals a single-input run on the same file: same mask voxels, same figures.
    for (const [name, id, extra] of [['lps', 'P-lps_ct', []], ['ras', 'P-ras_ct', ['--level', '0', '--height', '1.8']]] as const) {
      const single = path.join(bdir, `single-${name}`);
      const s = await cli(['segment', files[name], '--out', single, '--model', tinyPkg, '--threads', '1', '-q', ...extra]);
      expect(s.code, s.stderr).toBe(0);
      const a = readNifti(new Uint8Array(readFileSync(path.join(out, id, 'psoas-mask.nii.gz'))), 'batch');
      const b = readNifti(new Uint8Array(readFileSync(path.join(single, 'psoas-mask.nii.gz'))), 'single');
      expect(a.geometry.dimensions).toEqual(grids[name].dimensions);
      expect(Buffer.compare(Buffer.from(a.data.buffer), Buffer.from(b.data.buffer))).toBe(0);
      const jb = readJson(path.join(out, id, 'measurements.json'));
      const js = readJson(path.join(single, 'measurements.json'));
      expect(jb.structures).toEqual(js.structures);
      expect(jb.options).toEqual(js.options);
      expect(jb.timings_ms.model_load).toBeUndefined(); // paid once, in summary.json
      const c = sum.cases.find((x: { case: string }) => x.case === id);
      for (const side of ['psoas_left', 'psoas_right']) {
        expect(c.structures[side].volume_ml).toBe(js.structures[side].volume_ml);
        expect(c.structures[side].length_mm).toBe(js.structures[side].length_mm);
      }
      if (name === 'ras') expect(c).toMatchObject({ level_z_mm: 0, height_m: 1.8, pmi_cm2_per_m2: js.pmi_cm2_per_m2 });
    }

    // summary.csv: the same rows, and the figures as numbers a table program reads back.
    const csv = readFileSync(path.join(out, 'summary.csv'), 'utf8').trimEnd().split('\n');
    expect(csv).toHaveLength(5);
    const head = csv[0].split(',');
    const row = (id: string) => {
      const cells = csv.find((l) => l.startsWith(`${id},`))!.split(',');
      return (col: string) => cells[head.indexOf(col)];
    };
    const lps = row('P-lps_ct');
    expect(Number(lps('psoas_left_volume_ml'))).toBe(sum.cases[0].structures.psoas_left.volume_ml);
    // Cylinder r = 16 mm, |z| <= 50 mm: 80.4 mL.
    expect(Math.abs(Number(lps('psoas_right_volume_ml')) - 80.4)).toBeLessThan(8);
    expect(lps('psoas_left_csa_at_level_mm2')).toBe(''); // no level for this case
    expect(Number(row('P-ras_ct')('pmi_cm2_per_m2'))).toBeCloseTo(sum.cases[1].pmi_cm2_per_m2, 6);
    expect(row('mask')('error_code')).toBe('NOT_CT');
    expect(row('mask')('psoas_left_volume_ml')).toBe('');
    expect(r.stdout).toMatch(/^P-lps_ct\s+ok\s+\d+\.\d\d\s+\d+\.\d\s+\d+\.\d\d/m);
    expect(r.stdout).toMatch(/^P-late_ct\s+error BAD_ARGUMENT/m);

    // --resume after the missing scan arrived (and the label map was dropped from the list): the two done cases are
    // kept untouched, the new one runs; exit 0.
    mkdirSync(path.dirname(missing), { recursive: true });
    copyFileSync(files.lps, missing);
    writeFileSync(list, `input,level_z_mm,height_m\n${files.ras},0,1.8\n${missing}\n`);
    const before = readFileSync(path.join(out, 'P-ras_ct', 'measurements.json'), 'utf8');
    const again = await cli(['segment', files.lps, '--list', list, '--out', out, '--model', tinyPkg, '--threads', '1', '--resume', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr.match(/kept: measurements\.json of the same model/g)).toHaveLength(2);
    const sum2 = JSON.parse(again.stdout);
    expect(sum2).toEqual(readJson(path.join(out, 'summary.json')));
    expect(sum2.counts).toEqual({ ok: 3, error: 0, reused: 2, pending: 0 });
    expect(sum2.cases.map((c: { case: string; reused?: boolean }) => [c.case, !!c.reused])).toEqual([
      ['P-lps_ct', true],
      ['P-ras_ct', true],
      ['P-late_ct', false],
    ]);
    expect(readFileSync(path.join(out, 'P-ras_ct', 'measurements.json'), 'utf8')).toBe(before);
    expect(sum2.cases[2].structures.psoas_left.volume_ml).toBe(sum.cases[0].structures.psoas_left.volume_ml); // same image

    // A changed level is another measurement: that case runs again (named by the list's case column, since alone
    // in the list its derived name would be plain "ct").
    writeFileSync(list, `case,input,level_z_mm\nP-ras_ct,${files.ras},10\n`);
    const changed = await cli(['segment', '--list', list, '--out', out, '--model', tinyPkg, '--threads', '1', '--resume', '--json', '-q']);
    expect(changed.code, changed.stderr).toBe(0);
    expect(JSON.parse(changed.stdout).cases[0]).toMatchObject({ case: 'P-ras_ct', level_z_mm: 10 });
    expect(JSON.parse(changed.stdout).cases[0].reused).toBeUndefined();
    expect(readJson(path.join(out, 'P-ras_ct', 'measurements.json')).options.level_z_mm).toBe(10);
  }, 120_000);

  it.each([
    [['--level', '0'], 2, '--level applies to one scan; for several inputs give it per case in a --list CSV'],
    [['--series', '1.2.3'], 2, '--series applies to one scan'],
  ])('%j with two inputs is a usage error (exit %i)', async (extra, code, message) => {
    const r = await inProcess(['segment', files.lps, files.ras, '--out', path.join(bdir, 'u'), '--model', tinyPkg, ...extra]);
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(message);
  });

  it('bad --list files and --resume on one input fail before the model loads, naming the file and line', async () => {
    const bad = path.join(bdir, 'bad.csv');
    writeFileSync(bad, 'input,height_m\nx.nii.gz,1.7\n');
    const r1 = await inProcess(['segment', '--list', bad, '--out', path.join(bdir, 'u'), '--model', tinyPkg]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain(`--list ${bad}:2: height_m needs level_z_mm`);
    const r2 = await inProcess(['segment', '--list', path.join(bdir, 'nope.csv'), '--out', path.join(bdir, 'u'), '--model', tinyPkg]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain(`Cannot read --list ${path.join(bdir, 'nope.csv')}: no such file`);
    const r3 = await inProcess(['segment', files.lps, '--resume', '--out', path.join(bdir, 'u'), '--model', tinyPkg]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain('--resume is for several inputs');
    const r4 = await inProcess(['measure', imagePath, '--list', bad, '--out', path.join(bdir, 'u')]);
    expect(r4.code).toBe(2);
    expect(r4.stderr).toContain('with --list, the images come from the list, not the command line');
    const r5 = await inProcess(['measure', '--list', bad, '--mask', maskPath, '--out', path.join(bdir, 'u')]);
    expect(r5.code).toBe(2);
    expect(r5.stderr).toContain('--mask applies to one scan; with --list give it per case (columns: image, mask, case, level_z_mm, height_m, series, ref)');
    const r7 = await inProcess(['segment', files.lps, '--ref-map', 'psoas_left=3', '--out', path.join(bdir, 'u'), '--model', tinyPkg]);
    expect(r7.code).toBe(2);
    expect(r7.stderr).toContain('--ref-map names the labels of a reference; give the reference with --ref <mask>');
    const r6 = await inProcess(['measure', '--list', bad, '--out', path.join(bdir, 'u')]);
    expect(r6.code).toBe(2);
    expect(r6.stderr).toContain(`--list ${bad}:1: the header lacks column(s) image, mask`);
    expect(existsSync(path.join(bdir, 'u'))).toBe(false);
  });
});

const PHANTOM_CLI = path.join(REPO, 'src/cli/phantom.ts');
if (!existsSync(PHANTOM_CLI)) console.warn(`psoasview.test: skipping the phantom round trip: ${PHANTOM_CLI} is absent`);
describe.skipIf(!existsSync(PHANTOM_CLI))('psoasview phantom → measure', () => {
  it('measures the phantom label map against its analytic truth, from the NIfTI and from the DICOM series', async () => {
    const ph = path.join(dir, 'phantom');
    const g = await cli(['phantom', '--seed', '7', '--dims', '96', '96', '60', '--out', ph]);
    expect(g.code, g.stderr).toBe(0);
    const truth = readJson(path.join(ph, 'truth.json'));
    // Image as NIfTI, and as the DICOM folder written from the same volume: the labels.nii.gz grid must match
    // both within 1e-3 mm (no resampling), and the figures must be identical.
    const results = [];
    for (const image of [path.join(ph, 'image.nii.gz'), path.join(ph, 'dicom')]) {
      const r = await cli(['measure', image, '--mask', path.join(ph, 'labels.nii.gz'), '--out', path.join(dir, 'phm'), '--json', '-q']);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      // The phantom's NIfTI is stored head-first (LPI); the DICOM series is assembled feet-to-head (LPS): the mask
      // then holds the same voxels in another order and is reordered exactly.
      expect(j.mask).toMatchObject({ resampled: false, reordered: image.endsWith('dicom') });
      expect(j.warnings.join('\n')).toContain('also holds label(s) 3, 4, 5'); // the phantom's other structures
      results.push(j);
    }
    expect(results[1].input.kind).toBe('dicom-folder');
    for (const side of ['psoas_left', 'psoas_right']) {
      const s = results[0].structures[side];
      const t = truth[side];
      // Same voxels; the volume differs only by float32 (NIfTI affine) vs decimal-string (DICOM) spacing.
      expect(results[1].structures[side].voxel_count).toBe(s.voxel_count);
      expect(results[1].structures[side].volume_ml).toBeCloseTo(s.volume_ml, 3);
      expect(s.voxel_count).toBe(t.label_voxels); // the same voxels the generator counted ...
      expect(s.volume_ml).toBeCloseTo(t.label_volume_ml, 3); // ... with float32 (NIfTI) spacing
      expect(Math.abs(s.volume_ml - t.volume_in_fov_ml) / t.volume_in_fov_ml).toBeLessThan(0.03); // 4 x 4 x 7.3 mm voxels
      expect(Math.abs(s.extent_mm - t.extent_mm)).toBeLessThan(7.3); // within one slice
      expect(Math.abs(s.length_mm - t.length_mm) / t.length_mm).toBeLessThan(0.15); // coarse slices shorten the centreline
      expect(s.truncated).toBe(t.truncated);
      expect(s.mean_hu).toBeGreaterThan(20);
      expect(s.mean_hu).toBeLessThan(80);
    }
  }, 120_000);
});

describe('psoasview help', () => {
  it.each([
    [['--help'], 'Usage: psoasview <command>'],
    [['segment', '--help'], 'Usage: psoasview segment <input> --out <dir>'],
    [['measure', '-h'], 'Usage: psoasview measure <image> --mask'],
  ])('%j prints its usage and exits 0', async (args, text) => {
    const r = await cli(args as string[]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(text);
  });
});

