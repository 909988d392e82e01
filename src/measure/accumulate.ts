/**
 * Pass 1: ONE pass over the whole label map (and the CT where given), for several labels at once.
 * Memory: per label a few arrays of length nz (slices) and scalars; never a full-size copy.
 * Coordinates accumulated here are voxel indices (i, j, k); conversion to LPS mm happens afterwards
 * (the index → LPS map is affine, so centroids and covariances transform exactly).
 */
import type { VoxelArray } from '../core/volume';
import type { Affine } from './grid';

export interface LabelAccumulator {
  label: number;
  count: number;
  /** Index bounding box, inclusive. */
  min: [number, number, number];
  max: [number, number, number];
  /** Σ i, Σ j, Σ k and second moments Σ ii, Σ jj, Σ kk, Σ ij, Σ ik, Σ jk (index units). */
  s1: Float64Array;
  s2: Float64Array;
  /** Lowest / highest patient z (mm) of a mask voxel CENTRE. */
  zcMin: number;
  zcMax: number;
  /** Per slice k: voxel count, Σ HU, Σ HU within the window, count within the window. */
  sliceCount: Float64Array;
  sliceHu: Float64Array;
  sliceWinHu: Float64Array;
  sliceWinCount: Float64Array;
  huSum: number;
  winHuSum: number;
  winCount: number;
}

function newAccumulator(label: number, nz: number): LabelAccumulator {
  return {
    label,
    count: 0,
    min: [Infinity, Infinity, Infinity],
    max: [-Infinity, -Infinity, -Infinity],
    s1: new Float64Array(3),
    s2: new Float64Array(6),
    zcMin: Infinity,
    zcMax: -Infinity,
    sliceCount: new Float64Array(nz),
    sliceHu: new Float64Array(nz),
    sliceWinHu: new Float64Array(nz),
    sliceWinCount: new Float64Array(nz),
    huSum: 0,
    winHuSum: 0,
    winCount: 0,
  };
}

/**
 * Accumulates per-label statistics in one pass over `mask` (and `hu`, same grid, may be null).
 * Labels not listed are ignored. Per-row moments are summed in local variables first (cheap inner loop).
 */
export function accumulateLabels(
  a: Affine,
  mask: Uint8Array,
  hu: VoxelArray | null,
  labels: number[],
  huWindow: [number, number],
): LabelAccumulator[] {
  const [nx, ny, nz] = a.dims;
  const slot = new Int16Array(256).fill(-1);
  const acc = labels.map((l, n) => {
    slot[l] = n;
    return newAccumulator(l, nz);
  });
  const [wlo, whi] = huWindow;
  const oz = a.origin[2];
  const [zi, zj, zk] = a.m[2];
  // Per-row scratch per slot: count, Σi, Σii (j and k are constant along a row).
  const L = acc.length;
  const rowN = new Float64Array(L);
  const rowI = new Float64Array(L);
  const rowII = new Float64Array(L);
  const rowImin = new Float64Array(L);
  const rowImax = new Float64Array(L);
  // 32-bit view of the label map (when aligned) to test 4 voxels per read.
  const words =
    mask.byteOffset % 4 === 0 && nx % 4 === 0 ? new Uint32Array(mask.buffer, mask.byteOffset, mask.length >> 2) : null;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const base = nx * (j + ny * k);
      let any = false;
      // Start of the row: with a 32-bit view, jump over whole background words (labels are sparse: the psoas
      // is < 0.5 % of a CT) to the first word holding a label; the byte loop below then runs from there.
      let i0 = 0;
      if (words !== null) {
        let wi = base >> 2;
        const wEnd = (base + nx) >> 2;
        while (wi < wEnd && words[wi] === 0) wi++;
        if (wi === wEnd) continue;
        i0 = (wi << 2) - base;
      }
      for (let i = i0; i < nx; i++) {
        const p = base + i;
        const v = mask[p];
        if (v === 0) continue;
        const s = slot[v];
        if (s < 0) continue;
        if (rowN[s] === 0) rowImin[s] = i;
        rowImax[s] = i;
        rowN[s]++;
        rowI[s] += i;
        rowII[s] += i * i;
        any = true;
        const q = acc[s];
        if (hu !== null) {
          const h = hu[base + i];
          q.sliceHu[k] += h;
          if (h >= wlo && h <= whi) {
            q.sliceWinHu[k] += h;
            q.sliceWinCount[k]++;
          }
        }
      }
      if (!any) continue;
      for (let s = 0; s < L; s++) {
        const n = rowN[s];
        if (n === 0) continue;
        const q = acc[s];
        q.count += n;
        q.sliceCount[k] += n;
        q.s1[0] += rowI[s];
        q.s1[1] += n * j;
        q.s1[2] += n * k;
        q.s2[0] += rowII[s];
        q.s2[1] += n * j * j;
        q.s2[2] += n * k * k;
        q.s2[3] += rowI[s] * j;
        q.s2[4] += rowI[s] * k;
        q.s2[5] += n * j * k;
        if (rowImin[s] < q.min[0]) q.min[0] = rowImin[s];
        if (rowImax[s] > q.max[0]) q.max[0] = rowImax[s];
        if (j < q.min[1]) q.min[1] = j;
        if (j > q.max[1]) q.max[1] = j;
        if (k < q.min[2]) q.min[2] = k;
        if (k > q.max[2]) q.max[2] = k;
        // z of a voxel centre is affine in i along the row: extremes at the row's first/last mask voxel.
        const z0 = oz + zj * j + zk * k;
        const za = z0 + zi * rowImin[s];
        const zb = z0 + zi * rowImax[s];
        const zlo = Math.min(za, zb);
        const zhi = Math.max(za, zb);
        if (zlo < q.zcMin) q.zcMin = zlo;
        if (zhi > q.zcMax) q.zcMax = zhi;
        rowN[s] = 0;
        rowI[s] = 0;
        rowII[s] = 0;
      }
    }
  }
  for (const q of acc) {
    for (let k = 0; k < nz; k++) {
      q.huSum += q.sliceHu[k];
      q.winHuSum += q.sliceWinHu[k];
      q.winCount += q.sliceWinCount[k];
    }
  }
  return acc;
}
