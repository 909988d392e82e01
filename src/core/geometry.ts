/**
 * Volume geometry: the one description of where voxels are in patient space.
 *
 * Conventions used everywhere in psoasview:
 * - Voxel index (i, j, k): i = column (fastest in memory), j = row, k = slice. Linear index = i + nx*(j + ny*k).
 * - Patient space is DICOM LPS in millimetres: +x = patient's Left, +y = Posterior, +z = Superior (head).
 * - `direction` is a 3x3 matrix stored column-major as 9 numbers: columns are the unit LPS directions of the
 *   i, j and k axes. For a DICOM slice, column 0 = ImageOrientationPatient[0..2] (direction along a row),
 *   column 1 = IOP[3..5] (direction down a column), column 2 = the direction in which slices advance.
 * - world(i,j,k) = origin + direction * (spacing ⊙ (i,j,k)); `origin` is the centre of voxel (0,0,0).
 */
export type Vec3 = [number, number, number];
/** Column-major 3x3: [c0x, c0y, c0z, c1x, c1y, c1z, c2x, c2y, c2z]. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];

export interface VolumeGeometry {
  /** Voxel counts along i, j, k. */
  dimensions: Vec3;
  /** Voxel spacing in mm along i, j, k (always positive). */
  spacing: Vec3;
  /** LPS position (mm) of the centre of voxel (0,0,0). */
  origin: Vec3;
  /** Column-major direction cosines (see above). */
  direction: Mat3;
}

export const IDENTITY: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

export function voxelCount(g: VolumeGeometry): number {
  return g.dimensions[0] * g.dimensions[1] * g.dimensions[2];
}

export function linearIndex(g: VolumeGeometry, i: number, j: number, k: number): number {
  return i + g.dimensions[0] * (j + g.dimensions[1] * k);
}

/** Patient LPS (mm) of a continuous voxel index. */
export function indexToWorld(g: VolumeGeometry, idx: Vec3): Vec3 {
  const d = g.direction;
  const a = idx[0] * g.spacing[0];
  const b = idx[1] * g.spacing[1];
  const c = idx[2] * g.spacing[2];
  return [
    g.origin[0] + d[0] * a + d[3] * b + d[6] * c,
    g.origin[1] + d[1] * a + d[4] * b + d[7] * c,
    g.origin[2] + d[2] * a + d[5] * b + d[8] * c,
  ];
}

/** Continuous voxel index of a patient LPS point (mm). Assumes orthonormal direction. */
export function worldToIndex(g: VolumeGeometry, p: Vec3): Vec3 {
  const d = g.direction;
  const x = p[0] - g.origin[0];
  const y = p[1] - g.origin[1];
  const z = p[2] - g.origin[2];
  return [
    (d[0] * x + d[1] * y + d[2] * z) / g.spacing[0],
    (d[3] * x + d[4] * y + d[5] * z) / g.spacing[1],
    (d[6] * x + d[7] * y + d[8] * z) / g.spacing[2],
  ];
}

/** Grows the voxel-index box [lo, hi] (both inclusive) to hold voxel (i, j, k). Start with lo = dims, hi = -1. */
export function extendBox(lo: Vec3, hi: Vec3, i: number, j: number, k: number): void {
  if (i < lo[0]) lo[0] = i;
  if (i > hi[0]) hi[0] = i;
  if (j < lo[1]) lo[1] = j;
  if (j > hi[1]) hi[1] = j;
  if (k < lo[2]) lo[2] = k;
  if (k > hi[2]) hi[2] = k;
}

/**
 * Bounding box [lo, hi) (voxel indices, hi exclusive) of the voxels v = i + nx (j + ny k) of a grid of `dims` for
 * which `test(v)` holds; null when there are none.
 */
export function boundingBoxWhere(dims: Vec3, test: (v: number) => boolean): { lo: Vec3; hi: Vec3 } | null {
  const [nx, ny, nz] = dims;
  const lo: Vec3 = [nx, ny, nz];
  const hi: Vec3 = [-1, -1, -1];
  for (let k = 0, v = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, v++) if (test(v)) extendBox(lo, hi, i, j, k);
  return hi[0] < 0 ? null : { lo, hi: [hi[0] + 1, hi[1] + 1, hi[2] + 1] };
}

/** Volume of one voxel in mm^3: |det(direction * diag(spacing))|. */
export function voxelVolumeMm3(g: VolumeGeometry): number {
  const d = g.direction;
  const det =
    d[0] * (d[4] * d[8] - d[7] * d[5]) - d[3] * (d[1] * d[8] - d[7] * d[2]) + d[6] * (d[1] * d[5] - d[4] * d[2]);
  return Math.abs(det) * g.spacing[0] * g.spacing[1] * g.spacing[2];
}

export function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

export function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

export function axisColumn(m: Mat3, c: 0 | 1 | 2): Vec3 {
  return [m[3 * c], m[3 * c + 1], m[3 * c + 2]];
}

/**
 * Three-letter orientation code of the i, j, k axes, in the DICOM/ITK "LPS" sense: each letter names the
 * patient direction an axis points TOWARDS (e.g. a standard axial DICOM series head-first is "LPS"; a
 * feet-first stack with slices going down is "LPI"). Oblique axes take their dominant component.
 */
export function orientationCode(g: VolumeGeometry): string {
  const letters = [
    ['R', 'L'],
    ['A', 'P'],
    ['I', 'S'],
  ];
  let out = '';
  for (const c of [0, 1, 2] as const) {
    const { axis, sign } = dominantAxis(axisColumn(g.direction, c));
    out += letters[axis][sign > 0 ? 1 : 0];
  }
  return out;
}

/** The patient axis (0 = x, 1 = y, 2 = z of LPS) that direction `v` points along most, and which way (ties: the first). */
export function dominantAxis(v: Vec3): { axis: 0 | 1 | 2; sign: 1 | -1 } {
  let axis: 0 | 1 | 2 = 0;
  for (const a of [1, 2] as const) if (Math.abs(v[a]) > Math.abs(v[axis])) axis = a;
  return { axis, sign: v[axis] >= 0 ? 1 : -1 };
}
