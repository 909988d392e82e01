/**
 * Affine helpers for measurement on the SOURCE grid.
 *
 * The voxel-index → patient map is world = origin + M·(i, j, k) with M = direction·diag(spacing)
 * (mm per voxel step, LPS). Unlike core/geometry.worldToIndex, the inverse here does not assume the
 * direction is orthonormal, so sheared grids (e.g. DICOM gantry tilt stored as a sheared stack) are exact.
 */
import type { Vec3, VolumeGeometry } from '../core/geometry';
import { PsoasError } from '../core/errors';

/** Row-major 3x3 helper: m[r][c]. */
export type RowMat3 = [Vec3, Vec3, Vec3];

export interface Affine {
  /** LPS mm of voxel (0,0,0)'s centre. */
  origin: Vec3;
  /** Row-major M = direction·diag(spacing): world mm per unit step of i, j, k. M[r][c] = LPS axis r, index c. */
  m: RowMat3;
  /** Row-major inverse of M: index steps per mm. */
  inv: RowMat3;
  /** |det M|: voxel volume in mm^3. */
  voxelMm3: number;
  /**
   * Half the extent (mm) of one voxel along each LPS axis: the voxel is the parallelepiped
   * centre ± M·[-0.5, 0.5]^3, so its half-extent along axis r is 0.5·Σ_c |M[r][c]|.
   */
  halfExtent: Vec3;
  /**
   * True when the slice planes (k = const) are axial, i.e. the i and j axes have no patient-z component
   * (standard axial series, head- or feet-first, any in-plane rotation). Then each slice is one plane of
   * constant patient z, and its cross-section is count x projected pixel area.
   */
  axialSlices: boolean;
  dims: Vec3;
}

/** Tolerance on the z component (unitless direction cosine) of the in-plane axes to call a slice "axial".
 *  1e-4 keeps the z drift across a 512 x 0.9 mm row under 0.05 mm. */
export const AXIAL_COSINE_TOL = 1e-4;

export function affineOf(g: VolumeGeometry, source = 'mask'): Affine {
  const d = g.direction;
  const s = g.spacing;
  for (const v of s) {
    if (!(v > 0) || !Number.isFinite(v)) {
      throw new PsoasError('BAD_ARGUMENT', `Voxel spacing must be positive finite mm, got [${s.join(', ')}] in ${source}`, s, source);
    }
  }
  // Column c of direction scaled by spacing c; stored row-major.
  const m: RowMat3 = [
    [d[0] * s[0], d[3] * s[1], d[6] * s[2]],
    [d[1] * s[0], d[4] * s[1], d[7] * s[2]],
    [d[2] * s[0], d[5] * s[1], d[8] * s[2]],
  ];
  const det =
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  const voxelMm3 = Math.abs(det);
  if (!(voxelMm3 > 1e-12 * s[0] * s[1] * s[2])) {
    throw new PsoasError(
      'BAD_ARGUMENT',
      `Direction cosines of ${source} are singular (det = ${det}); cannot measure on this grid`,
      d,
      source,
    );
  }
  const inv: RowMat3 = [
    [
      (m[1][1] * m[2][2] - m[1][2] * m[2][1]) / det,
      (m[0][2] * m[2][1] - m[0][1] * m[2][2]) / det,
      (m[0][1] * m[1][2] - m[0][2] * m[1][1]) / det,
    ],
    [
      (m[1][2] * m[2][0] - m[1][0] * m[2][2]) / det,
      (m[0][0] * m[2][2] - m[0][2] * m[2][0]) / det,
      (m[0][2] * m[1][0] - m[0][0] * m[1][2]) / det,
    ],
    [
      (m[1][0] * m[2][1] - m[1][1] * m[2][0]) / det,
      (m[0][1] * m[2][0] - m[0][0] * m[2][1]) / det,
      (m[0][0] * m[1][1] - m[0][1] * m[1][0]) / det,
    ],
  ];
  const halfExtent: Vec3 = [0, 1, 2].map(
    (r) => 0.5 * (Math.abs(m[r][0]) + Math.abs(m[r][1]) + Math.abs(m[r][2])),
  ) as Vec3;
  const axialSlices = Math.abs(d[2]) < AXIAL_COSINE_TOL && Math.abs(d[5]) < AXIAL_COSINE_TOL;
  return { origin: [...g.origin] as Vec3, m, inv, voxelMm3, halfExtent, axialSlices, dims: [...g.dimensions] as Vec3 };
}

/** LPS mm of a (continuous) voxel index. */
export function toWorld(a: Affine, i: number, j: number, k: number): Vec3 {
  const m = a.m;
  return [
    a.origin[0] + m[0][0] * i + m[0][1] * j + m[0][2] * k,
    a.origin[1] + m[1][0] * i + m[1][1] * j + m[1][2] * k,
    a.origin[2] + m[2][0] * i + m[2][1] * j + m[2][2] * k,
  ];
}

/** Patient z (mm) range covered by the whole grid, voxel boundaries included: [lowest, highest]. */
export function gridZRange(a: Affine): [number, number] {
  const [nx, ny, nz] = a.dims;
  const mz = a.m[2];
  // z is affine in (i,j,k): extremes sit at corner voxel centres, then ± the voxel half-extent.
  let lo = Infinity;
  let hi = -Infinity;
  for (const i of [0, nx - 1]) {
    for (const j of [0, ny - 1]) {
      for (const k of [0, nz - 1]) {
        const z = a.origin[2] + mz[0] * i + mz[1] * j + mz[2] * k;
        lo = Math.min(lo, z);
        hi = Math.max(hi, z);
      }
    }
  }
  return [lo - a.halfExtent[2], hi + a.halfExtent[2]];
}

/** True when two geometries describe the same voxel grid (dims exact; spacing/origin within 1e-3 mm; cosines 1e-4). */
export function sameGrid(g1: VolumeGeometry, g2: VolumeGeometry): boolean {
  for (let c = 0; c < 3; c++) {
    if (g1.dimensions[c] !== g2.dimensions[c]) return false;
    if (Math.abs(g1.spacing[c] - g2.spacing[c]) > 1e-3) return false;
    if (Math.abs(g1.origin[c] - g2.origin[c]) > 1e-3) return false;
  }
  for (let c = 0; c < 9; c++) if (Math.abs(g1.direction[c] - g2.direction[c]) > 1e-4) return false;
  return true;
}
