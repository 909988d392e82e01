/**
 * A small synthetic CT used while developing the viewer and as a fallback sample when no sample source exists.
 * Pure computation (no DOM). Geometry: axial slices, identity direction (i → patient Left, j → Posterior,
 * k → Superior), so index and LPS axes coincide up to origin and spacing.
 *
 * Contents (HU): air -1000 outside an elliptic body of soft tissue (+40 HU) with a fat rim (-100 HU), and three
 * orientation markers, centred at LPS positions (mm) given in `SYNTHETIC_MARKERS`:
 * - `left`: a bone-bright sphere (+1000 HU) on the patient's LEFT (+x),
 * - `superior`: a contrast-bright sphere (+300 HU) near the top slice (+z),
 * - `anterior`: an air sphere (-1000 HU) in front (-y).
 */
import type { Vec3, VolumeGeometry } from '../core/geometry';
import { indexToWorld } from '../core/geometry';
import type { Volume } from '../core/volume';

export const SYNTHETIC_GEOMETRY: VolumeGeometry = {
  dimensions: [128, 112, 60],
  spacing: [2.5, 2.5, 4],
  // LPS of voxel (0,0,0) chosen so the volume centre is at about (0,0,0) mm.
  origin: [-158.75, -138.75, -118],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
};

export const SYNTHETIC_MARKERS: Record<'left' | 'superior' | 'anterior', { centre: Vec3; radiusMm: number; hu: number }> = {
  left: { centre: [90, 0, 0], radiusMm: 18, hu: 1000 },
  superior: { centre: [0, 20, 90], radiusMm: 16, hu: 300 },
  anterior: { centre: [0, -75, -40], radiusMm: 12, hu: -1000 },
};

/** Semi-axes (mm) of the body ellipse in x (left-right) and y (anterior-posterior). */
const BODY = { ax: 140, ay: 105, fatMm: 12 };

/**
 * The same anatomy stored the other way round in x and y (i → patient Right, j → Anterior, like a NIfTI RAS
 * array converted to LPS): the viewer must show exactly the same images, proving it uses the direction cosines.
 */
export const SYNTHETIC_GEOMETRY_FLIPPED: VolumeGeometry = {
  dimensions: [128, 112, 60],
  spacing: [2.5, 2.5, 4],
  origin: [158.75, 138.75, -118],
  direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1],
};

export function makeSyntheticVolume(opts: { flipped?: boolean } = {}): Volume<Int16Array> {
  const g = opts.flipped ? SYNTHETIC_GEOMETRY_FLIPPED : SYNTHETIC_GEOMETRY;
  const [nx, ny, nz] = g.dimensions;
  const data = new Int16Array(nx * ny * nz);
  const markers = Object.values(SYNTHETIC_MARKERS);
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const [x, y, z] = indexToWorld(g, [i, j, k]);
        const r = Math.hypot(x / BODY.ax, y / BODY.ay);
        let hu = -1000;
        if (r <= 1) hu = r > 1 - BODY.fatMm / BODY.ay ? -100 : 40;
        for (const m of markers) {
          if (Math.hypot(x - m.centre[0], y - m.centre[1], z - m.centre[2]) <= m.radiusMm) hu = m.hu;
        }
        data[i + nx * (j + ny * k)] = hu;
      }
    }
  }
  return {
    geometry: { ...g, dimensions: [...g.dimensions], spacing: [...g.spacing], origin: [...g.origin], direction: [...g.direction] },
    data,
    units: 'HU',
    meta: {
      modality: 'CT',
      patientName: 'SYNTHETIC^VIEWER',
      patientId: 'SYN-0001',
      studyDate: '20260101',
      studyInstanceUid: '2.25.1000000000000000000000000001',
      seriesInstanceUid: opts.flipped ? '2.25.1000000000000000000000000003' : '2.25.1000000000000000000000000002',
      seriesDescription: opts.flipped ? 'Synthetic orientation test volume (RA storage order)' : 'Synthetic orientation test volume',
      source: 'synthetic (built in)',
    },
  };
}
