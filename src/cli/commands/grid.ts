/**
 * Putting a mask from any tool onto the CT's grid for `measure`.
 *
 * Same grid = same dimensions and every voxel-corner of the grid box within 1e-3 mm in patient LPS (that covers
 * origin, spacing and direction at once). Otherwise the mask is resampled nearest-neighbour onto the image grid
 * (pipeline/resample.ts resampleNearest) and a warning says so — unless its labelled voxels lie outside the
 * image's field of view, which means the mask belongs to another image: then it is an error.
 */
import { PsoasError } from '../../core/errors';
import { extendBox, indexToWorld, orientationCode, voxelVolumeMm3, worldToIndex, type Vec3, type VolumeGeometry } from '../../core/geometry';
import type { Volume } from '../../core/volume';
import { resampleNearest } from '../../pipeline/resample';

/** Tolerance (mm) for "the same grid" (the 1e-3 mm). */
export const SAME_GRID_TOL_MM = 1e-3;

/** Largest distance (mm, LPS) between corresponding corners (voxel centres of the 8 corner voxels) of two grids. */
export function maxCornerOffsetMm(a: VolumeGeometry, b: VolumeGeometry): number {
  let worst = 0;
  for (let c = 0; c < 8; c++) {
    const pick = (g: VolumeGeometry): Vec3 => [
      c & 1 ? g.dimensions[0] - 1 : 0,
      c & 2 ? g.dimensions[1] - 1 : 0,
      c & 4 ? g.dimensions[2] - 1 : 0,
    ];
    const pa = indexToWorld(a, pick(a));
    const pb = indexToWorld(b, pick(b));
    worst = Math.max(worst, Math.hypot(pa[0] - pb[0], pa[1] - pb[1], pa[2] - pb[2]));
  }
  // The corner voxels alone miss a pure spacing change along an axis of 1 voxel; compare the step vectors too.
  for (let ax = 0; ax < 3; ax++) {
    const e: Vec3 = [0, 0, 0];
    e[ax] = 1;
    const o = indexToWorld(a, [0, 0, 0]);
    const pa = indexToWorld(a, e);
    const pb = indexToWorld(b, e);
    const ob = indexToWorld(b, [0, 0, 0]);
    worst = Math.max(worst, Math.hypot(pa[0] - o[0] - (pb[0] - ob[0]), pa[1] - o[1] - (pb[1] - ob[1]), pa[2] - o[2] - (pb[2] - ob[2])));
  }
  return worst;
}

export function sameGrid(a: VolumeGeometry, b: VolumeGeometry, tolMm = SAME_GRID_TOL_MM): boolean {
  return a.dimensions.every((d, i) => d === b.dimensions[i]) && maxCornerOffsetMm(a, b) <= tolMm;
}

/** "120x101x112 @ 3x3x3 mm LPS, origin (x, y, z) mm" for messages. */
export function describeGrid(g: VolumeGeometry): string {
  const f = (x: number) => String(+x.toFixed(3));
  return `${g.dimensions.join('x')} @ ${g.spacing.map(f).join('x')} mm ${orientationCode(g)}, origin (${g.origin.map((x) => f(x)).join(', ')}) mm`;
}

/**
 * True when grid `m` holds exactly the voxel centres of grid `g` in another index order (axes permuted and/or
 * reversed: e.g. a head-first NIfTI (LPI) and the DICOM series assembled from it (LPS)). Then nearest-neighbour
 * "resampling" is an exact reordering. Tolerance: 1e-3 mm on every voxel centre.
 */
export function isReorderedGrid(g: VolumeGeometry, m: VolumeGeometry, tolMm = SAME_GRID_TOL_MM): boolean {
  const p0 = worldToIndex(g, indexToWorld(m, [0, 0, 0]));
  const used = [false, false, false];
  const hitAxis: number[] = [];
  for (let a = 0; a < 3; a++) {
    const e: Vec3 = [0, 0, 0];
    e[a] = 1;
    const p = worldToIndex(g, indexToWorld(m, e));
    const d = [p[0] - p0[0], p[1] - p0[1], p[2] - p0[2]];
    const b = [0, 1, 2].find((x) => Math.abs(Math.abs(d[x]) - 1) * g.spacing[x] <= tolMm);
    if (b === undefined || used[b]) return false;
    for (let x = 0; x < 3; x++) if (x !== b && Math.abs(d[x]) * g.spacing[x] > tolMm / Math.max(1, m.dimensions[a])) return false;
    if (m.dimensions[a] !== g.dimensions[b]) return false;
    // The far end of this axis must land on the image's first or last voxel along b.
    const end = p0[b] + d[b] * (m.dimensions[a] - 1);
    const lo = Math.min(p0[b], end);
    if (Math.abs(lo) * g.spacing[b] > tolMm) return false;
    used[b] = true;
    hitAxis.push(b);
  }
  return hitAxis.length === 3;
}

export interface AlignedMask {
  mask: Volume<Uint8Array>;
  /** True when voxels were interpolated (nearest neighbour) onto the image grid. */
  resampled: boolean;
  /** True when the mask held the image's voxels in another index order and was reordered exactly. */
  reordered: boolean;
  /** Max corner offset (mm) between the mask's grid and the image's as given. */
  offsetMm: number;
  warnings: string[];
}

/**
 * Returns the mask on the image's grid: as is when the grids agree within 1e-3 mm, else resampled
 * nearest-neighbour with a warning. Throws BAD_ARGUMENT when labelled voxels fall outside the image (the mask
 * belongs to another image or its header is wrong) or when the mask holds no label at all inside the image.
 */
export function alignMaskToImage(image: Volume, mask: Volume<Uint8Array>, maskName: string, imageName: string): AlignedMask {
  const gi = image.geometry;
  const gm = mask.geometry;
  const sameDims = gi.dimensions.every((d, i) => d === gm.dimensions[i]);
  const offsetMm = maxCornerOffsetMm(gi, gm);
  if (sameDims && offsetMm <= SAME_GRID_TOL_MM) return { mask, resampled: false, reordered: false, offsetMm, warnings: [] };
  if (isReorderedGrid(gi, gm)) {
    const data = resampleNearest({ geometry: gm, data: mask.data }, gi, 0); // exact: every centre hits a centre
    return {
      mask: { geometry: { ...gi, dimensions: [...gi.dimensions] as Vec3 }, data, units: 'label', meta: { ...mask.meta } },
      resampled: false,
      reordered: true,
      offsetMm,
      warnings: [
        `Mask ${maskName} holds the image's voxels in another order (${orientationCode(gm)} vs ${orientationCode(gi)}); reordered exactly onto the image grid, no interpolation`,
      ],
    };
  }

  // Labelled voxels' bounding box on the mask grid, then its corners in the image's continuous index space.
  const [mx, my] = gm.dimensions;
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-1, -1, -1];
  let labelled = 0;
  const d = mask.data;
  for (let v = 0; v < d.length; v++) {
    if (d[v] === 0) continue;
    labelled++;
    const i = v % mx;
    const j = Math.floor(v / mx) % my;
    const k = Math.floor(v / (mx * my));
    extendBox(lo, hi, i, j, k);
  }
  const why = sameDims
    ? `has the image's dimensions but another position/orientation (corners up to ${offsetMm.toFixed(3)} mm apart)`
    : 'is on another grid';
  const grids = `mask ${describeGrid(gm)}; image ${describeGrid(gi)}`;
  if (labelled === 0)
    throw new PsoasError('BAD_ARGUMENT', `Mask ${maskName} ${why} and holds no labelled voxel (${grids})`, gm.dimensions, maskName);
  // How far (mm) the labelled box's voxel centres stick out of the image's box of voxel edges.
  let outsideMm = 0;
  for (let c = 0; c < 8; c++) {
    const corner: Vec3 = [c & 1 ? hi[0] : lo[0], c & 2 ? hi[1] : lo[1], c & 4 ? hi[2] : lo[2]];
    const p = worldToIndex(gi, indexToWorld(gm, corner));
    for (let a = 0; a < 3; a++) {
      const below = -0.5 - p[a];
      const above = p[a] - (gi.dimensions[a] - 0.5);
      outsideMm = Math.max(outsideMm, below * gi.spacing[a], above * gi.spacing[a]);
    }
  }
  if (outsideMm > 1e-3)
    throw new PsoasError(
      'BAD_ARGUMENT',
      `Mask ${maskName} does not fit image ${imageName}: it ${why}, and its labels reach ${outsideMm.toFixed(1)} mm outside the image's field of view ` +
        `(${grids}). Was the mask made on another series?`,
      { mask: gm, image: gi, outsideMm },
      maskName,
    );
  const data = resampleNearest({ geometry: gm, data: mask.data }, gi, 0);
  let after = 0;
  for (let v = 0; v < data.length; v++) if (data[v] !== 0) after++;
  const mlBefore = (labelled * voxelVolumeMm3(gm)) / 1000;
  const mlAfter = (after * voxelVolumeMm3(gi)) / 1000;
  const warnings = [
    `Mask ${maskName} ${why} (${grids}); resampled nearest-neighbour onto the image grid: labelled volume ${mlBefore.toFixed(2)} mL → ${mlAfter.toFixed(2)} mL`,
  ];
  return {
    mask: { geometry: { ...gi, dimensions: [...gi.dimensions] as Vec3 }, data, units: 'label', meta: { ...mask.meta } },
    resampled: true,
    reordered: false,
    offsetMm,
    warnings,
  };
}

/** Which of a structure → value map's labels a label map holds, and what else it holds. */
export interface LabelCensus {
  /** Voxels per value 0..255. */
  counts: Float64Array;
  /** Structures of the map without a voxel, with their values. */
  absent: Array<[string, number]>;
  /** Values (> 0) with voxels that the map does not name. */
  unnamed: number[];
}

/** The census of `data` against `map`, for the checks of a mask (--map) and of a reference (--ref-map). */
export function labelCensus(data: Uint8Array, map: Record<string, number>): LabelCensus {
  const counts = new Float64Array(256);
  for (let v = 0; v < data.length; v++) counts[data[v]]++;
  const named = new Set(Object.values(map));
  return {
    counts,
    absent: Object.entries(map).filter(([, v]) => counts[v] === 0),
    unnamed: [...counts.keys()].filter((v) => v > 0 && counts[v] > 0 && !named.has(v)),
  };
}
