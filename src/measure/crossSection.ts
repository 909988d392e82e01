/**
 * Axial cross-sections (planes of constant patient z) of a mask on a grid whose slices are NOT axial
 * (gantry tilt, oblique or rotated acquisition).
 *
 * The mask is the union of its voxel boxes (parallelepipeds centre ± M·[-½,½]³). Its intersection with the plane
 * z = z0 is measured by point sampling: sample points on a square grid of pitch `step` (mm, default a third of
 * the smallest voxel spacing) over the plane's x/y bounding box; each sample takes the label of the voxel
 * CONTAINING it (nearest voxel centre in index space, i.e. round(M⁻¹(p - origin))). Area = hits x step².
 * The error is a boundary effect of order perimeter x step / √(samples along the boundary), well under 1% for
 * psoas-sized sections at 1/3 voxel pitch. The same samples give the area-weighted mean HU of the section.
 */
import type { VoxelArray } from '../core/volume';
import type { Affine } from './grid';

export interface PlaneSection {
  /** mm² */
  area: number;
  /** Σ HU and sample count (area-weighted mean = huSum / samples). */
  huSum: number;
  winHuSum: number;
  winSamples: number;
  samples: number;
}

export interface XYBox {
  xmin: number;
  xmax: number;
  ymin: number;
  ymax: number;
}

export function sampleAxialPlane(
  a: Affine,
  mask: Uint8Array,
  label: number,
  hu: VoxelArray | null,
  z0: number,
  box: XYBox,
  step: number,
  huWindow: [number, number],
): PlaneSection {
  const out: PlaneSection = { area: 0, huSum: 0, winHuSum: 0, winSamples: 0, samples: 0 };
  if (!(box.xmax >= box.xmin) || !(box.ymax >= box.ymin)) return out;
  const [nx, ny, nz] = a.dims;
  const inv = a.inv;
  const nu = Math.max(1, Math.ceil((box.xmax - box.xmin) / step));
  const nv = Math.max(1, Math.ceil((box.ymax - box.ymin) / step));
  // Centre the sample lattice on the box.
  const x0 = (box.xmin + box.xmax) / 2 - ((nu - 1) * step) / 2;
  const y0 = (box.ymin + box.ymax) / 2 - ((nv - 1) * step) / 2;
  // Continuous index increments for one step in x (LPS).
  const di = inv[0][0] * step;
  const dj = inv[1][0] * step;
  const dk = inv[2][0] * step;
  const [wlo, whi] = huWindow;
  let hits = 0;
  for (let v = 0; v < nv; v++) {
    const px = x0 - a.origin[0];
    const py = y0 + v * step - a.origin[1];
    const pz = z0 - a.origin[2];
    let fi = inv[0][0] * px + inv[0][1] * py + inv[0][2] * pz;
    let fj = inv[1][0] * px + inv[1][1] * py + inv[1][2] * pz;
    let fk = inv[2][0] * px + inv[2][1] * py + inv[2][2] * pz;
    for (let u = 0; u < nu; u++, fi += di, fj += dj, fk += dk) {
      // Voxel containing the point: |f - round(f)| ≤ ½ on every index.
      const i = Math.floor(fi + 0.5);
      const j = Math.floor(fj + 0.5);
      const k = Math.floor(fk + 0.5);
      if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) continue;
      const idx = i + nx * (j + ny * k);
      if (mask[idx] !== label) continue;
      hits++;
      if (hu !== null) {
        const h = hu[idx];
        out.huSum += h;
        if (h >= wlo && h <= whi) {
          out.winHuSum += h;
          out.winSamples++;
        }
      }
    }
  }
  out.samples = hits;
  out.area = hits * step * step;
  return out;
}
