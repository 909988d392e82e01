/**
 * Synthetic abdominal CT phantom: samples the analytic anatomy (./anatomy) on an image grid.
 *
 * Spaces: the anatomy is defined in an anatomy frame (LPS axes, mm); patient LPS = anatomy + `shift` (a
 * per-seed table/patient position). The image grid is a VolumeGeometry in patient LPS (see core/geometry).
 *
 * Speed: structures are visited slice by slice, each only inside its per-slice bounding rectangle (from the
 * shape's LPS boxes mapped to voxel indices); partial volume needs 3 extra distance evaluations only on the thin
 * band of edge voxels. Noise comes from a Gaussian table indexed by a per-slice PRNG (one call per voxel),
 * lightly correlated in-plane like real CT noise. Noise is seeded by the slice's position in head-first order,
 * so head-first and feet-first grids of the same field of view give the same HU at the same patient point.
 */
import { type Mat3, type Vec3, type VolumeGeometry, voxelCount, voxelVolumeMm3, worldToIndex } from '../geometry';
import { PsoasError } from '../errors';
import type { Volume } from '../volume';
import { type Anatomy, buildAnatomy } from './anatomy';
import { LABEL } from './labels';
import { Rng, gaussianTable, hash32 } from './rng';
import { axisAngle, rotApply } from './shapes';
import { type PsoasTruth, tubeTruth } from './truth';

/** Bump when the generated images change for the same options (the sample study is regenerated on change). */
export const GENERATOR_VERSION = 3;

export type PhantomPreset = 'abdomen' | 'chest' | 'pelvis' | 'truncated';
export const PRESETS: readonly PhantomPreset[] = ['abdomen', 'chest', 'pelvis', 'truncated'];
export type SliceOrder = 'head-first' | 'feet-first';

export interface PhantomOptions {
  /** Any integer; everything (anatomy, position, noise, UIDs) derives from it. */
  seed: number;
  /** Field of view along z. Default 'abdomen' (T11 to below the lesser trochanters). */
  preset?: PhantomPreset;
  /** Voxel counts (columns, rows, slices). Default: 512 x 512 in-plane, slices to cover the preset. */
  dims?: Vec3;
  /** [column spacing, row spacing, slice spacing] in mm. Default: pixel spacing fitted to the body, 2.5 mm slices. */
  spacing?: Vec3;
  /** Nominal slice thickness (mm) reported in DICOM; default = slice spacing. Does not change the sampling. */
  sliceThickness?: number;
  /** head-first: slice 0 most superior, k → feet; feet-first: slice 0 most inferior, k → head. Default head-first. */
  sliceOrder?: SliceOrder;
  /** Tilt the whole grid (oblique ImageOrientationPatient): true = 16° about (1, 0.5, 0.25), or explicit. */
  oblique?: boolean | { angleDeg: number; axis: Vec3 };
  /** Grid centre in patient LPS mm (default: centre of the preset's field of view). */
  center?: Vec3;
  /** Gaussian noise sd in HU (default 12; 0 = noise-free). */
  noiseSd?: number;
  /** Blend HU at structure edges by the covered voxel fraction (default true). */
  partialVolume?: boolean;
  /**
   * Skip voxels far from a surface using each shape's distance bound (default true). false evaluates every
   * voxel of every bounding rectangle: slower, used by the tests to prove the skipping changes nothing.
   */
  sphereTracing?: boolean;
  /**
   * Psoas size factor instead of the seed's own (0.5..1.5; the seeds draw 0.79..1.21). It scales the psoas's
   * cross-sections and, as in the seeds, the quadratus lumborum's width; the rest of the body is the seed's.
   * Default: the seed's.
   */
  psoasScale?: number;
}

export interface PhantomTruth {
  psoas_left: PsoasTruth;
  psoas_right: PsoasTruth;
}

export interface PhantomResult {
  image: Volume<Int16Array>;
  labels: Volume<Uint8Array>;
  truth: PhantomTruth;
  /** The anatomy the image was sampled from (analytic structures, landmarks). */
  anatomy: Anatomy;
  /** Anatomy frame → patient LPS translation (mm). */
  shift: Vec3;
  /** The options after defaults were applied. */
  resolved: Required<Omit<PhantomOptions, 'oblique' | 'center' | 'sphereTracing' | 'psoasScale'>> & { oblique: false | { angleDeg: number; axis: Vec3 }; center: Vec3 };
}

const AIR_HU = -1000;
const HU_MIN = -1024;
const HU_MAX = 3071;

function bad(message: string, value: unknown): never {
  throw new PsoasError('BAD_ARGUMENT', message, value, 'phantom options');
}

/** z range (anatomy mm) of a preset. */
function presetZRange(an: Anatomy, preset: PhantomPreset): [number, number] {
  const L = an.levels;
  switch (preset) {
    case 'abdomen':
      return [L.lesserTrochanter - 35, L.T11top + 8];
    case 'chest':
      return [L.T11top + 15, L.T1top];
    case 'pelvis':
      return [L.lesserTrochanter - 60, L.L5top + 3];
    case 'truncated':
      return [L.femoralHead + 25, L.T11top + 8];
  }
}

interface Grid {
  geometry: VolumeGeometry;
  shift: Vec3;
  resolved: PhantomResult['resolved'];
}

/** Works out the image grid (geometry in patient LPS) for the options, without generating voxels. */
export function phantomGrid(opts: PhantomOptions, anatomy?: Anatomy): Grid {
  if (!Number.isFinite(opts.seed) || !Number.isInteger(opts.seed)) bad(`phantom seed must be an integer, got ${opts.seed}`, opts.seed);
  const preset = opts.preset ?? 'abdomen';
  if (!PRESETS.includes(preset)) bad(`unknown phantom preset "${preset}" (expected ${PRESETS.join(', ')})`, preset);
  const sliceOrder = opts.sliceOrder ?? 'head-first';
  if (sliceOrder !== 'head-first' && sliceOrder !== 'feet-first')
    bad(`slice order must be head-first or feet-first, got "${sliceOrder}"`, sliceOrder);
  const an = anatomy ?? phantomAnatomy(opts);
  const [z0, z1] = presetZRange(an, preset);
  const ext = an.bodyHalfExtent(z0, z1);
  const prng = new Rng(hash32(opts.seed, 'position'));
  // patient position on the table: anatomy → LPS translation
  const shift: Vec3 = [prng.normal(0, 6), prng.uniform(-25, 35), Math.round(prng.uniform(-900, -300))];
  const tableOffset: Vec3 = [prng.normal(0, 8), prng.normal(0, 8), 0];
  for (const [name, v, n] of [['dims', opts.dims, 3], ['spacing', opts.spacing, 3]] as const) {
    if (v === undefined) continue;
    if (!Array.isArray(v) || v.length !== n || v.some((x) => !Number.isFinite(x) || x <= 0))
      bad(`phantom ${name} must be ${n} positive numbers, got ${JSON.stringify(v)}`, v);
  }
  if (opts.dims && opts.dims.some((x) => !Number.isInteger(x))) bad(`phantom dims must be integers, got ${JSON.stringify(opts.dims)}`, opts.dims);
  const fovXY = 2 * Math.max(ext.halfWidth, ext.halfDepth) + 30; // mm, square in-plane FOV with a margin
  const fovZ = z1 - z0;
  let dims: Vec3;
  let spacing: Vec3;
  if (opts.dims && opts.spacing) {
    dims = [...opts.dims];
    spacing = [...opts.spacing];
  } else if (opts.spacing) {
    spacing = [...opts.spacing];
    dims = [Math.ceil(fovXY / spacing[0]), Math.ceil(fovXY / spacing[1]), Math.floor(fovZ / spacing[2]) + 1];
  } else if (opts.dims) {
    dims = [...opts.dims];
    spacing = [fovXY / dims[0], fovXY / dims[1], dims[2] > 1 ? fovZ / (dims[2] - 1) : 2.5];
  } else {
    const px = Math.min(1.0, Math.max(0.6, Math.ceil((fovXY / 512) * 50) / 50));
    spacing = [px, px, 2.5];
    dims = [512, 512, Math.floor(fovZ / 2.5) + 1];
  }
  if (voxelCount({ dimensions: dims, spacing, origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] }) > 1.2e9)
    bad(`phantom grid ${dims.join('x')} is too large (over 1.2e9 voxels)`, dims);
  let oblique: false | { angleDeg: number; axis: Vec3 } = false;
  if (opts.oblique === true) oblique = { angleDeg: 16, axis: [1, 0.5, 0.25] };
  else if (opts.oblique && typeof opts.oblique === 'object') {
    const { angleDeg, axis } = opts.oblique;
    if (!Number.isFinite(angleDeg) || !Array.isArray(axis) || axis.length !== 3 || Math.hypot(...axis) === 0)
      bad(`oblique must be {angleDeg, axis[3]}, got ${JSON.stringify(opts.oblique)}`, opts.oblique);
    oblique = { angleDeg, axis };
  }
  // direction columns: i → +x (patient left), j → +y (posterior), k → -z (head-first) or +z (feet-first)
  const kz = sliceOrder === 'head-first' ? -1 : 1;
  let cols: Vec3[] = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, kz],
  ];
  if (oblique) {
    const R = axisAngle(oblique.axis, oblique.angleDeg);
    cols = cols.map((c) => rotApply(R, c));
  }
  const direction = [...cols[0], ...cols[1], ...cols[2]] as Mat3;
  const center: Vec3 = opts.center
    ? [...opts.center]
    : [tableOffset[0] + shift[0], tableOffset[1] + shift[1], (z0 + z1) / 2 + shift[2]];
  // origin = centre - D · (spacing ⊙ (dims - 1) / 2)
  const h = [0, 1, 2].map((a) => (spacing[a] * (dims[a] - 1)) / 2);
  const origin: Vec3 = [0, 1, 2].map(
    (r) => center[r] - (direction[r] * h[0] + direction[3 + r] * h[1] + direction[6 + r] * h[2]),
  ) as Vec3;
  const geometry: VolumeGeometry = { dimensions: dims, spacing, origin, direction };
  return {
    geometry,
    shift,
    resolved: {
      seed: opts.seed,
      preset,
      dims,
      spacing,
      sliceThickness: opts.sliceThickness ?? spacing[2],
      sliceOrder,
      oblique,
      center,
      noiseSd: opts.noiseSd ?? 12,
      partialVolume: opts.partialVolume ?? true,
    },
  };
}

/** Allowed `psoasScale` overrides (the seeds draw 0.79..1.21). */
export const PSOAS_SCALE_LIMITS: readonly [number, number] = [0.5, 1.5];

/** Largest explicit `oblique` tilt the CLIs accept (degrees): beyond it an axial series is no longer axial. */
export const OBLIQUE_TILT_MAX_DEG = 45;

/** The analytic anatomy of the options: the seed's, with `psoasScale` in place of the seed's when given. */
function phantomAnatomy(opts: PhantomOptions): Anatomy {
  const s = opts.psoasScale;
  const [lo, hi] = PSOAS_SCALE_LIMITS;
  if (s !== undefined && !(s >= lo && s <= hi)) bad(`psoasScale must be a number in ${lo}..${hi}, got ${s}`, s);
  return buildAnatomy(opts.seed, s === undefined ? {} : { psoasScale: s });
}

/** Generates the phantom image (HU), label map and analytic truth. Deterministic in `opts`. */
export function generatePhantom(opts: PhantomOptions): PhantomResult {
  const anatomy = phantomAnatomy(opts);
  const { geometry: g, shift, resolved } = phantomGrid(opts, anatomy);
  if (!(resolved.noiseSd >= 0)) bad(`noiseSd must be >= 0 HU, got ${resolved.noiseSd}`, resolved.noiseSd);
  const [nx, ny, nz] = g.dimensions;
  const [sx, sy, sz] = g.spacing;
  const D = g.direction;
  const nSlice = nx * ny;
  const image = new Int16Array(nx * ny * nz);
  const labels = new Uint8Array(nx * ny * nz);
  // voxel steps in anatomy/patient mm
  const di = [D[0] * sx, D[1] * sx, D[2] * sx];
  const dj = [D[3] * sy, D[4] * sy, D[5] * sy];
  const dk = [D[6] * sz, D[7] * sz, D[8] * sz];
  const oA = [g.origin[0] - shift[0], g.origin[1] - shift[1], g.origin[2] - shift[2]]; // origin in the anatomy frame
  const anatGeom: VolumeGeometry = { ...g, origin: oA as Vec3 };

  // per structure: its boxes as voxel-index ranges
  type IdxBox = { i0: number; i1: number; j0: number; j1: number; k0: number; k1: number };
  const pv = resolved.partialVolume;
  const trace = opts.sphereTracing !== false;
  const band = pv ? 0.5 * Math.hypot(sx, sy, sz) : 0; // |sdf| below which a voxel is partially covered
  const pad = band + 1;
  const sBoxes: IdxBox[][] = anatomy.structures.map((st) => {
    const out: IdxBox[] = [];
    for (const b of st.shape.boxes) {
      const lo = [Infinity, Infinity, Infinity];
      const hi = [-Infinity, -Infinity, -Infinity];
      for (let c = 0; c < 8; c++) {
        const p: Vec3 = [
          c & 1 ? b.max[0] + pad : b.min[0] - pad,
          c & 2 ? b.max[1] + pad : b.min[1] - pad,
          c & 4 ? b.max[2] + pad : b.min[2] - pad,
        ];
        const idx = worldToIndex(anatGeom, p);
        for (let a = 0; a < 3; a++) {
          lo[a] = Math.min(lo[a], idx[a]);
          hi[a] = Math.max(hi[a], idx[a]);
        }
      }
      const bx = {
        i0: Math.max(0, Math.floor(lo[0])), i1: Math.min(nx - 1, Math.ceil(hi[0])),
        j0: Math.max(0, Math.floor(lo[1])), j1: Math.min(ny - 1, Math.ceil(hi[1])),
        k0: Math.max(0, Math.floor(lo[2])), k1: Math.min(nz - 1, Math.ceil(hi[2])),
      };
      if (bx.i0 <= bx.i1 && bx.j0 <= bx.j1 && bx.k0 <= bx.k1) out.push(bx);
    }
    return out;
  });

  const val = new Float32Array(nSlice);
  const sdv = new Float32Array(nSlice);
  const noise = new Float32Array(nSlice);
  const tmp = new Float32Array(nSlice);
  const TABLE_BITS = 18;
  const table = gaussianTable(hash32(opts.seed, 'noise-table'), 1 << TABLE_BITS);
  const mask = (1 << TABLE_BITS) - 1;
  // in-plane [1 2 1]/4 smoothing in i and j multiplies the noise sd by 6/16 = 0.375: compensate
  const NOISE_GAIN = 1 / 0.375;
  const eps = 0.05; // mm, finite-difference step for the surface normal
  const headFirst = D[8] < 0 || (D[8] === 0 && resolved.sliceOrder === 'head-first');
  // finite-difference step along the slice axis, always towards the head, so head-first and feet-first grids
  // compute identical partial-volume fractions at the same patient point
  const ks = headFirst ? -eps : eps;
  const ek0 = ks * D[6], ek1 = ks * D[7], ek2 = ks * D[8];

  const maxBoxes = Math.max(1, ...sBoxes.map((b) => b.length));
  const act: IdxBox[] = new Array(maxBoxes);
  let nAct: number;
  const ivA = new Int32Array(maxBoxes);
  const ivB = new Int32Array(maxBoxes);
  for (let k = 0; k < nz; k++) {
    val.fill(AIR_HU);
    sdv.fill(resolved.noiseSd > 0 ? 1 : 0); // relative noise scale (structures set their own sd / 12)
    const lab = labels.subarray(k * nSlice, (k + 1) * nSlice);
    for (let s = 0; s < anatomy.structures.length; s++) {
      const bxs = sBoxes[s];
      nAct = 0;
      for (const b of bxs) if (k >= b.k0 && k <= b.k1) act[nAct++] = b;
      if (nAct === 0) continue;
      const st = anatomy.structures[s];
      const sdf = st.shape.sdf;
      const hu = st.hu;
      const sdRel = st.sd / 12;
      const label = st.label;
      const lip = trace ? (st.shape.lip ?? 0) : 0;
      const hasCore = st.core !== undefined;
      const coreDepth = st.core?.depth ?? 0;
      const coreHu = st.core?.hu ?? hu;
      const coreSdRel = (st.core?.sd ?? st.sd) / 12;
      const lipIn = trace ? (st.shape.lipIn ?? lip) : 0;
      let jMin = ny, jMax = -1;
      for (let q = 0; q < nAct; q++) {
        if (act[q].j0 < jMin) jMin = act[q].j0;
        if (act[q].j1 > jMax) jMax = act[q].j1;
      }
      for (let j = jMin; j <= jMax; j++) {
        // merged i-intervals of the active boxes covering row j (a ring-shaped colon must not scan the middle)
        let nIv = 0;
        for (let q = 0; q < nAct; q++) {
          const b = act[q];
          if (j < b.j0 || j > b.j1) continue;
          let t = nIv++;
          while (t > 0 && ivA[t - 1] > b.i0) {
            ivA[t] = ivA[t - 1];
            ivB[t] = ivB[t - 1];
            t--;
          }
          ivA[t] = b.i0;
          ivB[t] = b.i1;
        }
        let q = 0;
        while (q < nIv) {
          const i0 = ivA[q];
          let i1 = ivB[q];
          q++;
          while (q < nIv && ivA[q] <= i1 + 1) {
            if (ivB[q] > i1) i1 = ivB[q];
            q++;
          }
          let px = oA[0] + k * dk[0] + j * dj[0] + i0 * di[0];
          let py = oA[1] + k * dk[1] + j * dj[1] + i0 * di[1];
          let pz = oA[2] + k * dk[2] + j * dj[2] + i0 * di[2];
          let idx = j * nx + i0;
          for (let i = i0; i <= i1; i++, idx++, px += di[0], py += di[1], pz += di[2]) {
            const d = sdf(px, py, pz);
            if (d >= band) {
              // sphere tracing: the surface is at least lip*d away, skip the voxels that cannot reach the band
              if (lip > 0) {
                const m = Math.floor((lip * d - band) / sx);
                if (m > 0) {
                  const mm = Math.min(m, i1 - i);
                  i += mm; idx += mm; px += mm * di[0]; py += mm * di[1]; pz += mm * di[2];
                }
              }
              continue;
            }
            // distance to the core surface of a bone (cortex = the outer `coreDepth` mm); = d without a core
            const dc = d + coreDepth;
            const coreEdge = hasCore && dc > -band && dc < band;
            let w = sx;
            if (pv && (d > -band || coreEdge)) {
              // width of the voxel across the surface: Σ |n·axis_a| spacing_a with n ≈ ∇sdf / |∇sdf|
              const g0 = sdf(px + eps * D[0], py + eps * D[1], pz + eps * D[2]) - d;
              const g1 = sdf(px + eps * D[3], py + eps * D[4], pz + eps * D[5]) - d;
              const g2 = sdf(px + ek0, py + ek1, pz + ek2) - d;
              const gn = Math.sqrt(g0 * g0 + g1 * g1 + g2 * g2);
              w = gn > 0 ? (Math.abs(g0) * sx + Math.abs(g1) * sy + Math.abs(g2) * sz) / gn : sx;
              if (!(w > 0.1)) w = 0.1;
            }
            let f: number;
            if (d <= -band) f = 1;
            else if (!pv) f = d < 0 ? 1 : 0;
            else {
              f = 0.5 - d / w;
              if (f <= 0) continue;
              if (f > 1) f = 1;
            }
            let h = hu;
            let sr = sdRel;
            if (hasCore) {
              let fc: number;
              if (!coreEdge) fc = dc < 0 ? 1 : 0;
              else if (!pv) fc = dc < 0 ? 1 : 0;
              else {
                fc = 0.5 - dc / w;
                if (fc < 0) fc = 0;
                else if (fc > 1) fc = 1;
              }
              h = hu + fc * (coreHu - hu);
              sr = sdRel + fc * (coreSdRel - sdRel);
            }
            if (f === 1) {
              val[idx] = h;
              sdv[idx] = sr;
            } else {
              val[idx] += f * (h - val[idx]);
              sdv[idx] += f * (sr - sdv[idx]);
            }
            if (d < 0) lab[idx] = label;
            if (f === 1 && lipIn > 0 && !coreEdge) {
              // deep inside (and away from a core surface): the next m voxels get the same value
              const dist = hasCore ? Math.min(-d, 0.5 * Math.abs(dc)) : -d;
              const m = Math.min(Math.floor((lipIn * dist - band) / sx), i1 - i);
              if (m > 0) {
                for (let t = 1; t <= m; t++) {
                  const q = idx + t;
                  val[q] = h;
                  sdv[q] = sr;
                  lab[q] = label;
                }
                i += m; idx += m; px += m * di[0]; py += m * di[1]; pz += m * di[2];
              }
            }
          }
        }
      }
    }
    // noise: seeded by the slice's rank in head-first order (same patient point ⇒ same noise)
    const out = image.subarray(k * nSlice, (k + 1) * nSlice);
    const sigma = resolved.noiseSd;
    if (sigma > 0) {
      const kc = headFirst ? k : nz - 1 - k;
      // mulberry32 inlined (integer output used directly as a table index: one PRNG step per voxel)
      let a = hash32(opts.seed, 'noise', kc, nx, ny) | 0;
      for (let q = 0; q < nSlice; q++) {
        a = (a + 0x6d2b79f5) | 0;
        let t = Math.imul(a ^ (a >>> 15), a | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        noise[q] = table[(t ^ (t >>> 14)) & mask];
      }
      // separable [1 2 1]/4 in i then j (edges: replicate)
      for (let j = 0; j < ny; j++) {
        const o = j * nx;
        for (let i = 0; i < nx; i++) {
          const l = noise[o + (i > 0 ? i - 1 : i)];
          const rr = noise[o + (i < nx - 1 ? i + 1 : i)];
          tmp[o + i] = 0.25 * l + 0.5 * noise[o + i] + 0.25 * rr;
        }
      }
      for (let j = 0; j < ny; j++) {
        const o = j * nx;
        const om = (j > 0 ? j - 1 : j) * nx;
        const op = (j < ny - 1 ? j + 1 : j) * nx;
        for (let i = 0; i < nx; i++) noise[o + i] = 0.25 * tmp[om + i] + 0.5 * tmp[o + i] + 0.25 * tmp[op + i];
      }
      const gain = sigma * NOISE_GAIN;
      for (let q = 0; q < nSlice; q++) {
        let v = Math.round(val[q] + gain * sdv[q] * noise[q]);
        if (v < HU_MIN) v = HU_MIN;
        else if (v > HU_MAX) v = HU_MAX;
        out[q] = v;
      }
    } else {
      for (let q = 0; q < nSlice; q++) {
        let v = Math.round(val[q]);
        if (v < HU_MIN) v = HU_MIN;
        else if (v > HU_MAX) v = HU_MAX;
        out[q] = v;
      }
    }
  }

  // truth: FOV = union of voxel cells, i.e. continuous index within [-0.5, n - 0.5] on every axis
  const o = g.origin;
  const inFov = (x: number, y: number, z: number) => {
    // worldToIndex without allocation (orthonormal direction)
    const X = x - o[0], Y = y - o[1], Z = z - o[2];
    const i = (D[0] * X + D[1] * Y + D[2] * Z) / sx;
    const j = (D[3] * X + D[4] * Y + D[5] * Z) / sy;
    const k = (D[6] * X + D[7] * Y + D[8] * Z) / sz;
    return i >= -0.5 && i <= nx - 0.5 && j >= -0.5 && j <= ny - 0.5 && k >= -0.5 && k <= nz - 0.5;
  };
  const vv = voxelVolumeMm3(g) / 1000;
  let cl = 0;
  let cr = 0;
  for (let q = 0; q < labels.length; q++) {
    const l = labels[q];
    if (l === LABEL.psoas_left) cl++;
    else if (l === LABEL.psoas_right) cr++;
  }
  const truth: PhantomTruth = {
    psoas_left: { ...tubeTruth(anatomy.psoasLeft, shift, LABEL.psoas_left, inFov), label_voxels: cl, label_volume_ml: cl * vv },
    psoas_right: { ...tubeTruth(anatomy.psoasRight, shift, LABEL.psoas_right, inFov), label_voxels: cr, label_volume_ml: cr * vv },
  };
  const meta = {
    modality: 'CT',
    patientName: 'PHANTOM^PSOAS',
    patientId: `PHANTOM-${opts.seed}`,
    seriesDescription: `Psoas phantom ${resolved.preset} seed ${opts.seed}`,
    source: `phantom:seed=${opts.seed},preset=${resolved.preset}`,
    phantom: { generatorVersion: GENERATOR_VERSION, ...resolved },
  };
  return {
    image: { geometry: g, data: image, units: 'HU', meta: { ...meta } },
    labels: { geometry: { ...g, dimensions: [...g.dimensions], spacing: [...g.spacing], origin: [...g.origin], direction: [...g.direction] as Mat3 }, data: labels, units: 'label', meta: { ...meta, seriesDescription: meta.seriesDescription + ' labels' } },
    truth,
    anatomy,
    shift,
    resolved,
  };
}
