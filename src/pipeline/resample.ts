/**
 * Resampling between arbitrary grids (any spacing, origin and direction), evaluated in patient space:
 * for every target voxel centre p (LPS mm) we read the source at its continuous voxel index worldToIndex(src, p).
 *
 * - Trilinear for CT and for class scores (multi-channel, channel-major arrays: value of channel c at voxel n is
 *   data[c*N + n], the same layout as the ONNX NCDHW output).
 * - Nearest neighbour for label maps.
 * - Slab-wise evaluation: the target is produced a few k-slices at a time into one reused buffer handed to a
 *   callback, so a 512x512x300 output never exists as a full-size Float32Array.
 *
 * Edges: a target point within half a voxel outside the source's outermost voxel centres (i.e. still inside the
 * source's physical extent) is clamped to the edge voxel. Beyond that it gets `fill` when given, else is clamped
 * too (edge replication).
 */
import { PsoasError } from '../core/errors';
import { axisColumn, dominantAxis, dot, indexToWorld, type Vec3, type VolumeGeometry } from '../core/geometry';
import type { VoxelArray } from '../core/volume';

/** Data on a grid; `channels` > 1 means channel-major storage (length = channels * voxel count). */
export interface GridData<T extends ArrayLike<number> = ArrayLike<number>> {
  geometry: VolumeGeometry;
  data: T;
  channels?: number;
}

/**
 * A grid with the same direction and centre as `g`, spacing `spacing` (mm, along i, j, k), covering the same
 * physical extent (n * spacing per axis, voxel edge to voxel edge).
 * - 'exact-spacing' (default): spacing is exactly `spacing`; dims = max(1, round(n*s/s')) (half to even, as
 *   Python's round() in training), so the extent
 *   differs from the source's by at most s'/2 per axis (centred: at most s'/4 at each end).
 * - 'exact-extent': dims as above, spacing adjusted to n*s/dims so the extent is identical.
 */
export function geometryForSpacing(
  g: VolumeGeometry,
  spacing: Vec3,
  mode: 'exact-spacing' | 'exact-extent' = 'exact-spacing',
): VolumeGeometry {
  for (const s of spacing)
    if (!(s > 0) || !Number.isFinite(s))
      throw new PsoasError('BAD_ARGUMENT', `geometryForSpacing: spacing must be > 0 mm (got ${JSON.stringify(spacing)})`, spacing);
  const dims = [0, 1, 2].map((a) => Math.max(1, roundHalfEven((g.dimensions[a] * g.spacing[a]) / spacing[a]))) as Vec3;
  const sp =
    mode === 'exact-extent'
      ? ([0, 1, 2].map((a) => (g.dimensions[a] * g.spacing[a]) / dims[a]) as Vec3)
      : ([...spacing] as Vec3);
  // Keep the centre of the box: centre = world((n-1)/2) of the source; origin' = centre - D*(s' ⊙ (n'-1)/2).
  const centre = indexToWorld(g, [(g.dimensions[0] - 1) / 2, (g.dimensions[1] - 1) / 2, (g.dimensions[2] - 1) / 2]);
  const half = [0, 1, 2].map((a) => (sp[a] * (dims[a] - 1)) / 2);
  const d = g.direction;
  const origin: Vec3 = [
    centre[0] - (d[0] * half[0] + d[3] * half[1] + d[6] * half[2]),
    centre[1] - (d[1] * half[0] + d[4] * half[1] + d[7] * half[2]),
    centre[2] - (d[2] * half[0] + d[5] * half[1] + d[8] * half[2]),
  ];
  return { dimensions: dims, spacing: sp, origin, direction: [...g.direction] as VolumeGeometry['direction'] };
}

/** Below this tilt (degrees) a grid counts as axis-aligned: the model grid keeps its axes (no oblique resampling). */
export const OBLIQUE_MIN_DEG = 0.5;

/** ±1 unit vector of the patient axis (LPS) that the direction column `v` is closest to. */
function nearestAxis(v: Vec3): Vec3 {
  const { axis, sign } = dominantAxis(v);
  const u: Vec3 = [0, 0, 0];
  u[axis] = sign;
  return u;
}

/** Largest angle (degrees) between an axis of `g` and the patient axis it is closest to; 0 for a non-oblique grid. */
export function obliqueAngleDeg(g: VolumeGeometry): number {
  let worst = 0;
  for (const c of [0, 1, 2] as const) {
    const v = axisColumn(g.direction, c);
    const cos = Math.min(1, Math.abs(dot(v, nearestAxis(v))) / Math.hypot(...v));
    worst = Math.max(worst, (Math.acos(cos) * 180) / Math.PI);
  }
  return worst;
}

/**
 * A grid along the patient axes closest to `g`'s (direction snapped to ±L/P/S unit vectors, so the index order and
 * signs stay those of `g`), spacing close to `spacing` (mm; adjusted so the dims tile the extent exactly, as
 * 'exact-extent'), covering the bounding box of `g`'s whole physical extent (its 8 voxel-edge corners in LPS).
 * Why: a model trained on axial anatomy sees an oblique (tilted-gantry, ImageOrientationPatient not axial) series as
 * a rotated body; resampled onto this grid it sees it upright. The corners of this box outside `g` hold no data
 * (resample them with a fill value: air).
 */
export function patientAlignedGeometry(g: VolumeGeometry, spacing: Vec3): VolumeGeometry {
  for (const s of spacing)
    if (!(s > 0) || !Number.isFinite(s))
      throw new PsoasError('BAD_ARGUMENT', `patientAlignedGeometry: spacing must be > 0 mm (got ${JSON.stringify(spacing)})`, spacing);
  const axes = [0, 1, 2].map((c) => nearestAxis(axisColumn(g.direction, c as 0 | 1 | 2)));
  const used = axes.map((u) => u.findIndex((x) => x !== 0));
  if (new Set(used).size !== 3)
    throw new PsoasError('BAD_ARGUMENT', `patientAlignedGeometry: two axes of the grid are closest to the same patient axis (tilt ≥ 45°?)`, g.direction);
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (let c = 0; c < 8; c++) {
    const corner: Vec3 = [0, 1, 2].map((a) => (c & (1 << a) ? g.dimensions[a] - 0.5 : -0.5)) as Vec3;
    const p = indexToWorld(g, corner);
    for (let a = 0; a < 3; a++) {
      const t = dot(axes[a], p);
      lo[a] = Math.min(lo[a], t);
      hi[a] = Math.max(hi[a], t);
    }
  }
  const dims = [0, 1, 2].map((a) => Math.max(1, roundHalfEven((hi[a] - lo[a]) / spacing[a]))) as Vec3;
  const sp = [0, 1, 2].map((a) => (hi[a] - lo[a]) / dims[a]) as Vec3;
  // origin = centre of the first voxel: coordinate lo + s/2 along each (orthonormal) axis.
  const origin: Vec3 = [0, 0, 0];
  for (let a = 0; a < 3; a++) for (let x = 0; x < 3; x++) origin[x] += axes[a][x] * (lo[a] + sp[a] / 2);
  return { dimensions: dims, spacing: sp, origin, direction: [...axes[0], ...axes[1], ...axes[2]] as VolumeGeometry['direction'] };
}

/**
 * `g` translated by `shift` voxels along its own axes (i, j, k; fractions allowed): same dimensions, spacing and
 * direction, origin moved by D·(shift ⊙ spacing) mm in LPS.
 */
export function shiftGeometry(g: VolumeGeometry, shift: Vec3): VolumeGeometry {
  return {
    dimensions: [...g.dimensions] as Vec3,
    spacing: [...g.spacing] as Vec3,
    origin: indexToWorld(g, shift),
    direction: [...g.direction] as VolumeGeometry['direction'],
  };
}

/**
 * Round half to even, like Python's round(): training/train.py sizes the model grid with
 * round(n * spacing / target), so 22.5 must give 22 here too (Math.round gives 23).
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (Math.abs(d - 0.5) < 1e-9) return f % 2 === 0 ? f : f + 1;
  return Math.round(x);
}

/** Sub-grid of `g` covering voxel indices lo..hi-1 (hi exclusive) along i, j, k; same spacing and direction. */
export function cropGeometry(g: VolumeGeometry, lo: Vec3, hi: Vec3): VolumeGeometry {
  for (let a = 0; a < 3; a++)
    if (!(lo[a] >= 0 && hi[a] <= g.dimensions[a] && hi[a] > lo[a]))
      throw new PsoasError(
        'BAD_ARGUMENT',
        `cropGeometry: box ${JSON.stringify(lo)}..${JSON.stringify(hi)} is empty or outside dimensions ${JSON.stringify(g.dimensions)}`,
        { lo, hi },
      );
  return {
    dimensions: [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]],
    spacing: [...g.spacing] as Vec3,
    origin: indexToWorld(g, lo),
    direction: [...g.direction] as VolumeGeometry['direction'],
  };
}

/**
 * Affine map from target voxel index to source continuous voxel index: src = b + m0*i + m1*j + m2*k, where
 * mX are the columns (Vec3). Exact for orthonormal directions.
 */
export function indexToIndexAffine(src: VolumeGeometry, dst: VolumeGeometry): { b: Vec3; m: [Vec3, Vec3, Vec3] } {
  const sAxes = [0, 1, 2].map((c) => axisColumn(src.direction, c as 0 | 1 | 2));
  const dAxes = [0, 1, 2].map((c) => axisColumn(dst.direction, c as 0 | 1 | 2));
  const off: Vec3 = [dst.origin[0] - src.origin[0], dst.origin[1] - src.origin[1], dst.origin[2] - src.origin[2]];
  const b = [0, 1, 2].map((s) => dot(sAxes[s], off) / src.spacing[s]) as Vec3;
  const m = [0, 1, 2].map(
    (t) => [0, 1, 2].map((s) => (dot(sAxes[s], dAxes[t]) * dst.spacing[t]) / src.spacing[s]) as Vec3,
  ) as [Vec3, Vec3, Vec3];
  // Snap round-off (e.g. 1e-17 from permuted axes) so axis-aligned cases stay exactly axis-aligned.
  for (const col of m) for (let s = 0; s < 3; s++) if (Math.abs(col[s]) < 1e-12) col[s] = 0;
  return { b, m };
}

export interface ResampleOptions {
  /** Value for target points outside the source's physical extent; when undefined they are edge-clamped. */
  fill?: number;
  /**
   * Without `fill`: points outside the source are mirrored back into it about its outermost voxel centres (voxel
   * index x beyond n - 1 reads 2 (n - 1) - x) instead of clamped to them, so the anatomy near an edge is continued
   * by its mirror image rather than by one slice repeated.
   */
  reflect?: boolean;
  /** k-slices per slab; default: as many as fit in `maxSlabValues`. */
  slabDepth?: number;
  /** Upper bound on floats held per slab (all channels), default 16M (64 MB). */
  maxSlabValues?: number;
  signal?: AbortSignal;
}

function sourceInfo(src: GridData) {
  const channels = src.channels ?? 1;
  const [nx, ny, nz] = src.geometry.dimensions;
  const n = nx * ny * nz;
  if (src.data.length !== n * channels)
    throw new PsoasError(
      'BAD_ARGUMENT',
      `resample: source array has ${src.data.length} values, expected ${n} voxels x ${channels} channel(s)`,
      src.data.length,
    );
  return { channels, nx, ny, nz, n };
}

function slabDepthFor(target: VolumeGeometry, channels: number, opts: ResampleOptions): number {
  const plane = target.dimensions[0] * target.dimensions[1] * channels;
  const depth = opts.slabDepth ?? Math.floor((opts.maxSlabValues ?? 16 * 1024 * 1024) / plane);
  return Math.max(1, Math.min(target.dimensions[2], depth));
}

/**
 * Trilinear resampling of `src` onto `target`, slab by slab. `onSlab(k0, k1, values)` receives target slices
 * k0..k1-1 as a channel-major Float32Array (value of channel c at local voxel n = values[c*slabN + n],
 * slabN = nx*ny*(k1-k0)). The buffer is reused: copy what you keep before returning.
 */
export function resampleTrilinearSlabs(
  src: GridData,
  target: VolumeGeometry,
  onSlab: (k0: number, k1: number, values: Float32Array) => void,
  opts: ResampleOptions = {},
): void {
  const { channels, nx, ny, nz, n } = sourceInfo(src);
  const data = src.data;
  const { b, m } = indexToIndexAffine(src.geometry, target);
  const [tx, ty, tz] = target.dimensions;
  const depth = slabDepthFor(target, channels, opts);
  const buf = new Float32Array(tx * ty * depth * channels);
  const fill = opts.fill;
  const reflect = fill === undefined && opts.reflect === true;
  const mirror = (x: number, n: number) => (x < 0 ? -x : x > n - 1 ? 2 * (n - 1) - x : x);
  const strideY = nx;
  const strideZ = nx * ny;
  // Continuous-index limits: inside the physical extent = [-0.5, n-0.5] (tolerance for round-off).
  const eps = 1e-6;
  for (let k0 = 0; k0 < tz; k0 += depth) {
    opts.signal?.throwIfAborted();
    const k1 = Math.min(tz, k0 + depth);
    const slabN = tx * ty * (k1 - k0);
    let o = 0;
    for (let k = k0; k < k1; k++)
      for (let j = 0; j < ty; j++) {
        let x = b[0] + m[1][0] * j + m[2][0] * k;
        let y = b[1] + m[1][1] * j + m[2][1] * k;
        let z = b[2] + m[1][2] * j + m[2][2] * k;
        for (let i = 0; i < tx; i++, o++, x += m[0][0], y += m[0][1], z += m[0][2]) {
          if (
            fill !== undefined &&
            (x < -0.5 - eps || x > nx - 0.5 + eps || y < -0.5 - eps || y > ny - 0.5 + eps || z < -0.5 - eps || z > nz - 0.5 + eps)
          ) {
            for (let c = 0; c < channels; c++) buf[c * slabN + o] = fill;
            continue;
          }
          const rx = reflect ? mirror(x, nx) : x;
          const ry = reflect ? mirror(y, ny) : y;
          const rz = reflect ? mirror(z, nz) : z;
          // clamped (also a mirror image that falls beyond the opposite edge: a series thinner than the corner)
          const cx = rx < 0 ? 0 : rx > nx - 1 ? nx - 1 : rx;
          const cy = ry < 0 ? 0 : ry > ny - 1 ? ny - 1 : ry;
          const cz = rz < 0 ? 0 : rz > nz - 1 ? nz - 1 : rz;
          const x0 = Math.floor(cx);
          const y0 = Math.floor(cy);
          const z0 = Math.floor(cz);
          const fx = cx - x0;
          const fy = cy - y0;
          const fz = cz - z0;
          const dx = x0 < nx - 1 ? 1 : 0;
          const dy = y0 < ny - 1 ? strideY : 0;
          const dz = z0 < nz - 1 ? strideZ : 0;
          const w000 = (1 - fx) * (1 - fy) * (1 - fz);
          const w100 = fx * (1 - fy) * (1 - fz);
          const w010 = (1 - fx) * fy * (1 - fz);
          const w110 = fx * fy * (1 - fz);
          const w001 = (1 - fx) * (1 - fy) * fz;
          const w101 = fx * (1 - fy) * fz;
          const w011 = (1 - fx) * fy * fz;
          const w111 = fx * fy * fz;
          const base = x0 + strideY * y0 + strideZ * z0;
          for (let c = 0, p = base; c < channels; c++, p += n) {
            buf[c * slabN + o] =
              w000 * data[p] +
              w100 * data[p + dx] +
              w010 * data[p + dy] +
              w110 * data[p + dx + dy] +
              w001 * data[p + dz] +
              w101 * data[p + dx + dz] +
              w011 * data[p + dy + dz] +
              w111 * data[p + dx + dy + dz];
          }
        }
      }
    onSlab(k0, k1, slabN * channels === buf.length ? buf : buf.subarray(0, slabN * channels));
  }
}

/** Trilinear resampling into one channel-major Float32Array on `target` (for outputs that fit in memory). */
export function resampleTrilinear(src: GridData, target: VolumeGeometry, opts: ResampleOptions = {}): Float32Array {
  const channels = src.channels ?? 1;
  const plane = target.dimensions[0] * target.dimensions[1];
  const n = plane * target.dimensions[2];
  const out = new Float32Array(n * channels);
  resampleTrilinearSlabs(
    src,
    target,
    (k0, k1, values) => {
      const slabN = plane * (k1 - k0);
      for (let c = 0; c < channels; c++) out.set(values.subarray(c * slabN, (c + 1) * slabN), c * n + k0 * plane);
    },
    opts,
  );
  return out;
}

/**
 * Nearest-neighbour resampling (for label maps): returns an array of the source's type on `target`.
 * Points outside the source's physical extent get `fill` (default 0 = background).
 */
export function resampleNearest<T extends VoxelArray>(src: GridData<T>, target: VolumeGeometry, fill = 0): T {
  const { nx, ny, nz } = sourceInfo(src);
  if ((src.channels ?? 1) !== 1) throw new PsoasError('BAD_ARGUMENT', 'resampleNearest: single-channel data only', src.channels);
  const { b, m } = indexToIndexAffine(src.geometry, target);
  const [tx, ty, tz] = target.dimensions;
  const out = new (src.data.constructor as new (n: number) => T)(tx * ty * tz);
  const data = src.data;
  let o = 0;
  for (let k = 0; k < tz; k++)
    for (let j = 0; j < ty; j++) {
      let x = b[0] + m[1][0] * j + m[2][0] * k;
      let y = b[1] + m[1][1] * j + m[2][1] * k;
      let z = b[2] + m[1][2] * j + m[2][2] * k;
      for (let i = 0; i < tx; i++, o++, x += m[0][0], y += m[0][1], z += m[0][2]) {
        // Round half up; a point exactly between two voxels goes to the higher index. Tolerance keeps exact
        // grid matches (x = 3 - 1e-13) on the right voxel.
        const ix = Math.floor(x + 0.5 + 1e-9);
        const iy = Math.floor(y + 0.5 + 1e-9);
        const iz = Math.floor(z + 0.5 + 1e-9);
        out[o] = ix < 0 || ix >= nx || iy < 0 || iy >= ny || iz < 0 || iz >= nz ? fill : data[ix + nx * (iy + ny * iz)];
      }
    }
  return out;
}
