/**
 * Analytic shapes for the phantom, all in the phantom's ANATOMY frame: LPS axes, millimetres
 * (+x = patient's left, +y = posterior, +z = superior). The generator translates the anatomy frame to patient
 * LPS by a constant offset, so directions are the same.
 *
 * Every shape gives:
 * - `sdf(x, y, z)`: an approximate signed distance in mm, negative inside. Its SIGN is exact (it decides the
 *   label: voxel centre inside ⇔ sdf < 0); its magnitude is accurate near the surface, which is all the
 *   partial-volume blending needs.
 * - `boxes`: axis-aligned boxes (anatomy mm) whose union contains the shape; the generator uses them to visit
 *   only the voxels that can be inside (per-slice bounding rectangles), instead of every voxel.
 */
import type { Vec3 } from '../geometry';

export interface Box {
  min: Vec3;
  max: Vec3;
}

export interface Shape {
  sdf(x: number, y: number, z: number): number;
  boxes: Box[];
  /**
   * Safety factor in [0, 1]: the true distance to the surface is at least `lip * |sdf|` (0 = unknown). The
   * generator uses it to skip along a row of voxels far from the surface (sphere tracing) without evaluating.
   */
  lip?: number;
  /** Same bound for points inside the shape (thin shapes need a much smaller one); default `lip`. */
  lipIn?: number;
}

const lipOf = (s: Shape) => s.lip ?? 0;
const lipInOf = (s: Shape) => s.lipIn ?? s.lip ?? 0;

/** 3x3 rotation, row-major here (r[0..2] = first row): local = R^T (p - c) uses the columns as local axes. */
export type Rot = [number, number, number, number, number, number, number, number, number];

/** Rotation matrix (columns = rotated x, y, z axes) for a rotation of `deg` degrees about unit `axis`. */
export function axisAngle(axis: Vec3, deg: number): Rot {
  const n = Math.hypot(axis[0], axis[1], axis[2]);
  const [x, y, z] = [axis[0] / n, axis[1] / n, axis[2] / n];
  const t = (deg * Math.PI) / 180;
  const c = Math.cos(t);
  const s = Math.sin(t);
  const C = 1 - c;
  // row-major
  return [
    c + x * x * C, x * y * C - z * s, x * z * C + y * s,
    y * x * C + z * s, c + y * y * C, y * z * C - x * s,
    z * x * C - y * s, z * y * C + x * s, c + z * z * C,
  ];
}

export function rotApply(r: Rot, v: Vec3): Vec3 {
  return [
    r[0] * v[0] + r[1] * v[1] + r[2] * v[2],
    r[3] * v[0] + r[4] * v[1] + r[5] * v[2],
    r[6] * v[0] + r[7] * v[1] + r[8] * v[2],
  ];
}

export function rotMul(a: Rot, b: Rot): Rot {
  const o = new Array(9).fill(0) as Rot;
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += a[3 * i + k] * b[3 * k + j];
      o[3 * i + j] = s;
    }
  return o;
}

const ID_ROT: Rot = [1, 0, 0, 0, 1, 0, 0, 0, 1];

function boxUnion(boxes: Box[]): Box {
  const min: Vec3 = [Infinity, Infinity, Infinity];
  const max: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const b of boxes)
    for (let a = 0; a < 3; a++) {
      min[a] = Math.min(min[a], b.min[a]);
      max[a] = Math.max(max[a], b.max[a]);
    }
  return { min, max };
}

function boxIntersect(a: Box, b: Box): Box | null {
  const min: Vec3 = [0, 0, 0];
  const max: Vec3 = [0, 0, 0];
  for (let i = 0; i < 3; i++) {
    min[i] = Math.max(a.min[i], b.min[i]);
    max[i] = Math.min(a.max[i], b.max[i]);
    if (min[i] > max[i]) return null;
  }
  return { min, max };
}

/** Approximate distance to an ellipse/ellipsoid boundary from scaled coordinates (Quilez' k0(k0-1)/k1). */
function ellipsoidDist(qx: number, qy: number, qz: number, a: number, b: number, c: number): number {
  const xa = qx / a, yb = qy / b, zc = qz / c;
  const k0 = Math.sqrt(xa * xa + yb * yb + zc * zc);
  const xa2 = xa / a, yb2 = yb / b, zc2 = zc / c;
  const k1 = Math.sqrt(xa2 * xa2 + yb2 * yb2 + zc2 * zc2);
  if (k1 === 0) return -Math.min(a, b, c);
  return (k0 * (k0 - 1)) / k1;
}

function ellipseDist(qx: number, qy: number, a: number, b: number): number {
  const xa = qx / a, yb = qy / b;
  const k0 = Math.sqrt(xa * xa + yb * yb);
  const xa2 = xa / a, yb2 = yb / b;
  const k1 = Math.sqrt(xa2 * xa2 + yb2 * yb2);
  if (k1 === 0) return -Math.min(a, b);
  return (k0 * (k0 - 1)) / k1;
}

/** Ellipsoid with semi-axes `semi` (mm) along the columns of `rot` (default: x, y, z). */
export function ellipsoid(center: Vec3, semi: Vec3, rot: Rot = ID_ROT): Shape {
  const [cx, cy, cz] = center;
  const [a, b, c] = semi;
  const r = rot;
  const half: Vec3 = [0, 0, 0];
  for (let i = 0; i < 3; i++) half[i] = Math.hypot(r[3 * i] * a, r[3 * i + 1] * b, r[3 * i + 2] * c);
  return {
    sdf(x, y, z) {
      const dx = x - cx;
      const dy = y - cy;
      const dz = z - cz;
      // local = R^T d (columns of R are the local axes)
      const lx = r[0] * dx + r[3] * dy + r[6] * dz;
      const ly = r[1] * dx + r[4] * dy + r[7] * dz;
      const lz = r[2] * dx + r[5] * dy + r[8] * dz;
      return ellipsoidDist(lx, ly, lz, a, b, c);
    },
    boxes: [{ min: [cx - half[0], cy - half[1], cz - half[2]], max: [cx + half[0], cy + half[1], cz + half[2]] }],
    lip: 0.5,
    lipIn: (0.7 * Math.min(a, b, c)) / Math.max(a, b, c),
  };
}

/** Box with half-sizes `half` (mm) along the columns of `rot`, exact signed distance. */
export function box(center: Vec3, half: Vec3, rot: Rot = ID_ROT): Shape {
  const [cx, cy, cz] = center;
  const r = rot;
  const ext: Vec3 = [0, 0, 0];
  for (let i = 0; i < 3; i++)
    ext[i] = Math.abs(r[3 * i] * half[0]) + Math.abs(r[3 * i + 1] * half[1]) + Math.abs(r[3 * i + 2] * half[2]);
  return {
    sdf(x, y, z) {
      const dx = x - cx;
      const dy = y - cy;
      const dz = z - cz;
      const qx = Math.abs(r[0] * dx + r[3] * dy + r[6] * dz) - half[0];
      const qy = Math.abs(r[1] * dx + r[4] * dy + r[7] * dz) - half[1];
      const qz = Math.abs(r[2] * dx + r[5] * dy + r[8] * dz) - half[2];
      const ox = qx > 0 ? qx : 0, oy = qy > 0 ? qy : 0, oz = qz > 0 ? qz : 0;
      const out = Math.sqrt(ox * ox + oy * oy + oz * oz);
      const m = qx > qy ? (qx > qz ? qx : qz) : qy > qz ? qy : qz;
      return out + (m < 0 ? m : 0);
    },
    boxes: [{ min: [cx - ext[0], cy - ext[1], cz - ext[2]], max: [cx + ext[0], cy + ext[1], cz + ext[2]] }],
    lip: 0.95,
  };
}

/** Knot of a z-varying elliptic cylinder: at height z (mm), centre (cx, cy) and semi-axes a (x), b (y). */
export interface ZKnot {
  z: number;
  cx: number;
  cy: number;
  a: number;
  b: number;
}

/**
 * Elliptic cylinder along z whose centre and semi-axes vary smoothly with z (body outline, spinal canal,
 * paraspinal muscles, vertebral bodies). Knots are linearly interpolated on a 1 mm table, then smoothed with
 * a moving average of `smoothMm` so the outline has no kinks. Flat caps at zmin/zmax.
 */
export function zCylinder(knots: ZKnot[], zmin: number, zmax: number, smoothMm = 0): Shape {
  const ks = [...knots].sort((p, q) => p.z - q.z);
  const step = 1; // mm
  const z0 = zmin - 2;
  const n = Math.max(2, Math.ceil((zmax - zmin + 4) / step) + 1);
  const tab = new Float64Array(n * 4);
  const interp = (z: number, f: (k: ZKnot) => number): number => {
    if (z <= ks[0].z) return f(ks[0]);
    if (z >= ks[ks.length - 1].z) return f(ks[ks.length - 1]);
    let i = 0;
    while (ks[i + 1].z < z) i++;
    const t = (z - ks[i].z) / (ks[i + 1].z - ks[i].z);
    return f(ks[i]) * (1 - t) + f(ks[i + 1]) * t;
  };
  const fields = [(k: ZKnot) => k.cx, (k: ZKnot) => k.cy, (k: ZKnot) => k.a, (k: ZKnot) => k.b];
  for (let f = 0; f < 4; f++) {
    const raw = new Float64Array(n);
    const hw = Math.round(smoothMm / 2 / step);
    // evaluate on an extended range so smoothing near the ends sees the clamped knot values
    for (let i = 0; i < n; i++) {
      if (hw === 0) {
        raw[i] = interp(z0 + i * step, fields[f]);
        continue;
      }
      let s = 0;
      for (let w = -hw; w <= hw; w++) s += interp(z0 + (i + w) * step, fields[f]);
      raw[i] = s / (2 * hw + 1);
    }
    for (let i = 0; i < n; i++) tab[4 * i + f] = raw[i];
  }
  // boxes per 20 mm of z so that wide parts do not inflate the bounding rectangle of narrow parts
  const boxes: Box[] = [];
  const chunk = 20;
  for (let zc = zmin; zc < zmax; zc += chunk) {
    const zc1 = Math.min(zmax, zc + chunk);
    let bx0 = Infinity, bx1 = -Infinity, by0 = Infinity, by1 = -Infinity;
    const i0 = Math.max(0, Math.floor((zc - z0) / step));
    const i1 = Math.min(n - 1, Math.ceil((zc1 - z0) / step));
    for (let i = i0; i <= i1; i++) {
      bx0 = Math.min(bx0, tab[4 * i] - tab[4 * i + 2]);
      bx1 = Math.max(bx1, tab[4 * i] + tab[4 * i + 2]);
      by0 = Math.min(by0, tab[4 * i + 1] - tab[4 * i + 3]);
      by1 = Math.max(by1, tab[4 * i + 1] + tab[4 * i + 3]);
    }
    boxes.push({ min: [bx0, by0, zc], max: [bx1, by1, zc1] });
  }
  let ratio = 1;
  let slope = 0; // steepest change of centre / semi-axes with z (mm per mm): the distance also varies along z
  for (let i = 0; i < n; i++) {
    ratio = Math.min(ratio, Math.min(tab[4 * i + 2], tab[4 * i + 3]) / Math.max(tab[4 * i + 2], tab[4 * i + 3]));
    if (i > 0) for (let f = 0; f < 4; f++) slope = Math.max(slope, Math.abs(tab[4 * i + f] - tab[4 * (i - 1) + f]) / step);
  }
  const zf = 1 / Math.sqrt(1 + 4 * slope * slope);
  return {
    lip: 0.6 * zf,
    lipIn: 0.6 * ratio * zf,
    sdf(x, y, z) {
      let t = (z - z0) / step;
      if (t < 0) t = 0;
      if (t > n - 1.000001) t = n - 1.000001;
      const i = Math.floor(t);
      const w = t - i;
      const o = 4 * i;
      const cx = tab[o] + w * (tab[o + 4] - tab[o]);
      const cy = tab[o + 1] + w * (tab[o + 5] - tab[o + 1]);
      const a = tab[o + 2] + w * (tab[o + 6] - tab[o + 2]);
      const b = tab[o + 3] + w * (tab[o + 7] - tab[o + 3]);
      const d = ellipseDist(x - cx, y - cy, a, b);
      const dc = Math.max(zmin - z, z - zmax);
      return d > dc ? d : dc;
    },
    boxes,
  };
}

/** Elliptic prism along z with constant cross-section. */
export function prism(cx: number, cy: number, a: number, b: number, zmin: number, zmax: number): Shape {
  return {
    sdf(x, y, z) {
      const d = ellipseDist(x - cx, y - cy, a, b);
      const dc = Math.max(zmin - z, z - zmax);
      return d > dc ? d : dc;
    },
    boxes: [{ min: [cx - a, cy - b, zmin], max: [cx + a, cy + b, zmax] }],
    lip: 0.5,
    lipIn: (0.7 * Math.min(a, b)) / Math.max(a, b),
  };
}

export function union(...shapes: Shape[]): Shape {
  return {
    sdf(x, y, z) {
      let d = Infinity;
      for (const s of shapes) {
        const v = s.sdf(x, y, z);
        if (v < d) d = v;
      }
      return d;
    },
    boxes: shapes.flatMap((s) => s.boxes),
    lip: Math.min(...shapes.map(lipOf)),
    lipIn: Math.min(...shapes.map(lipInOf)),
  };
}

/** Points inside `a` AND inside `b`. */
export function intersect(a: Shape, b: Shape): Shape {
  const bb = boxUnion(b.boxes);
  const boxes = a.boxes.map((x) => boxIntersect(x, bb)).filter((x): x is Box => x !== null);
  return {
    sdf(x, y, z) {
      const u = a.sdf(x, y, z);
      const v = b.sdf(x, y, z);
      return u > v ? u : v;
    },
    boxes,
    lip: Math.min(lipOf(a), lipOf(b), lipInOf(b)),
    lipIn: Math.min(lipInOf(a), lipInOf(b), lipOf(b)),
  };
}

/** Points inside `a` and NOT inside `b`. */
export function subtract(a: Shape, b: Shape): Shape {
  return {
    sdf(x, y, z) {
      const u = a.sdf(x, y, z);
      const v = -b.sdf(x, y, z);
      return u > v ? u : v;
    },
    boxes: a.boxes,
    lip: Math.min(lipOf(a), lipOf(b), lipInOf(b)),
    lipIn: Math.min(lipInOf(a), lipInOf(b), lipOf(b)),
  };
}

/** Shape grown by `mm` (negative: shrunk, e.g. the cancellous core inside a cortical shell). */
export function offset(a: Shape, mm: number): Shape {
  const g = Math.max(0, mm);
  return {
    sdf(x, y, z) {
      return a.sdf(x, y, z) - mm;
    },
    boxes: a.boxes.map((b) => ({
      min: [b.min[0] - g, b.min[1] - g, b.min[2] - g] as Vec3,
      max: [b.max[0] + g, b.max[1] + g, b.max[2] + g] as Vec3,
    })),
    // a few-mm offset of an approximate distance keeps roughly the same bound; halve it to stay safe
    lip: 0.5 * lipOf(a),
    lipIn: 0.5 * lipInOf(a),
  };
}

/** Half-space { p : (p - point)·normal < 0 } limited to `bounds` for box purposes. */
export function halfSpace(point: Vec3, normal: Vec3, bounds: Box): Shape {
  const n = Math.hypot(normal[0], normal[1], normal[2]);
  const [nx, ny, nz] = [normal[0] / n, normal[1] / n, normal[2] / n];
  return {
    sdf(x, y, z) {
      return (x - point[0]) * nx + (y - point[1]) * ny + (z - point[2]) * nz;
    },
    boxes: [bounds],
    lip: 1,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Tubes: swept ellipses along a smooth centreline (psoas, ribs, vessels, bowel, femoral shaft...)
// ---------------------------------------------------------------------------------------------------------

/** Centreline control point with the cross-section semi-axes there: a along frame axis e1, b along e2 (mm). */
export interface TubePoint {
  p: Vec3;
  a: number;
  b: number;
}

function catmullRom(p0: number, p1: number, p2: number, p3: number, t0: number, t1: number, t2: number, t3: number, t: number): number {
  // Barry–Goldman pyramidal form of the (centripetal) Catmull–Rom spline between p1 (t1) and p2 (t2)
  const a1 = ((t1 - t) / (t1 - t0)) * p0 + ((t - t0) / (t1 - t0)) * p1;
  const a2 = ((t2 - t) / (t2 - t1)) * p1 + ((t - t1) / (t2 - t1)) * p2;
  const a3 = ((t3 - t) / (t3 - t2)) * p2 + ((t - t2) / (t3 - t2)) * p3;
  const b1 = ((t2 - t) / (t2 - t0)) * a1 + ((t - t0) / (t2 - t0)) * a2;
  const b2 = ((t3 - t) / (t3 - t1)) * a2 + ((t - t1) / (t3 - t1)) * a3;
  return ((t2 - t) / (t2 - t1)) * b1 + ((t - t1) / (t2 - t1)) * b2;
}

/**
 * A tube: centreline = centripetal Catmull–Rom spline through the control points (passes through each);
 * cross-section = ellipse with semi-axes a(s), b(s) (Catmull–Rom-interpolated from the control points) in the
 * plane normal to the centreline, oriented by a rotation-minimising frame (e1 starts as the projection of
 * `e1Hint` on the first normal plane). Flat caps perpendicular to the centreline at both ends.
 *
 * The centreline is tabulated every `ds` mm of arc length (position, tangent, frame, radii); between samples
 * everything is linearly interpolated, and the truth integrals use the same table, so the voxelised shape and
 * the reported volume / length describe the same object. Volume = ∫ π a(s) b(s) ds is exact for a swept
 * ellipse as long as the centreline's radius of curvature exceeds the cross-section size (the (1 - κ·u)
 * Jacobian integrates to 1 over a centred ellipse).
 */
export class Tube implements Shape {
  readonly n: number;
  readonly ds: number;
  readonly length: number;
  /** Per sample (stride 3): position, tangent, e1, e2 (anatomy mm / unit vectors). */
  readonly pos: Float64Array;
  readonly tan: Float64Array;
  readonly e1: Float64Array;
  readonly e2: Float64Array;
  readonly ra: Float64Array;
  readonly rb: Float64Array;
  readonly boxes: Box[];
  /** Sample ranges [i0, i1] and their boxes (used to find candidate nearest samples). */
  private readonly chunks: { i0: number; i1: number; box: Box }[];
  private readonly maxR: number;
  private readonly margin: number;
  private readonly cBox: Float64Array;
  private readonly cCen: Float64Array;
  private readonly cRad: Float64Array;
  private readonly cIdx: Int32Array;
  readonly lip: number;
  readonly lipIn: number;

  constructor(points: TubePoint[], opts: { ds?: number; e1Hint?: Vec3; margin?: number } = {}) {
    if (points.length < 2) throw new Error('Tube needs at least two control points');
    const ds = opts.ds ?? 0.5;
    const margin = opts.margin ?? 3;
    // 1. dense spline sampling in the spline parameter, cumulative arc length
    const P = points;
    const m = P.length;
    const ext = (i: number): TubePoint => {
      if (i >= 0 && i < m) return P[i];
      // reflected phantom end points keep the end tangents natural
      const [a, b] = i < 0 ? [P[0], P[1]] : [P[m - 1], P[m - 2]];
      return { p: [2 * a.p[0] - b.p[0], 2 * a.p[1] - b.p[1], 2 * a.p[2] - b.p[2]], a: a.a, b: a.b };
    };
    const knotT: number[] = [];
    let tAcc = 0;
    for (let i = -1; i <= m; i++) {
      if (i > -1) {
        const p0 = ext(i - 1).p;
        const p1 = ext(i).p;
        tAcc += Math.sqrt(Math.hypot(p1[0] - p0[0], p1[1] - p0[1], p1[2] - p0[2])) || 1e-6;
      }
      knotT.push(tAcc);
    }
    // knotT[i + 1] is the parameter of control point i
    const evalAt = (seg: number, t: number): number[] => {
      const q0 = ext(seg - 1), q1 = ext(seg), q2 = ext(seg + 1), q3 = ext(seg + 2);
      const t0 = knotT[seg], t1 = knotT[seg + 1], t2 = knotT[seg + 2], t3 = knotT[seg + 3];
      const u = t1 + (t2 - t1) * t;
      const out: number[] = [];
      for (let c = 0; c < 3; c++) out.push(catmullRom(q0.p[c], q1.p[c], q2.p[c], q3.p[c], t0, t1, t2, t3, u));
      out.push(catmullRom(q0.a, q1.a, q2.a, q3.a, t0, t1, t2, t3, u));
      out.push(catmullRom(q0.b, q1.b, q2.b, q3.b, t0, t1, t2, t3, u));
      return out;
    };
    const dense: number[][] = [];
    const cum: number[] = [0];
    for (let seg = 0; seg < m - 1; seg++) {
      // ~0.2 mm steps: arc length converges far below the voxel scale
      const chord = Math.hypot(P[seg + 1].p[0] - P[seg].p[0], P[seg + 1].p[1] - P[seg].p[1], P[seg + 1].p[2] - P[seg].p[2]);
      const perSeg = Math.max(32, Math.ceil(chord / 0.2));
      for (let k = seg === 0 ? 0 : 1; k <= perSeg; k++) {
        const v = evalAt(seg, k / perSeg);
        if (dense.length > 0) {
          const q = dense[dense.length - 1];
          cum.push(cum[cum.length - 1] + Math.hypot(v[0] - q[0], v[1] - q[1], v[2] - q[2]));
        }
        dense.push(v);
      }
    }
    const L = cum[cum.length - 1];
    // 2. resample uniformly in arc length
    const n = Math.max(3, Math.ceil(L / ds) + 1);
    const dsU = L / (n - 1);
    this.n = n;
    this.ds = dsU;
    this.length = L;
    this.pos = new Float64Array(3 * n);
    this.tan = new Float64Array(3 * n);
    this.e1 = new Float64Array(3 * n);
    this.e2 = new Float64Array(3 * n);
    this.ra = new Float64Array(n);
    this.rb = new Float64Array(n);
    let j = 0;
    for (let i = 0; i < n; i++) {
      const s = i * dsU;
      while (j < cum.length - 2 && cum[j + 1] < s) j++;
      const w = cum[j + 1] > cum[j] ? Math.min(1, Math.max(0, (s - cum[j]) / (cum[j + 1] - cum[j]))) : 0;
      const a = dense[j];
      const b = dense[j + 1];
      for (let c = 0; c < 3; c++) this.pos[3 * i + c] = a[c] + w * (b[c] - a[c]);
      this.ra[i] = Math.max(0.5, a[3] + w * (b[3] - a[3]));
      this.rb[i] = Math.max(0.5, a[4] + w * (b[4] - a[4]));
    }
    // 3. tangents (central differences) and rotation-minimising frame (double reflection, Wang et al. 2008)
    for (let i = 0; i < n; i++) {
      const i0 = Math.max(0, i - 1);
      const i1 = Math.min(n - 1, i + 1);
      let tx = this.pos[3 * i1] - this.pos[3 * i0];
      let ty = this.pos[3 * i1 + 1] - this.pos[3 * i0 + 1];
      let tz = this.pos[3 * i1 + 2] - this.pos[3 * i0 + 2];
      const nn = Math.hypot(tx, ty, tz);
      tx /= nn; ty /= nn; tz /= nn;
      this.tan[3 * i] = tx;
      this.tan[3 * i + 1] = ty;
      this.tan[3 * i + 2] = tz;
    }
    const hint = opts.e1Hint ?? [1, 0, 0];
    {
      const t: Vec3 = [this.tan[0], this.tan[1], this.tan[2]];
      let h: Vec3 = [...hint] as Vec3;
      let d = h[0] * t[0] + h[1] * t[1] + h[2] * t[2];
      if (Math.abs(d) > 0.95) {
        h = Math.abs(t[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0];
        d = h[0] * t[0] + h[1] * t[1] + h[2] * t[2];
      }
      const e: Vec3 = [h[0] - d * t[0], h[1] - d * t[1], h[2] - d * t[2]];
      const en = Math.hypot(e[0], e[1], e[2]);
      this.e1[0] = e[0] / en;
      this.e1[1] = e[1] / en;
      this.e1[2] = e[2] / en;
    }
    for (let i = 0; i < n - 1; i++) {
      const o = 3 * i;
      const v1 = [this.pos[o + 3] - this.pos[o], this.pos[o + 4] - this.pos[o + 1], this.pos[o + 5] - this.pos[o + 2]];
      const c1 = v1[0] ** 2 + v1[1] ** 2 + v1[2] ** 2;
      const r = [this.e1[o], this.e1[o + 1], this.e1[o + 2]];
      const t = [this.tan[o], this.tan[o + 1], this.tan[o + 2]];
      const f1 = (2 / c1) * (v1[0] * r[0] + v1[1] * r[1] + v1[2] * r[2]);
      const rL = [r[0] - f1 * v1[0], r[1] - f1 * v1[1], r[2] - f1 * v1[2]];
      const g1 = (2 / c1) * (v1[0] * t[0] + v1[1] * t[1] + v1[2] * t[2]);
      const tL = [t[0] - g1 * v1[0], t[1] - g1 * v1[1], t[2] - g1 * v1[2]];
      const t2 = [this.tan[o + 3], this.tan[o + 4], this.tan[o + 5]];
      const v2 = [t2[0] - tL[0], t2[1] - tL[1], t2[2] - tL[2]];
      const c2 = v2[0] ** 2 + v2[1] ** 2 + v2[2] ** 2;
      let rn = rL;
      if (c2 > 1e-20) {
        const f2 = (2 / c2) * (v2[0] * rL[0] + v2[1] * rL[1] + v2[2] * rL[2]);
        rn = [rL[0] - f2 * v2[0], rL[1] - f2 * v2[1], rL[2] - f2 * v2[2]];
      }
      // re-orthonormalise against the tangent (tangents are finite differences)
      const dd = rn[0] * t2[0] + rn[1] * t2[1] + rn[2] * t2[2];
      rn = [rn[0] - dd * t2[0], rn[1] - dd * t2[1], rn[2] - dd * t2[2]];
      const nr = Math.hypot(rn[0], rn[1], rn[2]);
      this.e1[o + 3] = rn[0] / nr;
      this.e1[o + 4] = rn[1] / nr;
      this.e1[o + 5] = rn[2] / nr;
    }
    for (let i = 0; i < n; i++) {
      const o = 3 * i;
      // e2 = T × e1
      const t = [this.tan[o], this.tan[o + 1], this.tan[o + 2]];
      const e = [this.e1[o], this.e1[o + 1], this.e1[o + 2]];
      this.e2[o] = t[1] * e[2] - t[2] * e[1];
      this.e2[o + 1] = t[2] * e[0] - t[0] * e[2];
      this.e2[o + 2] = t[0] * e[1] - t[1] * e[0];
    }
    // 4. chunks of ~10 mm with boxes inflated by the largest radius there (+ margin for blending)
    this.chunks = [];
    let maxR = 0;
    const per = Math.max(4, Math.round(10 / dsU));
    for (let i0 = 0; i0 < n - 1; i0 += per) {
      const i1 = Math.min(n - 1, i0 + per);
      let r = 0;
      const min: Vec3 = [Infinity, Infinity, Infinity];
      const max: Vec3 = [-Infinity, -Infinity, -Infinity];
      for (let i = i0; i <= i1; i++) {
        r = Math.max(r, this.ra[i], this.rb[i]);
        for (let c = 0; c < 3; c++) {
          min[c] = Math.min(min[c], this.pos[3 * i + c]);
          max[c] = Math.max(max[c], this.pos[3 * i + c]);
        }
      }
      maxR = Math.max(maxR, r);
      const g = r + margin;
      this.chunks.push({
        i0,
        i1,
        box: { min: [min[0] - g, min[1] - g, min[2] - g], max: [max[0] + g, max[1] + g, max[2] + g] },
      });
    }
    this.maxR = maxR;
    this.margin = margin;
    let ratio = 1;
    for (let i = 0; i < n; i++) ratio = Math.min(ratio, Math.min(this.ra[i], this.rb[i]) / Math.max(this.ra[i], this.rb[i]));
    this.lip = 0.3;
    this.lipIn = 0.3 * ratio;
    this.boxes = this.chunks.map((c) => c.box);
    const nc = this.chunks.length;
    this.cBox = new Float64Array(6 * nc);
    this.cCen = new Float64Array(3 * nc);
    this.cRad = new Float64Array(nc);
    this.cIdx = new Int32Array(2 * nc);
    this.chunks.forEach((c, q) => {
      for (let a = 0; a < 3; a++) {
        this.cBox[6 * q + a] = c.box.min[a];
        this.cBox[6 * q + 3 + a] = c.box.max[a];
      }
      const im = (c.i0 + c.i1) >> 1;
      let rad = 0;
      for (let i = c.i0; i <= c.i1; i++)
        rad = Math.max(rad, Math.hypot(this.pos[3 * i] - this.pos[3 * im], this.pos[3 * i + 1] - this.pos[3 * im + 1], this.pos[3 * i + 2] - this.pos[3 * im + 2]));
      for (let a = 0; a < 3; a++) this.cCen[3 * q + a] = this.pos[3 * im + a];
      this.cRad[q] = rad;
      this.cIdx[2 * q] = c.i0;
      this.cIdx[2 * q + 1] = c.i1;
    });
  }

  /**
   * Index of the (approximately) nearest tabulated sample to p among chunks whose box contains p; -1 if none.
   * Coarse scan with a stride of 4 samples; the Newton refinement in `local` does the rest.
   */
  private nearest(x: number, y: number, z: number): number {
    let best = -1;
    let bd = Infinity;
    const pos = this.pos;
    const cb = this.cBox, cc = this.cCen, cr = this.cRad, ci = this.cIdx;
    const nc = cr.length;
    // warm start: the chunk that held the previous answer first (consecutive voxels are neighbours), so the
    // sphere bound below prunes most other chunks
    const first = this.lastChunk;
    for (let t = -1; t < nc; t++) {
      const c = t < 0 ? first : t;
      if (t >= 0 && c === first) continue;
      const o = 6 * c;
      if (x < cb[o] || x > cb[o + 3] || y < cb[o + 1] || y > cb[o + 4] || z < cb[o + 2] || z > cb[o + 5]) continue;
      // prune: no sample of this chunk can beat the best so far
      const ex = x - cc[3 * c], ey = y - cc[3 * c + 1], ez = z - cc[3 * c + 2];
      const dc = Math.sqrt(ex * ex + ey * ey + ez * ez) - cr[c];
      if (dc > 0 && dc * dc > bd) continue;
      const i1 = ci[2 * c + 1];
      for (let i = ci[2 * c]; ; i = i + 4 < i1 ? i + 4 : i1) {
        const dx = x - pos[3 * i];
        const dy = y - pos[3 * i + 1];
        const dz = z - pos[3 * i + 2];
        const d = dx * dx + dy * dy + dz * dz;
        if (d < bd) {
          bd = d;
          best = i;
          this.lastChunk = c;
        }
        if (i === i1) break;
      }
    }
    return best;
  }
  private lastChunk = 0;

  /** Results of the last `locate` call (kept in fields: no allocation per voxel). */
  private ls = 0;
  private lu = 0;
  private lv = 0;
  private la = 0;
  private lb = 0;

  /**
   * Locates p relative to the tube; returns false when p is far from it (outside every chunk box). On success
   * the fields hold: arc length s (unclamped: < 0 before the first cap, > length after the last), in-plane
   * offsets u (along e1) and v (along e2) and the semi-axes a, b at s.
   */
  private locate(x: number, y: number, z: number): boolean {
    const i = this.nearest(x, y, z);
    if (i < 0) return false;
    const n = this.n;
    const ds = this.ds;
    const P = this.pos, T = this.tan, E1 = this.e1, E2 = this.e2;
    // Newton iterations for the normal-plane foot point: s += (p - c(s))·T(s)
    let s = i * ds + ((x - P[3 * i]) * T[3 * i] + (y - P[3 * i + 1]) * T[3 * i + 1] + (z - P[3 * i + 2]) * T[3 * i + 2]);
    let cx = 0, cy = 0, cz = 0, k = 0, w = 0;
    for (let it = 0; it < 3; it++) {
      let f = s / ds;
      if (f < 0) f = 0;
      if (f > n - 1) f = n - 1;
      k = f >= n - 1 ? n - 2 : Math.floor(f);
      w = f - k;
      const o = 3 * k;
      cx = P[o] + w * (P[o + 3] - P[o]);
      cy = P[o + 1] + w * (P[o + 4] - P[o + 1]);
      cz = P[o + 2] + w * (P[o + 5] - P[o + 2]);
      const tx = T[o] + w * (T[o + 3] - T[o]);
      const ty = T[o + 1] + w * (T[o + 4] - T[o + 1]);
      const tz = T[o + 2] + w * (T[o + 5] - T[o + 2]);
      const step = (x - cx) * tx + (y - cy) * ty + (z - cz) * tz;
      s = (k + w) * ds + step;
      if (step < 1e-4 && step > -1e-4) break;
    }
    const o = 3 * k;
    const dx = x - cx, dy = y - cy, dz = z - cz;
    this.lu =
      dx * (E1[o] + w * (E1[o + 3] - E1[o])) + dy * (E1[o + 1] + w * (E1[o + 4] - E1[o + 1])) + dz * (E1[o + 2] + w * (E1[o + 5] - E1[o + 2]));
    this.lv =
      dx * (E2[o] + w * (E2[o + 3] - E2[o])) + dy * (E2[o + 1] + w * (E2[o + 4] - E2[o + 1])) + dz * (E2[o + 2] + w * (E2[o + 5] - E2[o + 2]));
    this.la = this.ra[k] + w * (this.ra[k + 1] - this.ra[k]);
    this.lb = this.rb[k] + w * (this.rb[k + 1] - this.rb[k]);
    this.ls = s;
    return true;
  }

  /** Local coordinates of p (see `locate`), or null when p is far from the tube. */
  local(x: number, y: number, z: number): { s: number; u: number; v: number; a: number; b: number } | null {
    if (!this.locate(x, y, z)) return null;
    return { s: this.ls, u: this.lu, v: this.lv, a: this.la, b: this.lb };
  }

  /** Signed distance (bound: safe to pass around as a plain function). */
  readonly sdf = (x: number, y: number, z: number): number => {
    if (!this.locate(x, y, z)) return this.farDistance(x, y, z); // outside every chunk box: certainly outside
    const dr = ellipseDist(this.lu, this.lv, this.la, this.lb);
    const dc = Math.max(-this.ls, this.ls - this.length);
    return dr > dc ? dr : dc;
  };

  /** Lower bound of the distance to the tube for a point outside every chunk box: box distance + margin. */
  private farDistance(x: number, y: number, z: number): number {
    let best = Infinity;
    for (const c of this.chunks) {
      const b = c.box;
      const dx = x < b.min[0] ? b.min[0] - x : x > b.max[0] ? x - b.max[0] : 0;
      const dy = y < b.min[1] ? b.min[1] - y : y > b.max[1] ? y - b.max[1] : 0;
      const dz = z < b.min[2] ? b.min[2] - z : z > b.max[2] ? z - b.max[2] : 0;
      const d = dx * dx + dy * dy + dz * dz;
      if (d < best) best = d;
    }
    return Math.sqrt(best) + this.margin;
  }

  /** Position (anatomy mm) on the centreline at arc length s (linear interpolation of the table). */
  pointAt(s: number): Vec3 {
    let f = s / this.ds;
    f = Math.max(0, Math.min(this.n - 1, f));
    const k = Math.min(this.n - 2, Math.floor(f));
    const w = f - k;
    const P = this.pos;
    return [0, 1, 2].map((c) => P[3 * k + c] + w * (P[3 * k + 3 + c] - P[3 * k + c])) as Vec3;
  }
}
