/**
 * Centreline of one labelled structure and its arc length.
 *
 * Method ("slab centroids"):
 *  1. Walking axis w (unit, LPS): patient +z ('axial-centroid') unless the mask's principal axis lies more than
 *     45° from craniocaudal, then that axis ('principal-axis-centroid'; a nearly horizontal tube would make
 *     per-axial-slice centroids meaningless).
 *  2. Every mask voxel centre is projected on w: p = w·x (mm). The mask's ends along w are estimated from the
 *     lattice of those projections (see `estimateEnd`): on a standard axial stack they are the slice centres
 *     ± half the slice spacing, i.e. the boundaries of the first/last slice.
 *  3. Slabs of width h = the largest single-index step of p (the slice spacing on a standard axial stack, so
 *     slab = slice) are laid from the lower end; the centroid (LPS mm) of each non-empty slab is one curve point.
 *  4. The points are smoothed with a centred moving average of half-width `smoothingMm` along w (the window
 *     shrinks symmetrically at the ends so the end points stay put and a straight line stays straight).
 *  5. Length = arc length of the smoothed polyline plus, at each end, one of:
 *     - plane end: the distance, along the end tangent t, from the end slab's centroid to the extreme plane of w:
 *       (|w·c_end − end|) / |w·t|. For a straight cylinder of height H along z this adds half a slice at each end,
 *       so the length is H; for a tube tilted by θ it adds (half a slice)/cos θ, the true remaining axis length.
 *       Exact for ends cut by a plane perpendicular to w (a scan boundary, slice-wise annotation) and for ends
 *       tapering to a point.
 *     - axis-ray end (`axisRayEnd`): when an end is cut obliquely to w (e.g. flat and perpendicular to a tube
 *       tilted by θ), the centroids of the partial end slabs leave the axis and the plane end would overshoot by
 *       up to r·tan θ. So the curve is also continued straight from a centroid deep enough that its slab is a
 *       complete section, and the end is where that ray leaves the mask. If that exit lies on the extreme plane
 *       (within half a voxel), the plane end is kept; otherwise the ray end is used. An end touching the first /
 *       last slice of an axial stack is a plane end by construction. A ray presumes a straight end: where the
 *       centreline still bends by more than 15° just inside the ray's start, the end is curved (the psoas hooks
 *       back to the lesser trochanter: 20–52° on the phantoms), a straight ray would leave it sideways and cut
 *       the hook off (up to 11 % of the length), so the plane end is kept. The bend is measured between the ray's
 *       start and as deep again, so a structure curving by more than 15° over that stretch loses its ray ends and an
 *       obliquely cut end of it may again overshoot by up to r·tan θ.
 *
 * Measured (tests, 1 mm voxels): straight, tilted 30°, tapering and curved tubes within 0.3 % (plane ends);
 * tubes tilted 15-45° with perpendicular caps within 0.4 % (ray ends); 3 mm slices within 1 %. The phantom
 * generator's own psoas label maps against the analytic arc length: −0.30 % to +1.35 % on the 16 sides of the
 * validation and eval phantoms (`npx tsx scripts/eval-model.ts --perfect [--set val]`), and checked within 1.5 % on
 * two further phantoms (phantom-truth.test.ts).
 * Limits: the slab centroid is meaningless where one slab holds two separate pieces of the mask (a warning is
 * raised on a sideways jump > max(10 mm, 3 slabs)); a centreline turning by more than ~60° from w is not followed.
 */
import type { Vec3 } from '../core/geometry';
import type { Affine } from './grid';
import { toWorld } from './grid';
import type { LabelAccumulator } from './accumulate';

export interface IndexBox {
  min: [number, number, number];
  max: [number, number, number];
}

/** Calls fn(i, j, k) for every voxel of `label` inside the inclusive index box. */
export function forEachLabelVoxel(
  a: Affine,
  mask: Uint8Array,
  label: number,
  box: IndexBox,
  fn: (i: number, j: number, k: number) => void,
): void {
  const [nx, ny] = a.dims;
  for (let k = box.min[2]; k <= box.max[2]; k++) {
    for (let j = box.min[1]; j <= box.max[1]; j++) {
      const base = nx * (j + ny * k);
      for (let i = box.min[0]; i <= box.max[0]; i++) {
        if (mask[base + i] === label) fn(i, j, k);
      }
    }
  }
}

/** Unit eigenvector (LPS) of the largest eigenvalue of the mask's covariance in mm², and the eigenvalue ratios. */
export function principalAxis(a: Affine, q: LabelAccumulator): { axis: Vec3; elongation: number } {
  const n = q.count;
  if (n < 2) return { axis: [0, 0, 1], elongation: 1 };
  const mi = [q.s1[0] / n, q.s1[1] / n, q.s1[2] / n];
  // Index-space covariance (symmetric): order ii, jj, kk, ij, ik, jk.
  const cii = q.s2[0] / n - mi[0] * mi[0];
  const cjj = q.s2[1] / n - mi[1] * mi[1];
  const ckk = q.s2[2] / n - mi[2] * mi[2];
  const cij = q.s2[3] / n - mi[0] * mi[1];
  const cik = q.s2[4] / n - mi[0] * mi[2];
  const cjk = q.s2[5] / n - mi[1] * mi[2];
  const ci = [
    [cii, cij, cik],
    [cij, cjj, cjk],
    [cik, cjk, ckk],
  ];
  // World covariance C = M Ci Mᵀ (mm²).
  const m = a.m;
  const t = [0, 1, 2].map((r) => [0, 1, 2].map((c) => m[r][0] * ci[0][c] + m[r][1] * ci[1][c] + m[r][2] * ci[2][c]));
  const C = [0, 1, 2].map((r) => [0, 1, 2].map((c) => t[r][0] * m[c][0] + t[r][1] * m[c][1] + t[r][2] * m[c][2]));
  // Power iteration from +z (the psoas' usual axis); 200 steps is plenty for a 3x3 SPD matrix.
  let v: Vec3 = [0.01, 0.01, 1];
  let lambda = 0;
  for (let it = 0; it < 200; it++) {
    const u: Vec3 = [
      C[0][0] * v[0] + C[0][1] * v[1] + C[0][2] * v[2],
      C[1][0] * v[0] + C[1][1] * v[1] + C[1][2] * v[2],
      C[2][0] * v[0] + C[2][1] * v[1] + C[2][2] * v[2],
    ];
    const len = Math.hypot(u[0], u[1], u[2]);
    if (!(len > 0)) break;
    lambda = len;
    v = [u[0] / len, u[1] / len, u[2] / len];
  }
  const trace = C[0][0] + C[1][1] + C[2][2];
  const rest = Math.max(trace - lambda, 1e-12);
  // elongation = λ1 / mean(λ2, λ3): 1 for a ball; large for a long tube.
  return { axis: v, elongation: lambda / (rest / 2) };
}

export interface SlabBins {
  /** Unit walking axis (LPS). */
  w: Vec3;
  /** Slab width (mm along w). */
  h: number;
  /** Estimated ends of the mask along w (mm, in w·x units). */
  endLo: number;
  endHi: number;
  /** Per slab: voxel count and Σ i, Σ j, Σ k (index units). */
  n: Float64Array;
  si: Float64Array;
  sj: Float64Array;
  sk: Float64Array;
  /** Per slab, when requested: LPS x/y range (mm) of the voxel centres in it. */
  xy?: { xmin: Float64Array; xmax: Float64Array; ymin: Float64Array; ymax: Float64Array };
}

/**
 * End of a set of projections from the values within one slab width of the extreme one.
 * Projections of lattice points onto w take a discrete set of values. On a standard axial stack the extreme slice
 * holds ONE distinct value and the true surface lies on average half a step (h/2) beyond it. On a rotated lattice
 * the values within h of the extreme are many and dense, and the surface lies about (h / #distinct) / 2 beyond.
 * Both are covered by: end = extreme ∓ (h / #distinct values in [extreme, extreme ± h)) / 2.
 */
export function estimateEnd(values: number[], extreme: number, h: number, dir: 1 | -1): number {
  const v = values.slice().sort((x, y) => x - y);
  let distinct = 0;
  let prev = NaN;
  for (const x of v) {
    if (!(Math.abs(x - prev) <= 1e-6 * Math.max(1, h))) distinct++;
    prev = x;
  }
  const gap = h / Math.max(1, distinct);
  return extreme - (dir * gap) / 2;
}

/**
 * Bins the label's voxels into slabs along w. Three cheap passes over the label's bounding box only:
 * range of w·x, the values near each end (for `estimateEnd`), then per-slab sums.
 */
export function binAlong(
  a: Affine,
  mask: Uint8Array,
  label: number,
  box: IndexBox,
  w: Vec3,
  withXY: boolean,
): SlabBins {
  const m = a.m;
  // p(i,j,k) = w·origin + Σ_c (w·M col c)·index_c
  const p0 = w[0] * a.origin[0] + w[1] * a.origin[1] + w[2] * a.origin[2];
  const ci = w[0] * m[0][0] + w[1] * m[1][0] + w[2] * m[2][0];
  const cj = w[0] * m[0][1] + w[1] * m[1][1] + w[2] * m[2][1];
  const ck = w[0] * m[0][2] + w[1] * m[1][2] + w[2] * m[2][2];
  const h = Math.max(Math.abs(ci), Math.abs(cj), Math.abs(ck));
  let pMin = Infinity;
  let pMax = -Infinity;
  forEachLabelVoxel(a, mask, label, box, (i, j, k) => {
    const p = p0 + ci * i + cj * j + ck * k;
    if (p < pMin) pMin = p;
    if (p > pMax) pMax = p;
  });
  // Values strictly less than one step from each extreme (the next slice of an axial stack is excluded).
  const win = h * (1 - 1e-6);
  const lowVals: number[] = [];
  const highVals: number[] = [];
  forEachLabelVoxel(a, mask, label, box, (i, j, k) => {
    const p = p0 + ci * i + cj * j + ck * k;
    if (p < pMin + win) lowVals.push(p);
    if (p > pMax - win) highVals.push(p);
  });
  const endLo = estimateEnd(lowVals, pMin, h, 1);
  const endHi = estimateEnd(highVals, pMax, h, -1);
  const nb = Math.max(1, Math.ceil((endHi - endLo) / h - 1e-9));
  const n = new Float64Array(nb);
  const si = new Float64Array(nb);
  const sj = new Float64Array(nb);
  const sk = new Float64Array(nb);
  const xy = withXY
    ? {
        xmin: new Float64Array(nb).fill(Infinity),
        xmax: new Float64Array(nb).fill(-Infinity),
        ymin: new Float64Array(nb).fill(Infinity),
        ymax: new Float64Array(nb).fill(-Infinity),
      }
    : undefined;
  forEachLabelVoxel(a, mask, label, box, (i, j, k) => {
    const p = p0 + ci * i + cj * j + ck * k;
    let b = Math.floor((p - endLo) / h);
    if (b < 0) b = 0;
    else if (b >= nb) b = nb - 1;
    n[b]++;
    si[b] += i;
    sj[b] += j;
    sk[b] += k;
    if (xy) {
      const x = a.origin[0] + m[0][0] * i + m[0][1] * j + m[0][2] * k;
      const y = a.origin[1] + m[1][0] * i + m[1][1] * j + m[1][2] * k;
      if (x < xy.xmin[b]) xy.xmin[b] = x;
      if (x > xy.xmax[b]) xy.xmax[b] = x;
      if (y < xy.ymin[b]) xy.ymin[b] = y;
      if (y > xy.ymax[b]) xy.ymax[b] = y;
    }
  });
  return { w, h, endLo, endHi, n, si, sj, sk, xy };
}

export interface Centreline {
  /** Remarks on the mask's continuity (gaps along w, sideways jumps of the slab centroid). */
  warnings: string[];
  length_mm: number;
  /** Smoothed polyline, start (low w) to end, with the extended end points included. */
  points: Vec3[];
  endpoints: [Vec3, Vec3];
}

const sub = (p: Vec3, q: Vec3): Vec3 => [p[0] - q[0], p[1] - q[1], p[2] - q[2]];
const dist = (p: Vec3, q: Vec3): number => Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
const dotv = (p: Vec3, q: Vec3): number => p[0] * q[0] + p[1] * q[1] + p[2] * q[2];

/** Sideways jump (mm) of consecutive slab centroids above which the mask is reported as possibly fragmented. */
const JUMP_WARN_MM = 10;

/** Smallest |w·t| accepted when extending an end along its tangent (tangent within ~78° of w). */
const MIN_TANGENT_COSINE = 0.2;

/** Builds the smoothed centreline and its length from slab bins (see the file comment). */
export interface EndOptions {
  /**
   * Inside test of the mask at an LPS point (mm), for the axis-ray end search. Without it (or for an end marked
   * 'plane') the end is taken on the extreme plane of w, as for a scan boundary.
   */
  inside?: (p: Vec3) => boolean;
  /** Ends known to be cut by a slab plane (the mask touches the first/last slice of an axial stack). */
  planeLo?: boolean;
  planeHi?: boolean;
}

export function centrelineFromBins(a: Affine, bins: SlabBins, smoothingMm: number, endOpts: EndOptions = {}): Centreline {
  const { w, h } = bins;
  const raw: Vec3[] = [];
  const rawN: number[] = [];
  const warnings: string[] = [];
  let prevBin = -1;
  let worstJump = 0;
  let worstJumpAt = 0;
  for (let b = 0; b < bins.n.length; b++) {
    const n = bins.n[b];
    if (n === 0) continue;
    const p = toWorld(a, bins.si[b] / n, bins.sj[b] / n, bins.sk[b] / n);
    if (prevBin >= 0) {
      if (b - prevBin > 1) {
        const lo = bins.endLo + (prevBin + 1) * h;
        warnings.push(
          `mask has a gap of ${((b - prevBin - 1) * h).toFixed(1)} mm along the centreline ` +
            `(${lo.toFixed(1)} to ${(lo + (b - prevBin - 1) * h).toFixed(1)} mm): bridged by a straight segment`,
        );
      }
      // Sideways (perpendicular to w) jump of the slab centroid.
      const d = sub(p, raw[raw.length - 1]);
      const along = dotv(d, w);
      const side = Math.sqrt(Math.max(0, dotv(d, d) - along * along));
      if (side > worstJump) {
        worstJump = side;
        worstJumpAt = bins.endLo + b * h;
      }
    }
    raw.push(p);
    rawN.push(n);
    prevBin = b;
  }
  // A muscle's centroid drifts a few mm per slab at most; a larger sideways jump means a second blob in that slab.
  if (worstJump > Math.max(JUMP_WARN_MM, 3 * h)) {
    warnings.push(
      `centreline jumps ${worstJump.toFixed(1)} mm sideways at ${worstJumpAt.toFixed(1)} mm: ` +
        'the mask may hold more than one component; length is unreliable',
    );
  }
  const M = raw.length;
  if (M === 0) return { warnings, length_mm: 0, points: [], endpoints: [[0, 0, 0], [0, 0, 0]] };
  const K = smoothingMm > 0 ? Math.max(1, Math.round(smoothingMm / h)) : 0;
  const sm: Vec3[] = raw.map((_, idx) => {
    const k = Math.min(K, idx, M - 1 - idx);
    const acc: Vec3 = [0, 0, 0];
    for (let d = -k; d <= k; d++) {
      const p = raw[idx + d];
      acc[0] += p[0];
      acc[1] += p[1];
      acc[2] += p[2];
    }
    const c = 2 * k + 1;
    return [acc[0] / c, acc[1] / c, acc[2] / c];
  });
  let arc = 0;
  for (let idx = 1; idx < M; idx++) arc += dist(sm[idx], sm[idx - 1]);
  // End tangents over about one smoothing half-width (at least one slab) to be robust to voxel noise.
  const span = Math.max(1, Math.min(Math.max(K, 1), M - 1));
  const tangent = (from: Vec3, to: Vec3): Vec3 => {
    const d = sub(to, from);
    const len = Math.hypot(d[0], d[1], d[2]);
    return len > 0 ? [d[0] / len, d[1] / len, d[2] / len] : w;
  };
  const tLo: Vec3 = M > 1 ? tangent(sm[span], sm[0]) : [-w[0], -w[1], -w[2]]; // points outwards (towards low w)
  const tHi: Vec3 = M > 1 ? tangent(sm[M - 1 - span], sm[M - 1]) : w;
  const extLo = Math.max(0, dotv(w, sm[0]) - bins.endLo) / Math.max(Math.abs(dotv(w, tLo)), MIN_TANGENT_COSINE);
  const extHi = Math.max(0, bins.endHi - dotv(w, sm[M - 1])) / Math.max(Math.abs(dotv(w, tHi)), MIN_TANGENT_COSINE);
  const start: Vec3 = [sm[0][0] + tLo[0] * extLo, sm[0][1] + tLo[1] * extLo, sm[0][2] + tLo[2] * extLo];
  const last = sm[M - 1];
  const end: Vec3 = [last[0] + tHi[0] * extHi, last[1] + tHi[1] * extHi, last[2] + tHi[2] * extHi];
  const planeResult: Centreline = {
    warnings,
    length_mm: arc + extLo + extHi,
    points: [start, ...sm, end],
    endpoints: [start, end],
  };
  if (!endOpts.inside || M < 3) return planeResult;

  // --- axis-ray ends (see file comment) ---
  // Largest slab cross-section (mm² across w) gives an upper bound of the tube radius R.
  let maxN = 0;
  for (const n of rawN) maxN = Math.max(maxN, n);
  const slabArea = (maxN * a.voxelMm3) / h;
  const rayLo = endOpts.planeLo ? null : axisRayEnd(a, sm, w, bins.endLo, 1, slabArea, smoothingMm, h, span, endOpts.inside);
  const rayHi = endOpts.planeHi ? null : axisRayEnd(a, sm, w, bins.endHi, -1, slabArea, smoothingMm, h, span, endOpts.inside);
  if (!rayLo && !rayHi) return planeResult;
  const qLo = rayLo ? rayLo.index : 0;
  const qHi = rayHi ? rayHi.index : M - 1;
  if (qHi <= qLo) return planeResult;
  let arcMid = 0;
  for (let idx = qLo + 1; idx <= qHi; idx++) arcMid += dist(sm[idx], sm[idx - 1]);
  const s0 = rayLo ? rayLo.exit : start;
  const s1 = rayHi ? rayHi.exit : end;
  const lenLo = rayLo ? dist(rayLo.exit, sm[qLo]) : extLo;
  const lenHi = rayHi ? dist(rayHi.exit, sm[qHi]) : extHi;
  return {
    warnings,
    length_mm: lenLo + arcMid + lenHi,
    points: [s0, ...sm.slice(qLo, qHi + 1), s1],
    endpoints: [s0, s1],
  };
}

/** Bend (degrees) of the centreline just inside an end above which the end counts as curved (see axisRayEnd). */
const CURVED_END_DEG = 15;

/**
 * Where the centreline, continued straight from a point well inside the mask, leaves the mask.
 * Start point: the first smoothed centroid deeper (along w) than D = 2·R·tan θ + smoothing + h, beyond which slabs
 * are complete cross-sections even if the end is cut obliquely (θ = angle between the local tangent and w). The ray
 * is marched at 1/8 of the smallest voxel step; the end is the farthest sample inside the mask (robust to holes).
 * Returns null when the ray leaves the mask within half a voxel (along w) of the extreme plane: then the end IS
 * that plane (scan boundary, slice-wise annotation) and the plane end, which is not subject to single-ray voxel
 * noise, is kept.
 */
function axisRayEnd(
  a: Affine,
  sm: Vec3[],
  w: Vec3,
  endPlane: number,
  side: 1 | -1,
  slabArea: number,
  smoothingMm: number,
  h: number,
  span: number,
  inside: (p: Vec3) => boolean,
): { index: number; exit: Vec3 } | null {
  const M = sm.length;
  const depth = (idx: number) => side * (dotv(w, sm[idx]) - endPlane);
  const at = (n: number) => (side === 1 ? n : M - 1 - n); // n-th point counted from this end
  const outward = (n: number): Vec3 => {
    const p = sm[at(n)];
    const q = sm[at(Math.min(n + span, M - 1))];
    const d = sub(p, q);
    const len = Math.hypot(d[0], d[1], d[2]);
    return len > 0 ? [d[0] / len, d[1] / len, d[2] / len] : [-side * w[0], -side * w[1], -side * w[2]];
  };
  let n = 0;
  let t = outward(0);
  for (let pass = 0; pass < 3; pass++) {
    const cos = Math.max(Math.abs(dotv(t, w)), MIN_TANGENT_COSINE);
    const tan = Math.sqrt(Math.max(0, 1 - cos * cos)) / cos;
    const R = Math.sqrt((slabArea * cos) / Math.PI);
    const D = 2 * R * tan + smoothingMm + h;
    let m = 0;
    while (m < M - 1 && depth(at(m)) < D) m++;
    if (m >= M - 1 - span) return null; // structure too short for an interior start
    if (m === n && pass > 0) break;
    n = m;
    t = outward(n);
  }
  // The ray continues a straight stretch; where the centreline still bends just inside the ray's start (more than
  // CURVED_END_DEG between the directions there and one ray-start depth deeper), the end is curved, not an oblique
  // cut of a straight tube, and the plane end is kept.
  const deeper = Math.min(M - 1 - span, n + Math.max(span, n));
  if (deeper > n) {
    const t2 = outward(deeper);
    if (Math.acos(Math.min(1, dotv(t, t2))) > (CURVED_END_DEG * Math.PI) / 180) return null;
  }
  const P = sm[at(n)];
  const step = Math.min(...a.m.map((_, c) => Math.hypot(a.m[0][c], a.m[1][c], a.m[2][c]))) / 8;
  const cos = Math.max(Math.abs(dotv(t, w)), MIN_TANGENT_COSINE);
  const maxLen = (depth(at(n)) + h) / cos + 4 * h + 2 * Math.sqrt(slabArea / Math.PI);
  let last = -1;
  for (let s = 0; s <= maxLen; s += step) {
    if (inside([P[0] + t[0] * s, P[1] + t[1] * s, P[2] + t[2] * s])) last = s;
  }
  if (last < 0) return null;
  const len = last + step / 2;
  const exit: Vec3 = [P[0] + t[0] * len, P[1] + t[1] * len, P[2] + t[2] * len];
  // Half the voxel's extent along w: how far a plane end can be from where a single ray leaves the voxel union.
  const hw = 0.5 * [0, 1, 2].reduce((acc, c) => acc + Math.abs(w[0] * a.m[0][c] + w[1] * a.m[1][c] + w[2] * a.m[2][c]), 0);
  if (side * (dotv(w, exit) - endPlane) <= hw + step) return null;
  return { index: at(n), exit };
}
