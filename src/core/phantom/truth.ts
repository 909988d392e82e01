/**
 * Ground truth of a tube-shaped structure (the psoas), computed from its analytic definition, not from voxels.
 * All positions are patient LPS mm (anatomy frame + the phantom's translation), volumes in mL (1 mL = 1000 mm^3).
 */
import type { Vec3 } from '../geometry';
import type { Tube } from './shapes';

export interface PsoasTruth {
  /** Label value in the label map (1 = left, 2 = right). */
  label: number;
  /** Volume of the whole continuous shape, mL: ∫ π a(s) b(s) ds. */
  volume_ml: number;
  /** Arc length of the centreline between the two flat caps, mm. */
  length_mm: number;
  /** Craniocaudal extent of the shape (highest minus lowest patient z of any point of it), mm. */
  extent_mm: number;
  /** Lowest / highest patient z (mm) of the shape. */
  z_min_mm: number;
  z_max_mm: number;
  /** Centreline end points, LPS mm: cranial (origin beside T12/L1) and caudal (lesser trochanter). */
  start_lps: Vec3;
  end_lps: Vec3;
  /** Largest cross-section (normal to the centreline), mm^2, and the patient z (mm) of its centre. */
  max_area_mm2: number;
  max_area_z_mm: number;
  /** Axis-aligned LPS bounding box of the shape, mm. */
  bbox_lps: { min: Vec3; max: Vec3 };
  /** True when part of the shape lies outside the image field of view. */
  truncated: boolean;
  /** Volume of the part of the shape inside the field of view (voxel cells), mL. */
  volume_in_fov_ml: number;
  /** Number of label voxels in the generated label map and their volume (mL): a voxelised check, not truth. */
  label_voxels: number;
  label_volume_ml: number;
}

/**
 * Truth of `tube` translated by `shift` (anatomy → patient LPS). `inFov(x, y, z)` says whether a patient point
 * lies inside the image's field of view. The in-FOV volume integrates, for each centreline sample, a polar grid
 * over the cross-section ellipse weighted by the tube Jacobian (1 - κ1·u - κ2·v).
 */
export function tubeTruth(
  tube: Tube,
  shift: Vec3,
  label: number,
  inFov: (x: number, y: number, z: number) => boolean,
): Omit<PsoasTruth, 'label_voxels' | 'label_volume_ml'> {
  const { n, ds, pos, tan, e1, e2, ra, rb } = tube;
  // exact volume of the tabulated shape: a, b linear between samples ⇒ ∫ a b ds has a closed form per interval
  let vol = 0;
  for (let i = 0; i < n - 1; i++) {
    const a0 = ra[i], b0 = rb[i], da = ra[i + 1] - a0, db = rb[i + 1] - b0;
    vol += ds * (a0 * b0 + (a0 * db + b0 * da) / 2 + (da * db) / 3);
  }
  vol *= Math.PI;
  // extent: each cross-section ellipse spans c_z ± sqrt((a e1_z)^2 + (b e2_z)^2) in z
  let zmin = Infinity, zmax = -Infinity, maxArea = 0, maxAreaZ = 0;
  const bmin: Vec3 = [Infinity, Infinity, Infinity];
  const bmax: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const h = Math.hypot(ra[i] * e1[3 * i + c], rb[i] * e2[3 * i + c]);
      const p = pos[3 * i + c] + shift[c];
      bmin[c] = Math.min(bmin[c], p - h);
      bmax[c] = Math.max(bmax[c], p + h);
      if (c === 2) {
        zmin = Math.min(zmin, p - h);
        zmax = Math.max(zmax, p + h);
      }
    }
    const area = Math.PI * ra[i] * rb[i];
    if (area > maxArea) {
      maxArea = area;
      maxAreaZ = pos[3 * i + 2] + shift[2];
    }
  }
  // whole bounding box inside the FOV (convex) ⇒ nothing is cut, no quadrature needed
  let boxInside = true;
  for (let c = 0; c < 8 && boxInside; c++)
    boxInside = inFov(c & 1 ? bmax[0] : bmin[0], c & 2 ? bmax[1] : bmin[1], c & 4 ? bmax[2] : bmin[2]);
  // in-FOV volume by quadrature (midpoint in s, polar grid over the ellipse)
  const NR = boxInside ? 0 : 12;
  const NT = 36;
  let volIn = 0;
  let volAll = 0;
  for (let i = 0; i < n - 1; i++) {
    const o = 3 * i;
    const a = (ra[i] + ra[i + 1]) / 2;
    const b = (rb[i] + rb[i + 1]) / 2;
    const c = [0, 1, 2].map((k) => (pos[o + k] + pos[o + 3 + k]) / 2 + shift[k]);
    const u1 = [0, 1, 2].map((k) => (e1[o + k] + e1[o + 3 + k]) / 2);
    const u2 = [0, 1, 2].map((k) => (e2[o + k] + e2[o + 3 + k]) / 2);
    const dT = [0, 1, 2].map((k) => (tan[o + 3 + k] - tan[o + k]) / ds);
    const k1 = dT[0] * u1[0] + dT[1] * u1[1] + dT[2] * u1[2];
    const k2 = dT[0] * u2[0] + dT[1] * u2[1] + dT[2] * u2[2];
    for (let ir = 0; ir < NR; ir++) {
      const rho0 = ir / NR, rho1 = (ir + 1) / NR;
      const rho = (rho0 + rho1) / 2;
      const dA = (Math.PI * a * b * (rho1 * rho1 - rho0 * rho0)) / NT; // area of the polar cell in the ellipse
      for (let it = 0; it < NT; it++) {
        const th = ((it + 0.5) * 2 * Math.PI) / NT;
        const u = a * rho * Math.cos(th);
        const v = b * rho * Math.sin(th);
        const w = dA * ds * (1 - k1 * u - k2 * v);
        volAll += w;
        if (inFov(c[0] + u * u1[0] + v * u2[0], c[1] + u * u1[1] + v * u2[1], c[2] + u * u1[2] + v * u2[2])) volIn += w;
      }
    }
  }
  // the quadrature of the full shape must agree with the closed form; scale the in-FOV part onto it
  const volumeInFov = boxInside ? vol : volAll > 0 ? (volIn / volAll) * vol : 0;
  const truncated = !boxInside && volIn < volAll * (1 - 1e-9);
  const p0: Vec3 = [pos[0] + shift[0], pos[1] + shift[1], pos[2] + shift[2]];
  const p1: Vec3 = [pos[3 * (n - 1)] + shift[0], pos[3 * (n - 1) + 1] + shift[1], pos[3 * (n - 1) + 2] + shift[2]];
  let len = 0;
  for (let i = 0; i < n - 1; i++)
    len += Math.hypot(pos[3 * i + 3] - pos[3 * i], pos[3 * i + 4] - pos[3 * i + 1], pos[3 * i + 5] - pos[3 * i + 2]);
  return {
    label,
    volume_ml: vol / 1000,
    length_mm: len,
    extent_mm: zmax - zmin,
    z_min_mm: zmin,
    z_max_mm: zmax,
    start_lps: p0[2] >= p1[2] ? p0 : p1,
    end_lps: p0[2] >= p1[2] ? p1 : p0,
    max_area_mm2: maxArea,
    max_area_z_mm: maxAreaZ,
    bbox_lps: { min: bmin, max: bmax },
    truncated,
    volume_in_fov_ml: truncated ? volumeInFov / 1000 : vol / 1000,
  };
}
