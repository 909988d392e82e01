/**
 * Label-map post-processing on typed arrays (i fastest, linear index i + nx*(j + ny*k)):
 * argmax, 3D connected components (union-find, 6- or 26-connectivity), largest component per label,
 * hole filling per label (3D, or per k-slice in 2D), minimum component size, bounding boxes.
 */
import { PsoasError } from '../core/errors';
import { boundingBoxWhere, type Vec3 } from '../core/geometry';

export type Connectivity = 6 | 26;

/** Index of the largest score per voxel (ties → lowest channel). `scores` channel-major: c*n + v. */
export function argmax(scores: ArrayLike<number>, channels: number, n: number, out = new Uint8Array(n)): Uint8Array {
  if (scores.length < channels * n)
    throw new PsoasError('BAD_ARGUMENT', `argmax: ${scores.length} scores for ${channels} channels x ${n} voxels`, scores.length);
  if (channels > 256) throw new PsoasError('BAD_ARGUMENT', `argmax: ${channels} channels do not fit a Uint8 label map`, channels);
  for (let v = 0; v < n; v++) {
    let best = 0;
    let bv = scores[v];
    for (let c = 1; c < channels; c++) {
      const s = scores[c * n + v];
      if (s > bv) {
        bv = s;
        best = c;
      }
    }
    out[v] = best;
  }
  return out;
}

/** Backward neighbour offsets (dx, dy, dz) for a raster scan: the half of the neighbourhood already visited. */
function backwardOffsets(connectivity: Connectivity): Vec3[] {
  const out: Vec3[] = [];
  for (let dz = -1; dz <= 0; dz++)
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        if (dz === 0 && (dy > 0 || (dy === 0 && dx >= 0))) continue;
        const manhattan = Math.abs(dx) + Math.abs(dy) + Math.abs(dz);
        if (connectivity === 6 && manhattan !== 1) continue;
        out.push([dx, dy, dz]);
      }
  return out;
}

export interface Components {
  /** Component id per voxel (1..count), 0 where the voxel is not `value`. */
  ids: Int32Array;
  /** sizes[id] = voxel count of component id (sizes[0] = 0). */
  sizes: Int32Array;
  count: number;
}

/** Connected components of the voxels equal to `value` (two-pass union-find). */
export function connectedComponents(labels: ArrayLike<number>, dims: Vec3, value: number, connectivity: Connectivity = 26): Components {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (labels.length !== n) throw new PsoasError('BAD_ARGUMENT', `connectedComponents: ${labels.length} labels for dims ${dims.join('x')}`, labels.length);
  if (connectivity !== 6 && connectivity !== 26)
    throw new PsoasError('BAD_ARGUMENT', `connectivity must be 6 or 26 (got ${connectivity})`, connectivity);
  const offs = backwardOffsets(connectivity);
  const ids = new Int32Array(n);
  let parent = new Int32Array(1024);
  let next = 1;
  const find = (a: number): number => {
    let r = a;
    while (parent[r] !== r) r = parent[r];
    while (parent[a] !== r) {
      const p = parent[a];
      parent[a] = r;
      a = p;
    }
    return r;
  };
  for (let z = 0, v = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++, v++) {
        if (labels[v] !== value) continue;
        let root = 0;
        for (let o = 0; o < offs.length; o++) {
          const [dx, dy, dz] = offs[o];
          const xx = x + dx;
          const yy = y + dy;
          const zz = z + dz;
          if (xx < 0 || xx >= nx || yy < 0 || zz < 0) continue; // dy<=1 may exceed ny only when dz<0
          if (yy >= ny) continue;
          const id = ids[xx + nx * (yy + ny * zz)];
          if (id === 0) continue;
          const r = find(id);
          if (root === 0) root = r;
          else if (r !== root) {
            // union: attach the larger id under the smaller one
            if (r < root) {
              parent[root] = r;
              root = r;
            } else parent[r] = root;
          }
        }
        if (root === 0) {
          if (next >= parent.length) {
            const grown = new Int32Array(parent.length * 2);
            grown.set(parent);
            parent = grown;
          }
          parent[next] = next;
          root = next++;
        }
        ids[v] = root;
      }
  // Resolve to consecutive final ids.
  const final = new Int32Array(next);
  let count = 0;
  for (let p = 1; p < next; p++) {
    const r = find(p);
    if (final[r] === 0) final[r] = ++count;
    final[p] = final[r];
  }
  const sizes = new Int32Array(count + 1);
  for (let v = 0; v < n; v++) {
    const id = ids[v];
    if (id !== 0) {
      const f = final[id];
      ids[v] = f;
      sizes[f]++;
    }
  }
  return { ids, sizes, count };
}

/**
 * Keeps only the largest connected component of `value` (ties → the first in raster order); other components
 * become `background`. Modifies `labels` in place; returns the number of voxels removed.
 */
export function keepLargestComponent(labels: Uint8Array, dims: Vec3, value: number, connectivity: Connectivity = 26, background = 0): number {
  return keepMainComponents(labels, dims, value, [0, 0, 0], connectivity, background);
}

/**
 * Box dilation of a binary mask (1 = set) by r[a] voxels along each axis a, separable: per line, each voxel takes
 * the distance to the nearest set voxel before and after it. O(n) per axis whatever the radius.
 */
export function dilateBox(mask: Uint8Array, dims: Vec3, r: Vec3): Uint8Array {
  const [nx, ny, nz] = dims;
  if (mask.length !== nx * ny * nz) throw new PsoasError('BAD_ARGUMENT', `dilateBox: ${mask.length} voxels for dims ${dims.join('x')}`, mask.length);
  let cur = mask;
  const strides = [1, nx, nx * ny];
  for (let a = 0; a < 3; a++) {
    const ra = r[a];
    if (!(ra > 0)) continue;
    const len = dims[a];
    const st = strides[a];
    const out = new Uint8Array(cur.length);
    const [o1, o2] = [0, 1, 2].filter((x) => x !== a);
    for (let u = 0; u < dims[o1]; u++)
      for (let w = 0; w < dims[o2]; w++) {
        const base = u * strides[o1] + w * strides[o2]; // the line along axis a through (u, w)
        let last = -Infinity; // index along the line of the last set voxel seen (forward), then (backward)
        for (let t = 0; t < len; t++) {
          if (cur[base + t * st]) last = t;
          if (t - last <= ra) out[base + t * st] = 1;
        }
        last = Infinity;
        for (let t = len - 1; t >= 0; t--) {
          if (cur[base + t * st]) last = t;
          if (last - t <= ra) out[base + t * st] = 1;
        }
      }
    cur = out;
  }
  return cur === mask ? mask.slice() : cur;
}

/**
 * Keeps the main body of label `value`: its connected components are grouped when the background gap between
 * them is at most 2*gap[a] voxels along every axis a (both are dilated by gap[a] and the dilations touch), and the
 * group holding the most voxels of `value` is kept; the rest become `background`. With gap [0,0,0] the groups are
 * the components (keepLargestComponent). Why: a muscle the network split with a thin gap (one faint slice) is one muscle, while a
 * false positive centimetres away in another organ is not. In place; returns the number of voxels removed.
 */
export function keepMainComponents(
  labels: Uint8Array,
  dims: Vec3,
  value: number,
  gap: Vec3,
  connectivity: Connectivity = 26,
  background = 0,
): number {
  // Groups: the components themselves, or the components of the dilated mask; own[g] = voxels of `value` in g.
  let ids: Int32Array;
  let own: Int32Array;
  let count: number;
  if (!gap.some((g) => g > 0)) ({ ids, sizes: own, count } = connectedComponents(labels, dims, value, connectivity));
  else {
    const mask = new Uint8Array(labels.length);
    for (let v = 0; v < labels.length; v++) if (labels[v] === value) mask[v] = 1;
    ({ ids, count } = connectedComponents(dilateBox(mask, dims, gap), dims, 1, connectivity));
    own = new Int32Array(count + 1);
    for (let v = 0; v < labels.length; v++) if (mask[v]) own[ids[v]]++;
  }
  if (count <= 1) return 0;
  let best = 1; // ties → the first in raster order
  for (let c = 2; c <= count; c++) if (own[c] > own[best]) best = c;
  let removed = 0;
  for (let v = 0; v < labels.length; v++)
    if (labels[v] === value && ids[v] !== best) {
      labels[v] = background;
      removed++;
    }
  return removed;
}

/** Removes components of `value` smaller than `minVoxels`. In place; returns the number of voxels removed. */
export function removeSmallComponents(
  labels: Uint8Array,
  dims: Vec3,
  value: number,
  minVoxels: number,
  connectivity: Connectivity = 26,
  background = 0,
): number {
  if (!(minVoxels > 1)) return 0;
  const { ids, sizes } = connectedComponents(labels, dims, value, connectivity);
  let removed = 0;
  for (let v = 0; v < labels.length; v++) {
    const id = ids[v];
    if (id !== 0 && sizes[id] < minVoxels) {
      labels[v] = background;
      removed++;
    }
  }
  return removed;
}

/**
 * Fills holes of label `value`: voxels equal to `background` that cannot reach the array border without crossing
 * `value` become `value`. Other labels are never overwritten (but do not block the flood: a hole is only a hole
 * if it is enclosed by `value`).
 * - '3d': flood from the whole volume border through non-`value` voxels with 6-connectivity (the complement of a
 *   26-connected object). Only fully enclosed cavities fill.
 * - 'slice': the same in 2D within each k-slice (4-connectivity from the slice border). For an axial series this
 *   fills holes in each cross-section (what the CSA sees) even when the hole is open in z.
 * Modifies `labels` in place; returns the number of voxels filled.
 */
export function fillHoles(labels: Uint8Array, dims: Vec3, value: number, mode: '3d' | 'slice' = '3d', background = 0): number {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (labels.length !== n) throw new PsoasError('BAD_ARGUMENT', `fillHoles: ${labels.length} labels for dims ${dims.join('x')}`, labels.length);
  const reached = new Uint8Array(n);
  const plane = nx * ny;
  const queue = new Int32Array(mode === '3d' ? n : plane);
  let filled = 0;
  const run = (k0: number, k1: number, is3d: boolean) => {
    let head = 0;
    let tail = 0;
    const push = (v: number) => {
      if (!reached[v] && labels[v] !== value) {
        reached[v] = 1;
        queue[tail++] = v;
      }
    };
    // Seeds: every border voxel (of the volume, or of the slice's 2D frame).
    for (let k = k0; k < k1; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const border = i === 0 || i === nx - 1 || j === 0 || j === ny - 1 || (is3d && (k === 0 || k === nz - 1));
          if (border) push(i + nx * (j + ny * k));
          else if (i === 1 && nx > 2) i = nx - 2; // jump to the last column
        }
    while (head < tail) {
      const v = queue[head++];
      const i = v % nx;
      const r = (v - i) / nx; // = j + ny*k, exact integer
      const j = r % ny;
      const k = (r - j) / ny;
      if (i > 0) push(v - 1);
      if (i < nx - 1) push(v + 1);
      if (j > 0) push(v - nx);
      if (j < ny - 1) push(v + nx);
      if (is3d) {
        if (k > 0) push(v - plane);
        if (k < nz - 1) push(v + plane);
      }
    }
    for (let v = k0 * plane; v < k1 * plane; v++)
      if (!reached[v] && labels[v] === background) {
        labels[v] = value;
        filled++;
      }
  };
  if (mode === '3d') run(0, nz, true);
  else for (let k = 0; k < nz; k++) run(k, k + 1, false);
  return filled;
}

/** Bounding box [lo, hi) (hi exclusive, voxel indices) of voxels where labels != 0; null when there are none. */
export function boundingBox(labels: ArrayLike<number>, dims: Vec3): { lo: Vec3; hi: Vec3 } | null {
  return boundingBoxWhere(dims, (v) => labels[v] !== 0);
}

export interface PostprocessOptions {
  /** Foreground label values to process (e.g. [1, 2]). */
  labels: number[];
  largestComponent: boolean;
  /** With largestComponent: pieces within this many voxels (per axis, see keepMainComponents) stay with it. */
  componentGapVoxels?: Vec3;
  fillHoles: boolean;
  fillHolesMode?: '3d' | 'slice';
  /** Components smaller than this (voxels) are removed; 0 = keep all. */
  minSizeVoxels: number;
  connectivity?: Connectivity;
}

export interface PostprocessReport {
  label: number;
  removedByLargestComponent: number;
  filledHoles: number;
  removedSmall: number;
  finalVoxels: number;
}

/**
 * Per label, in this order: largest connected component → hole filling → minimum size.
 * (Min size after filling so that a muscle counted with its filled holes passes/fails as a whole.)
 */
export function postprocessLabels(labels: Uint8Array, dims: Vec3, opts: PostprocessOptions): PostprocessReport[] {
  const conn = opts.connectivity ?? 26;
  const count = (value: number) => {
    let c = 0;
    for (let v = 0; v < labels.length; v++) if (labels[v] === value) c++;
    return c;
  };
  return opts.labels.map((value) => {
    const removedByLargestComponent = opts.largestComponent
      ? keepMainComponents(labels, dims, value, opts.componentGapVoxels ?? [0, 0, 0], conn)
      : 0;
    const filledHoles = opts.fillHoles ? fillHoles(labels, dims, value, opts.fillHolesMode ?? '3d') : 0;
    let removedSmall = 0;
    if (opts.largestComponent) {
      // One component (or one group of nearby pieces) left: it passes or fails the size test as a whole.
      const size = count(value);
      if (size > 0 && size < opts.minSizeVoxels) {
        for (let v = 0; v < labels.length; v++) if (labels[v] === value) labels[v] = 0;
        removedSmall = size;
      }
    } else removedSmall = removeSmallComponents(labels, dims, value, opts.minSizeVoxels, conn);
    return { label: value, removedByLargestComponent, filledHoles, removedSmall, finalVoxels: count(value) };
  });
}
