/**
 * Reorientation by axis permutation and flips only (no interpolation): the voxel values are moved, never mixed,
 * so the inverse is exact for any array (CT, labels, class scores).
 *
 * After reorientation, output axis a (a = 0, 1, 2 = i', j', k') is source axis `perm[a]`, traversed backwards
 * when `flip[a]`. The output geometry describes the same voxels at the same LPS positions (mm); only the index
 * order changes. For an oblique source the result is the permutation closest to the target (largest total
 * |cosine|); the residual obliquity stays in `direction` and is handled exactly by the resampling step.
 */
import { PsoasError } from '../core/errors';
import { axisColumn, indexToWorld, orientationCode, type Mat3, type Vec3, type VolumeGeometry } from '../core/geometry';
import type { Volume, VoxelArray } from '../core/volume';
import { isOrientationCode } from './manifest';

export interface ReorientTransform {
  /** Output axis a takes source axis perm[a]. */
  perm: Vec3;
  /** Output axis a runs opposite to source axis perm[a]. */
  flip: [boolean, boolean, boolean];
  source: VolumeGeometry;
  target: VolumeGeometry;
  /** Orientation codes (geometry.ts convention) before and after. */
  fromCode: string;
  toCode: string;
}

const PERMS: Vec3[] = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];

/** Unit LPS vector of an orientation letter (L = +x, P = +y, S = +z). */
function letterVector(ch: string): Vec3 {
  switch (ch) {
    case 'L':
      return [1, 0, 0];
    case 'R':
      return [-1, 0, 0];
    case 'P':
      return [0, 1, 0];
    case 'A':
      return [0, -1, 0];
    case 'S':
      return [0, 0, 1];
    case 'I':
      return [0, 0, -1];
  }
  throw new PsoasError('BAD_ARGUMENT', `Unknown orientation letter "${ch}"`, ch);
}

/**
 * The permutation/flips that bring `g` closest to the orientation `targetCode` (e.g. 'LPS', 'RAS').
 * Chooses, among the 6 axis permutations, the one maximising sum |cos(source axis, target axis)|; each axis is
 * flipped when its cosine is negative.
 */
export function planReorient(g: VolumeGeometry, targetCode: string): { perm: Vec3; flip: [boolean, boolean, boolean] } {
  if (!isOrientationCode(targetCode))
    throw new PsoasError('BAD_ARGUMENT', `Target orientation "${targetCode}" is not a 3-letter code like LPS or RAS`, targetCode);
  const want = [...targetCode.toUpperCase()].map(letterVector);
  const cols = [0, 1, 2].map((c) => axisColumn(g.direction, c as 0 | 1 | 2));
  const cosine = (a: number, s: number) => want[a][0] * cols[s][0] + want[a][1] * cols[s][1] + want[a][2] * cols[s][2];
  let best = PERMS[0];
  let bestScore = -Infinity;
  for (const p of PERMS) {
    const score = Math.abs(cosine(0, p[0])) + Math.abs(cosine(1, p[1])) + Math.abs(cosine(2, p[2]));
    if (score > bestScore + 1e-9) {
      bestScore = score;
      best = p;
    }
  }
  const flip = [0, 1, 2].map((a) => cosine(a, best[a]) < 0) as [boolean, boolean, boolean];
  return { perm: [...best] as Vec3, flip };
}

/** Geometry of the reoriented grid: same voxel centres in LPS, permuted/flipped index axes. */
export function reorientGeometry(g: VolumeGeometry, perm: Vec3, flip: [boolean, boolean, boolean]): VolumeGeometry {
  const dims = [0, 1, 2].map((a) => g.dimensions[perm[a]]) as Vec3;
  const spacing = [0, 1, 2].map((a) => g.spacing[perm[a]]) as Vec3;
  const direction: number[] = [];
  for (let a = 0; a < 3; a++) {
    const col = axisColumn(g.direction, perm[a] as 0 | 1 | 2);
    const s = flip[a] ? -1 : 1;
    direction.push(s * col[0], s * col[1], s * col[2]);
  }
  // Output voxel (0,0,0) is the source voxel at index 0 (or n-1 when flipped) along each permuted axis.
  const srcIdx: Vec3 = [0, 0, 0];
  for (let a = 0; a < 3; a++) srcIdx[perm[a]] = flip[a] ? g.dimensions[perm[a]] - 1 : 0;
  return { dimensions: dims, spacing, origin: indexToWorld(g, srcIdx), direction: direction as Mat3 };
}

/** Plans the reorientation of geometry `g` to `targetCode` (no data moved). */
export function reorientTransform(g: VolumeGeometry, targetCode: string): ReorientTransform {
  const { perm, flip } = planReorient(g, targetCode);
  const target = reorientGeometry(g, perm, flip);
  return { perm, flip, source: g, target, fromCode: orientationCode(g), toCode: orientationCode(target) };
}

/** True when the transform moves nothing (identity permutation, no flips). */
export function isIdentityReorient(t: ReorientTransform): boolean {
  return t.perm[0] === 0 && t.perm[1] === 1 && t.perm[2] === 2 && !t.flip[0] && !t.flip[1] && !t.flip[2];
}

/**
 * Source strides (elements) for walking the output grid: output index (a0, a1, a2) reads source linear index
 * base + a0*st[0] + a1*st[1] + a2*st[2].
 */
function walk(t: ReorientTransform): { base: number; st: Vec3 } {
  const d = t.source.dimensions;
  const srcStride: Vec3 = [1, d[0], d[0] * d[1]];
  let base = 0;
  const st: Vec3 = [0, 0, 0];
  for (let a = 0; a < 3; a++) {
    const s = t.perm[a];
    if (t.flip[a]) {
      base += (d[s] - 1) * srcStride[s];
      st[a] = -srcStride[s];
    } else st[a] = srcStride[s];
  }
  return { base, st };
}

function checkLength(data: ArrayLike<number>, n: number, channels: number, what: string) {
  if (data.length !== n * channels)
    throw new PsoasError(
      'BAD_ARGUMENT',
      `${what}: array has ${data.length} values, expected ${n} voxels x ${channels} channel(s) = ${n * channels}`,
      data.length,
    );
}

/**
 * Moves `data` (on t.source, channel-major when channels > 1) onto t.target. Returns a new array of the same type.
 */
export function applyReorient<T extends VoxelArray>(data: T, t: ReorientTransform, channels = 1): T {
  const n = t.source.dimensions[0] * t.source.dimensions[1] * t.source.dimensions[2];
  checkLength(data, n, channels, 'applyReorient');
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const [n0, n1, n2] = t.target.dimensions;
  const { base, st } = walk(t);
  for (let c = 0; c < channels; c++) {
    const off = c * n;
    let o = off;
    for (let a2 = 0; a2 < n2; a2++)
      for (let a1 = 0; a1 < n1; a1++) {
        let s = off + base + a2 * st[2] + a1 * st[1];
        for (let a0 = 0; a0 < n0; a0++, s += st[0]) out[o++] = data[s];
      }
  }
  return out;
}

/** Exact inverse of applyReorient: moves `data` (on t.target) back onto t.source. */
export function invertReorient<T extends VoxelArray>(data: T, t: ReorientTransform, channels = 1): T {
  const n = t.source.dimensions[0] * t.source.dimensions[1] * t.source.dimensions[2];
  checkLength(data, n, channels, 'invertReorient');
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const [n0, n1, n2] = t.target.dimensions;
  const { base, st } = walk(t);
  for (let c = 0; c < channels; c++) {
    const off = c * n;
    let o = off;
    for (let a2 = 0; a2 < n2; a2++)
      for (let a1 = 0; a1 < n1; a1++) {
        let s = off + base + a2 * st[2] + a1 * st[1];
        for (let a0 = 0; a0 < n0; a0++, s += st[0]) out[s] = data[o++];
      }
  }
  return out;
}

/** Reorients a volume to `targetCode`; returns the new volume (same meta/units) and the transform. */
export function reorientVolume<T extends VoxelArray>(
  vol: Volume<T>,
  targetCode: string,
): { volume: Volume<T>; transform: ReorientTransform } {
  const transform = reorientTransform(vol.geometry, targetCode);
  const data = isIdentityReorient(transform) ? vol.data : applyReorient(vol.data, transform);
  return { volume: { ...vol, geometry: transform.target, data }, transform };
}
