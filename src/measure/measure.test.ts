import { describe, expect, it } from 'vitest';
import type { Mat3, Vec3 } from '../core/geometry';
import { measureStructure } from './index';
import {
  AXIAL_FF,
  AXIAL_HF,
  curvedTube,
  cylinder,
  frustum,
  gridAround,
  obliqueTube,
  rotation,
  torusArc,
  voxelise,
  type Shape,
} from './testShapes';

interface GridSpec {
  name: string;
  spacing: Vec3;
  direction: Mat3;
  /** 'fine' = 1 mm voxels (volume ±0.5 %, length ±1 %); 'coarse' = 3 mm-class slices (±2 %, ±3 %). */
  cls: 'fine' | 'coarse';
  csaMethod: 'slice-count' | 'axial-plane-sampling';
}

const GRIDS: GridSpec[] = [
  { name: '1 mm axial head-first', spacing: [1, 1, 1], direction: AXIAL_HF, cls: 'fine', csaMethod: 'slice-count' },
  { name: '1 mm axial feet-first', spacing: [1, 1, 1], direction: AXIAL_FF, cls: 'fine', csaMethod: 'slice-count' },
  {
    name: '1 mm axial, in-plane rotated 30°',
    spacing: [1, 1, 1],
    direction: rotation(0, 30),
    cls: 'fine',
    csaMethod: 'slice-count',
  },
  {
    name: '1 mm oblique rotated grid (20° about x, 25° about z)',
    spacing: [1, 1, 1],
    direction: rotation(20, 25),
    cls: 'fine',
    csaMethod: 'axial-plane-sampling',
  },
  { name: '0.7x0.7x3 axial', spacing: [0.7, 0.7, 3], direction: AXIAL_HF, cls: 'coarse', csaMethod: 'slice-count' },
  { name: '0.7x0.7x3 feet-first', spacing: [0.7, 0.7, 3], direction: AXIAL_FF, cls: 'coarse', csaMethod: 'slice-count' },
  {
    name: '0.8x0.8x3 oblique rotated grid (15° about x, -20° about z)',
    spacing: [0.8, 0.8, 3],
    direction: rotation(15, -20),
    cls: 'coarse',
    csaMethod: 'axial-plane-sampling',
  },
];

const SHAPES: Shape[] = [
  cylinder(15, -100.3, 99.6),
  frustum(20, 8, -90.2, 110.4),
  obliqueTube(14, -80.6, 93.1, 30, 20),
  curvedTube(12, 190, 55, 30),
  // Psoas-like: runs down, out and forward (40 mm lateral, 35 mm anterior drift), tapering from r = 17 mm in its
  // lower-middle third to 5 mm at both ends.
  curvedTube((z) => 5 + 12 * Math.sin((Math.PI * z) / 220) ** 0.7, 220, -40, -35),
  // Arc whose ends are tilted 25° from z with caps perpendicular to the arc (ends found by the axis ray).
  torusArc(240, 13, 25),
];

const TOL = {
  fine: { volume: 0.005, length: 0.01, csa: 0.02 },
  coarse: { volume: 0.02, length: 0.03, csa: 0.04 },
};

const rel = (x: number, truth: number) => Math.abs(x - truth) / truth;

describe('measureStructure on analytic shapes (table: shape x grid)', () => {
  const cases = GRIDS.flatMap((g) => SHAPES.map((s) => ({ g, s })));
  it.each(cases.map((c) => [`${c.s.name} on ${c.g.name}`, c] as const))('%s', (_n, { g, s }) => {
    const geom = gridAround(s.bbox, g.spacing, g.direction);
    const data = voxelise(geom, s, 1);
    const m = measureStructure(null, { geometry: geom, data }, 1);
    const tol = TOL[g.cls];
    const errV = rel(m.volume_mm3, s.volumeMm3);
    const errL = rel(m.length_mm, s.lengthMm);
    console.log(
      `${s.name} | ${g.name}: volume ${m.volume_ml.toFixed(2)} mL (truth ${(s.volumeMm3 / 1000).toFixed(2)}, ` +
        `err ${(100 * errV).toFixed(3)}%), length ${m.length_mm.toFixed(2)} mm (truth ${s.lengthMm.toFixed(2)}, ` +
        `err ${(100 * errL).toFixed(3)}%)` +
        (s.csaAt ? `, max CSA ${m.max_csa_mm2.toFixed(1)} mm² at z=${m.max_csa_z_mm?.toFixed(1)}` : ''),
    );
    expect(m.present).toBe(true);
    expect(m.truncated).toBe(false);
    expect(m.csa_method).toBe(g.csaMethod);
    expect(m.warnings).toEqual([]);
    expect(m.length_method).toBe('axial-centroid');
    expect(errV).toBeLessThan(tol.volume);
    expect(errL).toBeLessThan(tol.length);
    // Extent: the shapes' z range, within one voxel z-extent.
    const [zlo, zhi] = s.zRange ?? [s.bbox[0][2], s.bbox[1][2]];
    expect(Math.abs(m.extent_mm - (zhi - zlo))).toBeLessThan(2 * g.spacing[2] + 1e-6);
    // Endpoints: inferior first, near the shape's end planes.
    const [e0, e1] = m.centreline_endpoints_lps!;
    expect(e0[2]).toBeLessThan(e1[2]);
    if (s.ends) {
      const d = (p: Vec3, q: Vec3) => Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
      expect(d(e0, s.ends[0])).toBeLessThan(2 * g.spacing[2]);
      expect(d(e1, s.ends[1])).toBeLessThan(2 * g.spacing[2]);
    } else {
      expect(Math.abs(e0[2] - zlo)).toBeLessThan(g.spacing[2]);
      expect(Math.abs(e1[2] - zhi)).toBeLessThan(g.spacing[2]);
    }
  });
});
