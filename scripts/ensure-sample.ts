/**
 * Generates the built-in sample study into public/sample/ (gitignored) when it is missing or was made by an
 * older generator / with other options. Run by `npm start` and `npm run build` (tsx scripts/ensure-sample.ts).
 *
 * Output (served by Vite as /sample/...):
 *   public/sample/dicom/IM0001.dcm ... IM0NNN.dcm   CT Image Storage, explicit VR little endian, one per slice
 *   public/sample/labels.nii.gz                     ground-truth label map (1 = psoas_left, 2 = psoas_right, ...)
 *   public/sample/index.json                        the manifest below (STABLE: the sample data source reads it)
 *
 * index.json (all paths relative to public/sample/, i.e. to the URL of index.json):
 * {
 *   "version": 1,                      // manifest format version
 *   "generatorVersion": <number>,      // GENERATOR_VERSION of src/core/phantom
 *   "optionsKey": "<string>",          // JSON of the generator options; a change regenerates the sample
 *   "files": ["dicom/IM0001.dcm", ...],// in slice order (InstanceNumber 1..N)
 *   "studyInstanceUid": "2.25...",
 *   "seriesInstanceUid": "2.25...",
 *   "patientName": "PHANTOM^PSOAS",    // DICOM PN as written in the files
 *   "patientId": "PHANTOM-20260101",
 *   "studyDate": "20260101",
 *   "description": "<series description>",
 *   "modality": "CT",
 *   "numberOfInstances": N,
 *   "geometry": {dimensions, spacing, origin, direction},   // VolumeGeometry of the series (LPS mm)
 *   "labels": "labels.nii.gz",         // ground-truth label map on the same grid
 *   "truth": {"psoas_left": {...}, "psoas_right": {...}}    // PsoasTruth from src/core/phantom/truth.ts
 * }
 * Usage: tsx scripts/ensure-sample.ts [--force] [--out DIR]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { uid225, writeDicomSeries } from '../src/core/io/dicom-write';
import { writeNifti } from '../src/core/io/nifti';
import { GENERATOR_VERSION, generatePhantom, phantomGrid, type PhantomOptions } from '../src/core/phantom';

export const SAMPLE_MANIFEST_VERSION = 1;
export const SAMPLE_SEED = 20260101;
/** Moderate size so `npm start` stays quick: 384 x 384 at 1.0 mm, 2.5 mm slices, abdomen preset. */
/** Moderate size so `npm start` stays quick: 384 x 384 at 1.0 mm, 2.5 mm slices, abdomen preset. */
export const SAMPLE_IN_PLANE = 384;
export const SAMPLE_SPACING: [number, number, number] = [1.0, 1.0, 2.5];

export interface SampleManifest {
  version: number;
  generatorVersion: number;
  optionsKey: string;
  files: string[];
  studyInstanceUid: string;
  seriesInstanceUid: string;
  patientName: string;
  patientId: string;
  studyDate: string;
  description: string;
  modality: 'CT';
  numberOfInstances: number;
  geometry: unknown;
  labels: string;
  truth: unknown;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Creates the sample in `outDir` unless an up-to-date one is there. Returns the manifest and whether it was written. */
export function ensureSample(outDir = path.join(repoRoot, 'public', 'sample'), force = false): { manifest: SampleManifest; generated: boolean } {
  const opts: PhantomOptions = { seed: SAMPLE_SEED, preset: 'abdomen' };
  const optionsKey = JSON.stringify({ ...opts, inPlane: SAMPLE_IN_PLANE, spacing: SAMPLE_SPACING });
  const indexPath = path.join(outDir, 'index.json');
  if (!force && fs.existsSync(indexPath)) {
    try {
      const m = JSON.parse(fs.readFileSync(indexPath, 'utf8')) as SampleManifest;
      const complete = m.files.every((f) => fs.existsSync(path.join(outDir, f)));
      if (m.version === SAMPLE_MANIFEST_VERSION && m.generatorVersion === GENERATOR_VERSION && m.optionsKey === optionsKey && complete)
        return { manifest: m, generated: false };
    } catch {
      /* unreadable manifest: regenerate */
    }
  }
  // the grid: 384 x 384 at 1 mm in-plane; the number of slices covers the preset's z extent at 2.5 mm
  const nz = phantomGrid({ ...opts, spacing: SAMPLE_SPACING }).geometry.dimensions[2];
  const res = generatePhantom({ ...opts, dims: [SAMPLE_IN_PLANE, SAMPLE_IN_PLANE, nz], spacing: SAMPLE_SPACING });
  const uidSeed = `sample:${optionsKey}:v${GENERATOR_VERSION}`;
  const studyInstanceUid = uid225(uidSeed, 'study');
  const seriesInstanceUid = uid225(uidSeed, 'series');
  const description = `Psoas phantom abdomen (sample, seed ${SAMPLE_SEED})`;
  const patientId = `PHANTOM-${SAMPLE_SEED}`;
  const studyDate = '20260101';
  const dicom = writeDicomSeries(res.image, {
    uidSeed,
    studyInstanceUid,
    seriesInstanceUid,
    patientName: 'PHANTOM^PSOAS',
    patientId,
    studyDate,
    studyDescription: 'CT ABDOMEN PHANTOM (SAMPLE)',
    seriesDescription: description,
  });
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(outDir, 'dicom'), { recursive: true });
  for (const f of dicom) fs.writeFileSync(path.join(outDir, 'dicom', f.name), f.bytes);
  fs.writeFileSync(path.join(outDir, 'labels.nii.gz'), writeNifti(res.labels, { level: 4 }));
  const manifest: SampleManifest = {
    version: SAMPLE_MANIFEST_VERSION,
    generatorVersion: GENERATOR_VERSION,
    optionsKey,
    files: dicom.map((f) => `dicom/${f.name}`),
    studyInstanceUid,
    seriesInstanceUid,
    patientName: 'PHANTOM^PSOAS',
    patientId,
    studyDate,
    description,
    modality: 'CT',
    numberOfInstances: dicom.length,
    geometry: res.image.geometry,
    labels: 'labels.nii.gz',
    truth: res.truth,
  };
  fs.writeFileSync(path.join(outDir, 'index.json'), JSON.stringify(manifest, null, 2) + '\n');
  return { manifest, generated: true };
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const argv = process.argv.slice(2);
  const oi = argv.indexOf('--out');
  const out = oi >= 0 ? path.resolve(argv[oi + 1]) : undefined;
  const t0 = performance.now();
  try {
    const { manifest, generated } = ensureSample(out, argv.includes('--force'));
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(
      generated
        ? `sample study generated: ${manifest.numberOfInstances} slices → ${out ?? 'public/sample'} (${s} s)`
        : `sample study up to date (${manifest.numberOfInstances} slices)`,
    );
  } catch (e) {
    console.error(`ensure-sample: ${(e as Error).message}`);
    process.exit(1);
  }
}
