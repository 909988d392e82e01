/**
 * `npm run phantom -- --out DIR --seed N [--preset abdomen|chest|pelvis|truncated] [--spacing X Y Z]
 *   [--slice-order head-first|feet-first] [--oblique | --oblique-tilt DEG X Y Z] [--dims NX NY NZ] [--noise SD]
 *   [--slice-thickness MM] [--psoas-scale S]`
 *
 * Writes:
 *   DIR/dicom/IM0001.dcm ...   CT Image Storage series (explicit VR little endian), UIDs derived from the options
 *   DIR/image.nii.gz           the same image (HU, int16)
 *   DIR/labels.nii.gz          label map (uint8; 1 = psoas_left, 2 = psoas_right, others: see phantom.json)
 *   DIR/truth.json             {"psoas_left": {...}, "psoas_right": {...}} analytic ground truth (PsoasTruth)
 *   DIR/phantom.json           provenance: options, generator version, UIDs, geometry, label legend, timings
 * Exit code 2 with a message on bad arguments, 1 on other failures.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeError, isPsoasError, PsoasError } from '../core/errors';
import { uid225, writeDicomSeries } from '../core/io/dicom-write';
import { writeNifti } from '../core/io/nifti';
import { GENERATOR_VERSION, LABELS, OBLIQUE_TILT_MAX_DEG, PRESETS, PSOAS_SCALE_LIMITS, generatePhantom, type PhantomOptions, type PhantomPreset } from '../core/phantom';
import type { Vec3 } from '../core/geometry';

const USAGE = `usage: npm run phantom -- --out DIR --seed N [--preset ${PRESETS.join('|')}] [--spacing X Y Z]
       [--slice-order head-first|feet-first] [--oblique | --oblique-tilt DEG X Y Z (the grid tilted DEG, 0..45,
       about the patient axis X Y Z; --oblique is 16 about 1 0.5 0.25)] [--dims NX NY NZ] [--noise SD]
       [--slice-thickness MM] [--psoas-scale S (0.5..1.5, the psoas size factor instead of the seed's)]`;

export interface CliArgs {
  out: string;
  options: PhantomOptions;
}

function argError(msg: string, value: unknown): never {
  throw new PsoasError('BAD_ARGUMENT', `${msg}\n${USAGE}`, value, 'command line');
}

/**
 * `--oblique-tilt DEG X Y Z` as strings: the tilt, or what is wrong with it (a message naming the bad value). Shared
 * with scripts/eval-model.ts, which takes the same four numbers comma-separated.
 */
export function parseObliqueTilt(vals: string[]): { angleDeg: number; axis: Vec3 } | string {
  if (vals.length !== 4 || !vals.every((v) => v.trim() !== '' && Number.isFinite(Number(v))))
    return `--oblique-tilt needs 4 numbers (DEG X Y Z), got "${vals.join(' ')}"`;
  const [deg, ...axis] = vals.map(Number);
  if (!(deg > 0 && deg <= OBLIQUE_TILT_MAX_DEG)) return `--oblique-tilt: angle "${vals[0]}" is not in (0, ${OBLIQUE_TILT_MAX_DEG}] degrees`;
  if (Math.hypot(...axis) < 1e-6) return `--oblique-tilt: axis "${vals.slice(1).join(' ')}" has no direction`;
  return { angleDeg: deg, axis: axis as Vec3 };
}

/** Parses the command line (without node/script). Throws PsoasError BAD_ARGUMENT with the usage text. */
export function parseArgs(argv: string[]): CliArgs {
  let out: string | undefined;
  let seed: number | undefined;
  const o: Partial<PhantomOptions> = {};
  const nums = (flag: string, i: number, n: number, integer: boolean): number[] => {
    const vals = argv.slice(i + 1, i + 1 + n);
    if (vals.length < n) argError(`${flag} needs ${n} value(s)`, flag);
    return vals.map((v) => {
      const x = Number(v);
      if (v.trim() === '' || !Number.isFinite(x) || x <= 0 || (integer && !Number.isInteger(x)))
        argError(`${flag}: "${v}" is not a positive ${integer ? 'integer' : 'number'}`, v);
      return x;
    });
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--out':
        if (!argv[i + 1] || argv[i + 1].startsWith('--')) argError('--out needs a folder', a);
        out = argv[++i];
        break;
      case '--seed': {
        const v = argv[++i];
        const x = Number(v);
        if (v === undefined || v.trim() === '' || !Number.isInteger(x) || x < 0 || x > 2 ** 32 - 1)
          argError(`--seed: "${v}" is not an integer in 0..4294967295`, v);
        seed = x;
        break;
      }
      case '--preset': {
        const v = argv[++i];
        if (!PRESETS.includes(v as PhantomPreset)) argError(`--preset: "${v}" is not one of ${PRESETS.join(', ')}`, v);
        o.preset = v as PhantomPreset;
        break;
      }
      case '--spacing':
        o.spacing = nums(a, i, 3, false) as Vec3;
        i += 3;
        break;
      case '--dims':
        o.dims = nums(a, i, 3, true) as Vec3;
        i += 3;
        break;
      case '--slice-order': {
        const v = argv[++i];
        if (v !== 'head-first' && v !== 'feet-first') argError(`--slice-order: "${v}" is not head-first or feet-first`, v);
        o.sliceOrder = v;
        break;
      }
      case '--oblique':
        if (o.oblique !== undefined) argError('--oblique and --oblique-tilt: give one of them', a);
        o.oblique = true;
        break;
      case '--oblique-tilt': {
        if (o.oblique !== undefined) argError('--oblique and --oblique-tilt: give one of them', a);
        const vals = argv.slice(i + 1, i + 5);
        const tilt = parseObliqueTilt(vals);
        if (typeof tilt === 'string') argError(tilt, vals);
        o.oblique = tilt;
        i += 4;
        break;
      }
      case '--noise': {
        const v = argv[++i];
        const x = Number(v);
        if (v === undefined || !Number.isFinite(x) || x < 0) argError(`--noise: "${v}" is not a number >= 0 (HU)`, v);
        o.noiseSd = x;
        break;
      }
      case '--slice-thickness':
        o.sliceThickness = nums(a, i, 1, false)[0];
        i += 1;
        break;
      case '--psoas-scale': {
        const v = argv[++i];
        const x = Number(v);
        const [lo, hi] = PSOAS_SCALE_LIMITS;
        if (v === undefined || v.trim() === '' || !(x >= lo && x <= hi)) argError(`--psoas-scale: "${v}" is not a number in ${lo}..${hi}`, v);
        o.psoasScale = x;
        break;
      }
      case '--help':
      case '-h':
        argError('help requested', a);
        break;
      default:
        argError(`unknown argument "${a}"`, a);
    }
  }
  if (out === undefined) argError('--out DIR is required', argv);
  if (seed === undefined) argError('--seed N is required', argv);
  return { out, options: { ...o, seed } };
}

export function runPhantomCli(argv: string[]): number {
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    console.error(describeError(e));
    return 2;
  }
  try {
    const t0 = performance.now();
    const r = generatePhantom(args.options);
    const t1 = performance.now();
    const { seed } = args.options;
    // the options that make the phantom; psoasScale only when given, so the seeds' own UIDs stay as they were
    const options = { ...r.resolved, ...(args.options.psoasScale === undefined ? {} : { psoasScale: args.options.psoasScale }) };
    const uidSeed = JSON.stringify({ v: GENERATOR_VERSION, ...options });
    const studyInstanceUid = uid225(uidSeed, 'study');
    const seriesInstanceUid = uid225(uidSeed, 'series');
    const files = writeDicomSeries(r.image, {
      uidSeed,
      studyInstanceUid,
      seriesInstanceUid,
      patientName: 'PHANTOM^PSOAS',
      patientId: `PHANTOM-${seed}`,
      studyDescription: `CT ${r.resolved.preset.toUpperCase()} PHANTOM`,
      seriesDescription: `Psoas phantom ${r.resolved.preset} seed ${seed}`,
      sliceThickness: r.resolved.sliceThickness,
      bodyPartExamined: r.resolved.preset === 'chest' ? 'CHEST' : r.resolved.preset === 'pelvis' ? 'PELVIS' : 'ABDOMEN',
    });
    const t2 = performance.now();
    const dicomDir = path.join(args.out, 'dicom');
    fs.rmSync(dicomDir, { recursive: true, force: true });
    fs.mkdirSync(dicomDir, { recursive: true });
    for (const f of files) fs.writeFileSync(path.join(dicomDir, f.name), f.bytes);
    fs.writeFileSync(path.join(args.out, 'image.nii.gz'), writeNifti(r.image, { level: 1 }));
    fs.writeFileSync(path.join(args.out, 'labels.nii.gz'), writeNifti(r.labels, { level: 1 }));
    fs.writeFileSync(path.join(args.out, 'truth.json'), JSON.stringify(r.truth, null, 2) + '\n');
    const t3 = performance.now();
    fs.writeFileSync(
      path.join(args.out, 'phantom.json'),
      JSON.stringify(
        {
          generatorVersion: GENERATOR_VERSION,
          options,
          geometry: r.image.geometry,
          shiftAnatomyToLps: r.shift,
          studyInstanceUid,
          seriesInstanceUid,
          files: files.map((f) => `dicom/${f.name}`),
          labels: LABELS,
          seconds: { generate: (t1 - t0) / 1000, dicom: (t2 - t1) / 1000, write: (t3 - t2) / 1000 },
        },
        null,
        2,
      ) + '\n',
    );
    const [nx, ny, nz] = r.image.geometry.dimensions;
    const tl = r.truth.psoas_left;
    const tr = r.truth.psoas_right;
    console.log(
      `phantom seed ${seed} (${r.resolved.preset}): ${nx}x${ny}x${nz} at ${r.image.geometry.spacing.map((s) => s.toFixed(3)).join(' x ')} mm ` +
        `→ ${args.out} (${files.length} DICOM files)\n` +
        `  psoas left ${tl.volume_ml.toFixed(1)} mL (in FOV ${tl.volume_in_fov_ml.toFixed(1)}), right ${tr.volume_ml.toFixed(1)} mL (in FOV ${tr.volume_in_fov_ml.toFixed(1)})` +
        `${tl.truncated || tr.truncated ? ', truncated by the field of view' : ''}\n` +
        `  generate ${((t1 - t0) / 1000).toFixed(1)} s, DICOM ${((t2 - t1) / 1000).toFixed(1)} s, write ${((t3 - t2) / 1000).toFixed(1)} s`,
    );
    return 0;
  } catch (e) {
    console.error(`phantom: ${describeError(e)}`);
    return isPsoasError(e) && e.code === 'BAD_ARGUMENT' ? 2 : 1;
  }
}

const isMain = (() => {
  try {
    return process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
  } catch {
    return false;
  }
})();
if (isMain) process.exit(runPhantomCli(process.argv.slice(2)));
