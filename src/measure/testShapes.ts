/**
 * Analytic shapes with known volume, length and cross-section, voxelised on arbitrary grids, for the
 * measurement tests ("a voxel belongs to the shape when its CENTRE is inside"). Test support only; the
 * measurement engine does not import this file.
 */
import type { Mat3, Vec3, VolumeGeometry } from '../core/geometry';

export interface Shape {
  name: string;
  /** Inside test on a patient LPS point (mm). */
  inside: (p: Vec3) => boolean;
  /** World (LPS mm) bounding box [min, max], generous. */
  bbox: [Vec3, Vec3];
  volumeMm3: number;
  lengthMm: number;
  /** Patient z range (mm) of the shape when tighter than bbox. */
  zRange?: [number, number];
  /** The centreline's true end points (LPS mm), inferior first, when they are not on the z extremes. */
  ends?: [Vec3, Vec3];
  /** Axial CSA (mm²) at patient z = csaAt.z, where the truth is simple. */
  csaAt?: { z: number; mm2: number };
}

/** Vertical cylinder: axis through (cx, cy) parallel to z, z in [z0, z1]. */
export function cylinder(r: number, z0: number, z1: number, cx = 0, cy = 0): Shape {
  return {
    name: `cylinder r=${r} H=${z1 - z0}`,
    inside: (p) => p[2] >= z0 && p[2] <= z1 && (p[0] - cx) ** 2 + (p[1] - cy) ** 2 <= r * r,
    bbox: [
      [cx - r, cy - r, z0],
      [cx + r, cy + r, z1],
    ],
    volumeMm3: Math.PI * r * r * (z1 - z0),
    lengthMm: z1 - z0,
    csaAt: { z: (z0 + z1) / 2, mm2: Math.PI * r * r },
  };
}

/** Cone frustum along z: radius r0 at z0 linearly to r1 at z1. */
export function frustum(r0: number, r1: number, z0: number, z1: number): Shape {
  const H = z1 - z0;
  const rm = Math.max(r0, r1);
  return {
    name: `frustum r=${r0}->${r1} H=${H}`,
    inside: (p) => {
      if (p[2] < z0 || p[2] > z1) return false;
      const r = r0 + ((r1 - r0) * (p[2] - z0)) / H;
      return p[0] * p[0] + p[1] * p[1] <= r * r;
    },
    bbox: [
      [-rm, -rm, z0],
      [rm, rm, z1],
    ],
    volumeMm3: (Math.PI * H * (r0 * r0 + r0 * r1 + r1 * r1)) / 3,
    lengthMm: H,
    csaAt: { z: z0 + H / 2, mm2: Math.PI * ((r0 + r1) / 2) ** 2 },
  };
}

/**
 * Straight tube of radius r (perpendicular to its axis) whose axis is tilted by `tiltDeg` from +z towards the
 * azimuth `azDeg` in the x-y plane, cut by the AXIAL planes z0 and z1 (as a scan boundary cuts a muscle).
 * Axis length L = (z1 - z0)/cos(tilt); volume π r² L (Cavalieri: axial ellipse area π r²/cos(tilt) times height).
 */
export function obliqueTube(r: number, z0: number, z1: number, tiltDeg: number, azDeg = 0): Shape {
  const t = (tiltDeg * Math.PI) / 180;
  const az = (azDeg * Math.PI) / 180;
  const a: Vec3 = [Math.sin(t) * Math.cos(az), Math.sin(t) * Math.sin(az), Math.cos(t)];
  const L = (z1 - z0) / Math.cos(t);
  const top: Vec3 = [a[0] * L, a[1] * L, z1];
  const rr = r / Math.cos(t);
  return {
    name: `oblique tube r=${r} L=${L.toFixed(1)} tilt=${tiltDeg}°`,
    inside: (p) => {
      if (p[2] < z0 || p[2] > z1) return false;
      const v: Vec3 = [p[0], p[1], p[2] - z0];
      const s = v[0] * a[0] + v[1] * a[1] + v[2] * a[2];
      const d2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2] - s * s;
      return d2 <= r * r;
    },
    bbox: [
      [Math.min(0, top[0]) - rr, Math.min(0, top[1]) - rr, z0],
      [Math.max(0, top[0]) + rr, Math.max(0, top[1]) + rr, z1],
    ],
    volumeMm3: Math.PI * r * r * L,
    lengthMm: L,
    csaAt: { z: (z0 + z1) / 2, mm2: (Math.PI * r * r) / Math.cos(t) },
  };
}

/**
 * Straight tube tilted by `tiltDeg` from z (towards +x) with flat caps PERPENDICULAR to its axis, axis length L.
 * Used to document the known end bias of the axial-slab centreline.
 */
export function tiltedCappedTube(r: number, L: number, tiltDeg: number): Shape {
  const t = (tiltDeg * Math.PI) / 180;
  const a: Vec3 = [Math.sin(t), 0, Math.cos(t)];
  const ext = r; // generous
  return {
    name: `capped tube r=${r} L=${L} tilt=${tiltDeg}°`,
    inside: (p) => {
      const s = p[0] * a[0] + p[1] * a[1] + p[2] * a[2];
      if (s < 0 || s > L) return false;
      return p[0] * p[0] + p[1] * p[1] + p[2] * p[2] - s * s <= r * r;
    },
    bbox: [
      [-ext, -r, -ext],
      [a[0] * L + ext, r, a[2] * L + ext],
    ],
    volumeMm3: Math.PI * r * r * L,
    lengthMm: L,
  };
}

/**
 * Torus segment: a tube of radius r around a circular arc of radius R in the x-z plane, from angle -phi0 to +phi0
 * (vertical at the middle, tilted by phi0 at both ends), caps PERPENDICULAR to the arc. Pappus: volume = π r² L,
 * L = 2 R phi0.
 */
export function torusArc(R: number, r: number, phi0Deg: number): Shape {
  const phi0 = (phi0Deg * Math.PI) / 180;
  // Arc: c(φ) = (R - R cos φ, 0, R sin φ); circle centre C = (R, 0, 0).
  const xs = [R - R * Math.cos(phi0), 0];
  const zs = R * Math.sin(phi0);
  return {
    name: `torus arc R=${R} r=${r} ±${phi0Deg}°`,
    inside: (p) => {
      const vx = p[0] - R;
      const vz = p[2];
      const phi = Math.atan2(vz, -vx);
      if (Math.abs(phi) > phi0) return false;
      const rho = Math.hypot(vx, vz);
      return (rho - R) ** 2 + p[1] * p[1] <= r * r;
    },
    bbox: [
      [Math.min(...xs) - r, -r, -zs - r],
      [Math.max(...xs) + r, r, zs + r],
    ],
    volumeMm3: Math.PI * r * r * 2 * R * phi0,
    lengthMm: 2 * R * phi0,
    // Highest point: the outer rim of the end cap, c(φ0) + r·(radial unit (-cos φ0, 0, sin φ0)).
    zRange: [-(R + r) * Math.sin(phi0), (R + r) * Math.sin(phi0)],
    ends: [
      [R - R * Math.cos(phi0), 0, -zs],
      [R - R * Math.cos(phi0), 0, zs],
    ],
  };
}

/** Horizontal tube along +x, radius r, x in [x0, x1], perpendicular caps. */
export function horizontalTube(r: number, x0: number, x1: number): Shape {
  return {
    name: `horizontal tube r=${r} L=${x1 - x0}`,
    inside: (p) => p[0] >= x0 && p[0] <= x1 && p[1] * p[1] + p[2] * p[2] <= r * r,
    bbox: [
      [x0, -r, -r],
      [x1, r, r],
    ],
    volumeMm3: Math.PI * r * r * (x1 - x0),
    lengthMm: x1 - x0,
  };
}

/**
 * Curved tube like a psoas: the centreline runs from z = 0 up to z = H while drifting by ax (out) and ay (forward):
 * c(z) = (ax (1 - cos(π z/H))/2, ay (1 - cos(π z/H))/2, z). Its tangent is vertical at both ends, so the end caps
 * (perpendicular to the tangent) are axial. Radius r ≪ radius of curvature, so volume = π r² L exactly (tube
 * formula), L = ∫ |c'(z)| dz computed by Simpson's rule to 1e-9. `r` may be a function of the curve parameter z
 * (a tapering, psoas-like muscle): then volume = ∫ π r(z)² |c'(z)| dz.
 */
export function curvedTube(r: number | ((z: number) => number), H: number, ax: number, ay: number): Shape {
  const rad = typeof r === 'number' ? () => r : r;
  const rMax = typeof r === 'number' ? r : Math.max(...Array.from({ length: 101 }, (_, n) => r((H * n) / 100)));
  const w = Math.PI / H;
  const c = (z: number): Vec3 => [(ax * (1 - Math.cos(w * z))) / 2, (ay * (1 - Math.cos(w * z))) / 2, z];
  const d1 = (z: number): Vec3 => [(ax * w * Math.sin(w * z)) / 2, (ay * w * Math.sin(w * z)) / 2, 1];
  const d2 = (z: number): Vec3 => [(ax * w * w * Math.cos(w * z)) / 2, (ay * w * w * Math.cos(w * z)) / 2, 0];
  const N = 20000;
  let L = 0;
  let V = 0;
  const speed = (z: number) => Math.hypot(...d1(z));
  for (let n = 0; n <= N; n++) {
    const z = (H * n) / N;
    const wgt = n === 0 || n === N ? 1 : n % 2 === 1 ? 4 : 2;
    L += wgt * speed(z);
    // Tube formula with discs of radius r(z) perpendicular to the curve: dV = π r² ds (curvature terms cancel).
    V += wgt * Math.PI * rad(z) ** 2 * speed(z);
  }
  L *= H / N / 3;
  V *= H / N / 3;
  return {
    name: `curved tube r=${typeof r === 'number' ? r : 'tapering'} L=${L.toFixed(1)}`,
    inside: (p) => {
      // Foot of the perpendicular: Newton on f(z) = (c(z) - p)·c'(z) = 0 from z = p_z.
      let z = p[2];
      for (let it = 0; it < 20; it++) {
        const q = c(z);
        const t = d1(z);
        const tt = d2(z);
        const e: Vec3 = [q[0] - p[0], q[1] - p[1], q[2] - p[2]];
        const f = e[0] * t[0] + e[1] * t[1] + e[2] * t[2];
        const fp = t[0] * t[0] + t[1] * t[1] + t[2] * t[2] + e[0] * tt[0] + e[1] * tt[1];
        const dz = f / fp;
        z -= dz;
        if (Math.abs(dz) < 1e-9) break;
      }
      if (z < 0 || z > H) return false;
      const q = c(z);
      const rz = rad(z);
      return (q[0] - p[0]) ** 2 + (q[1] - p[1]) ** 2 + (q[2] - p[2]) ** 2 <= rz * rz;
    },
    bbox: [
      [Math.min(0, ax) - rMax, Math.min(0, ay) - rMax, 0],
      [Math.max(0, ax) + rMax, Math.max(0, ay) + rMax, H],
    ],
    volumeMm3: V,
    lengthMm: L,
  };
}

/** Column-major rotation: about x by ax°, then about z by az° (R = Rz·Rx). */
export function rotation(axDeg: number, azDeg: number): Mat3 {
  const a = (axDeg * Math.PI) / 180;
  const b = (azDeg * Math.PI) / 180;
  const rx = [
    [1, 0, 0],
    [0, Math.cos(a), -Math.sin(a)],
    [0, Math.sin(a), Math.cos(a)],
  ];
  const rz = [
    [Math.cos(b), -Math.sin(b), 0],
    [Math.sin(b), Math.cos(b), 0],
    [0, 0, 1],
  ];
  const r = [0, 1, 2].map((i) => [0, 1, 2].map((j) => rz[i][0] * rx[0][j] + rz[i][1] * rx[1][j] + rz[i][2] * rx[2][j]));
  // column-major: columns are R's columns
  return [r[0][0], r[1][0], r[2][0], r[0][1], r[1][1], r[2][1], r[0][2], r[1][2], r[2][2]];
}

export const AXIAL_HF: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];
/** Feet-first axial stack: slices advance towards the feet (direction column 2 = -z). */
export const AXIAL_FF: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, -1];

/**
 * A grid with the given spacing/direction that covers the world box with `margin` voxels on each side,
 * optionally cut so the shape pokes out (no margin) along k (for truncation tests).
 * `phase` (voxel fraction) shifts the grid so shape boundaries do not fall on voxel boundaries.
 */
export function gridAround(
  bbox: [Vec3, Vec3],
  spacing: Vec3,
  direction: Mat3,
  margin = 3,
  phase: Vec3 = [0.37, 0.21, 0.43],
): VolumeGeometry {
  const cols: Vec3[] = [0, 1, 2].map((c) => [direction[3 * c], direction[3 * c + 1], direction[3 * c + 2]] as Vec3);
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const x of [bbox[0][0], bbox[1][0]])
    for (const y of [bbox[0][1], bbox[1][1]])
      for (const z of [bbox[0][2], bbox[1][2]])
        for (let c = 0; c < 3; c++) {
          const s = (x * cols[c][0] + y * cols[c][1] + z * cols[c][2]) / spacing[c];
          lo[c] = Math.min(lo[c], s);
          hi[c] = Math.max(hi[c], s);
        }
  const start = lo.map((v, c) => Math.floor(v) - margin + phase[c]) as Vec3;
  const dims = hi.map((v, c) => Math.ceil(v - start[c]) + margin + 1) as Vec3;
  // origin = Σ_c start_c · spacing_c · col_c (orthonormal direction)
  const origin: Vec3 = [0, 0, 0];
  for (let c = 0; c < 3; c++) for (let r = 0; r < 3; r++) origin[r] += start[c] * spacing[c] * cols[c][r];
  return { dimensions: dims, spacing, origin, direction };
}

/** Voxelises the shape (label where the voxel centre is inside) onto `mask` (allocated when absent). */
export function voxelise(g: VolumeGeometry, shape: Shape, label = 1, mask?: Uint8Array): Uint8Array {
  const [nx, ny, nz] = g.dimensions;
  const out = mask ?? new Uint8Array(nx * ny * nz);
  const d = g.direction;
  const s = g.spacing;
  const p: Vec3 = [0, 0, 0];
  const [lo, hi] = shape.bbox;
  const orthonormal =
    [0, 1, 2].every((c) => Math.abs(Math.hypot(d[3 * c], d[3 * c + 1], d[3 * c + 2]) - 1) < 1e-9) &&
    Math.abs(d[0] * d[3] + d[1] * d[4] + d[2] * d[5]) < 1e-9 &&
    Math.abs(d[0] * d[6] + d[1] * d[7] + d[2] * d[8]) < 1e-9 &&
    Math.abs(d[3] * d[6] + d[4] * d[7] + d[5] * d[8]) < 1e-9;
  // Index range covering the world box (orthonormal direction: index_c = col_c·(p - origin)/spacing_c).
  const ilo = [Infinity, Infinity, Infinity];
  const ihi = [-Infinity, -Infinity, -Infinity];
  for (const x of [lo[0] - 1, hi[0] + 1])
    for (const y of [lo[1] - 1, hi[1] + 1])
      for (const z of [lo[2] - 1, hi[2] + 1])
        for (let c = 0; c < 3; c++) {
          const v =
            (d[3 * c] * (x - g.origin[0]) + d[3 * c + 1] * (y - g.origin[1]) + d[3 * c + 2] * (z - g.origin[2])) / s[c];
          ilo[c] = Math.min(ilo[c], v);
          ihi[c] = Math.max(ihi[c], v);
        }
  // (A sheared grid, e.g. gantry tilt, has no such shortcut: visit every voxel.)
  const [i0, j0, k0] = orthonormal ? ilo.map((v) => Math.max(0, Math.floor(v))) : [0, 0, 0];
  const [i1, j1, k1] = orthonormal
    ? ihi.map((v, c) => Math.min(g.dimensions[c] - 1, Math.ceil(v)))
    : [nx - 1, ny - 1, nz - 1];
  for (let k = k0; k <= k1; k++)
    for (let j = j0; j <= j1; j++)
      for (let i = i0; i <= i1; i++) {
        const a = i * s[0];
        const b = j * s[1];
        const c = k * s[2];
        p[0] = g.origin[0] + d[0] * a + d[3] * b + d[6] * c;
        p[1] = g.origin[1] + d[1] * a + d[4] * b + d[7] * c;
        p[2] = g.origin[2] + d[2] * a + d[5] * b + d[8] * c;
        if (p[0] < lo[0] - 1 || p[1] < lo[1] - 1 || p[2] < lo[2] - 1) continue;
        if (p[0] > hi[0] + 1 || p[1] > hi[1] + 1 || p[2] > hi[2] + 1) continue;
        if (shape.inside(p)) out[i + nx * (j + ny * k)] = label;
      }
  return out;
}
