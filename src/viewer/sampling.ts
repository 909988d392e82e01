/**
 * Voxel look-ups on a core Volume (pure). Nearest-neighbour: the value shown under the cursor is the value of
 * the voxel whose centre is nearest, as radiologists expect from a HU probe (no interpolation).
 */
import type { Vec3 } from '../core/geometry';
import { worldToIndex } from '../core/geometry';
import type { Volume } from '../core/volume';

/** Value at integer voxel index (i column, j row, k slice); NaN outside the volume or for non-integers. */
export function valueAtIndex(v: Volume, i: number, j: number, k: number): number {
  const [nx, ny, nz] = v.geometry.dimensions;
  if (![i, j, k].every(Number.isInteger) || i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) return NaN;
  return v.data[i + nx * (j + ny * k)];
}

/** Nearest voxel index of an LPS point (mm), or null when the point lies outside the voxel grid (half a voxel margin). */
export function nearestIndex(v: Volume, lps: Vec3): Vec3 | null {
  const c = worldToIndex(v.geometry, lps);
  const r: Vec3 = [Math.round(c[0]), Math.round(c[1]), Math.round(c[2])];
  const d = v.geometry.dimensions;
  for (let a = 0; a < 3; a++) if (r[a] < 0 || r[a] >= d[a]) return null;
  return r;
}

/** Value of the voxel nearest to an LPS point (mm); NaN outside. */
export function valueAtWorld(v: Volume, lps: Vec3): number {
  const idx = nearestIndex(v, lps);
  return idx ? valueAtIndex(v, idx[0], idx[1], idx[2]) : NaN;
}
