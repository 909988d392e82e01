import { describe, expect, it } from 'vitest';
import type { Mat3, Vec3, VolumeGeometry } from '../core/geometry';
import { isPsoasError } from '../core/errors';
import type { Volume } from '../core/volume';
import { measureAll, measureStructure } from './index';
import {
  AXIAL_FF,
  AXIAL_HF,
  curvedTube,
  cylinder,
  gridAround,
  horizontalTube,
  obliqueTube,
  rotation,
  tiltedCappedTube,
  voxelise,
} from './testShapes';

const rel = (x: number, truth: number) => Math.abs(x - truth) / truth;

describe('axial CSA at a chosen level', () => {
  const cases: { name: string; spacing: Vec3; dir: Mat3; tol: number }[] = [
    { name: '1 mm axial', spacing: [1, 1, 1], dir: AXIAL_HF, tol: 0.02 },
    { name: '1 mm feet-first', spacing: [1, 1, 1], dir: AXIAL_FF, tol: 0.02 },
    { name: '1 mm rotated grid', spacing: [1, 1, 1], dir: rotation(20, 25), tol: 0.02 },
    { name: '0.7x0.7x3 axial', spacing: [0.7, 0.7, 3], dir: AXIAL_HF, tol: 0.02 },
    { name: '0.8x0.8x3 rotated grid', spacing: [0.8, 0.8, 3], dir: rotation(15, -20), tol: 0.04 },
  ];
  for (const r of [10, 18]) {
    it.each(cases)(`cylinder r=${r}: CSA = π r² ($name)`, ({ spacing, dir, tol }) => {
      const s = cylinder(r, -90.3, 95.2, 3, -7);
      const g = gridAround(s.bbox, spacing, dir);
      const m = measureStructure(null, { geometry: g, data: voxelise(g, s) }, 1, { levelZmm: 10.4 });
      const truth = Math.PI * r * r;
      console.log(`cylinder r=${r} ${spacing.join('x')}: CSA at level ${m.csa_at_level_mm2!.toFixed(1)} mm² (truth ${truth.toFixed(1)})`);
      expect(rel(m.csa_at_level_mm2!, truth)).toBeLessThan(tol);
      expect(m.csa_at_level_cm2).toBeCloseTo(m.csa_at_level_mm2! / 100, 12);
      expect(Math.abs(m.level_z_mm! - 10.4)).toBeLessThanOrEqual(spacing[2] / 2 + 1e-9);
      expect(rel(m.max_csa_mm2, truth)).toBeLessThan(tol + 0.02);
      // profile ascending in z and covers the shape
      const z = m.csa_profile.z_mm;
      for (let n = 1; n < z.length; n++) expect(z[n]).toBeGreaterThan(z[n - 1]);
    });
  }

  it('tilted tube: axial CSA is the ellipse π r²/cos θ (1 mm, axial and rotated grids)', () => {
    const s = obliqueTube(15, -80, 80, 30);
    for (const dir of [AXIAL_HF, rotation(20, 25)]) {
      const g = gridAround(s.bbox, [1, 1, 1], dir);
      const m = measureStructure(null, { geometry: g, data: voxelise(g, s) }, 1, { levelZmm: 0 });
      expect(rel(m.csa_at_level_mm2!, s.csaAt!.mm2)).toBeLessThan(0.02);
    }
  });

  it('CSA at a level above the mask is 0 and its mean HU null', () => {
    const s = cylinder(15, -50, 50);
    const g = gridAround([s.bbox[0], [15, 15, 80]], [1, 1, 2], AXIAL_HF);
    const m = measureStructure(null, { geometry: g, data: voxelise(g, s) }, 1, { levelZmm: 70 });
    expect(m.csa_at_level_mm2).toBe(0);
    expect(m.mean_hu_at_level).toBeNull();
  });

  it('level outside the series is a BAD_ARGUMENT naming the value', () => {
    const s = cylinder(10, -20, 20);
    const g = gridAround(s.bbox, [1, 1, 1], AXIAL_HF);
    const mask = { geometry: g, data: voxelise(g, s) };
    let err: unknown;
    try {
      measureStructure(null, mask, 1, { levelZmm: 500, source: 'case7.nii.gz' });
    } catch (e) {
      err = e;
    }
    expect(isPsoasError(err) && err.code).toBe('BAD_ARGUMENT');
    expect(String((err as Error).message)).toMatch(/500 mm.*case7\.nii\.gz/);
  });
});

/** Deterministic Gaussian noise (mulberry32 + Box-Muller). */
function rng(seed: number) {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
}

function ctOf(g: VolumeGeometry, fill: (idx: number) => number): Volume<Int16Array> {
  const n = g.dimensions[0] * g.dimensions[1] * g.dimensions[2];
  const data = new Int16Array(n);
  for (let i = 0; i < n; i++) data[i] = fill(i);
  return { geometry: g, data, units: 'HU', meta: {} };
}

describe('mean HU', () => {
  it.each([
    { name: 'axial 1 mm', spacing: [1, 1, 1] as Vec3, dir: AXIAL_HF },
    { name: 'rotated 0.8x0.8x2', spacing: [0.8, 0.8, 2] as Vec3, dir: rotation(20, 25) },
  ])('constant 45 HU + N(0, 15) noise inside, -100 HU fat outside ($name)', ({ spacing, dir }) => {
    const s = cylinder(14, -60, 60);
    const g = gridAround(s.bbox, spacing, dir);
    const mask = voxelise(g, s);
    const noise = rng(7);
    const ct = ctOf(g, (i) => (mask[i] ? Math.round(45 + 15 * noise()) : -100));
    const m = measureStructure(ct, { geometry: g, data: mask }, 1, { levelZmm: 5 });
    // Standard error of the mean over ~70k voxels is < 0.1 HU; rounding adds nothing on average.
    expect(Math.abs(m.mean_hu! - 45)).toBeLessThan(0.3);
    expect(Math.abs(m.mean_hu_muscle_window! - 45)).toBeLessThan(0.3);
    expect(m.muscle_window_fraction).toBeGreaterThan(0.99);
    expect(Math.abs(m.mean_hu_at_level! - 45)).toBeLessThan(2);
  });

  it('muscle window excludes fat and bone exactly: mean of {50 x2, -100, 200} = 50, window mean = 50', () => {
    // Voxels cycle through 50, 50, -100, 200 (linear index mod 4): mean 50; window [-29,150] keeps only the 50s.
    const s = cylinder(10, -20, 20);
    const g = gridAround(s.bbox, [1, 1, 1], AXIAL_HF);
    const mask = voxelise(g, s);
    const cycle = [50, 50, -100, 200];
    let c = 0;
    const ct = ctOf(g, (i) => (mask[i] ? cycle[c++ % 4] : 0));
    const m = measureStructure(ct, { geometry: g, data: mask }, 1);
    const n = m.voxel_count;
    const expectedMean = (cycle.reduce((a, b) => a + b, 0) * Math.floor(n / 4) + cycle.slice(0, n % 4).reduce((a, b) => a + b, 0)) / n;
    expect(m.mean_hu).toBeCloseTo(expectedMean, 9);
    expect(m.mean_hu_muscle_window).toBe(50);
    // Custom window that also admits fat: [-150, 150] -> mean of {50, 50, -100}
    const m2 = measureStructure(ct, { geometry: g, data: mask }, 1, { huWindow: [-150, 150] });
    expect(Math.abs(m2.mean_hu_muscle_window! - 0)).toBeLessThan(0.01);
  });

  it('no image: HU figures are null, geometry figures still computed', () => {
    const s = cylinder(10, -20, 20);
    const g = gridAround(s.bbox, [1, 1, 1], AXIAL_HF);
    const m = measureStructure(null, { geometry: g, data: voxelise(g, s) }, 1);
    expect(m.mean_hu).toBeNull();
    expect(m.mean_hu_muscle_window).toBeNull();
    expect(m.volume_ml).toBeGreaterThan(12);
  });
});

describe('truncation flag', () => {
  const s = cylinder(12, -100, 100);
  it.each([
    { name: 'cut by first slice', zlo: -50, zhi: 120, reasons: ['first slice'], dir: AXIAL_HF },
    { name: 'cut by last slice', zlo: -120, zhi: 50, reasons: ['last slice'], dir: AXIAL_HF },
    { name: 'cut by both', zlo: -50, zhi: 50, reasons: ['first slice', 'last slice'], dir: AXIAL_HF },
    // Feet-first: slice 0 is the TOP of the stack, so cutting the top is 'first slice'.
    { name: 'feet-first cut at the top', zlo: -120, zhi: 50, reasons: ['first slice'], dir: AXIAL_FF },
    { name: 'inside', zlo: -120, zhi: 120, reasons: [], dir: AXIAL_HF },
  ])('$name', ({ zlo, zhi, reasons, dir }) => {
    const g = gridAround([[-20, -20, zlo], [20, 20, zhi]], [1, 1, 2], dir, 0);
    const m = measureStructure(null, { geometry: g, data: voxelise(g, s) }, 1);
    expect(m.truncated_reasons).toEqual(reasons);
    expect(m.truncated).toBe(reasons.length > 0);
    if (reasons.length) {
      expect(m.warnings.join(' ')).toMatch(/lower limits/);
      // the visible part is what is measured (a lower limit)
      const visible = Math.min(zhi, 100) - Math.max(zlo, -100);
      expect(Math.abs(m.length_mm - visible)).toBeLessThan(2.5);
    }
  });

  it('in-plane FOV edge is named by the patient side it faces', () => {
    // Cylinder centred at x = +15 (patient left) in a grid that ends at x = +20: touches the left edge.
    const c = cylinder(12, -30, 30, 15, 0);
    const g = gridAround([[-20, -30, -40], [20, 30, 40]], [1, 1, 1], AXIAL_HF, 0);
    const m = measureStructure(null, { geometry: g, data: voxelise(g, c) }, 1);
    expect(m.truncated_reasons).toEqual(['left FOV edge']);
    const c2 = cylinder(12, -30, 30, 0, -25); // anterior (LPS: -y = anterior)
    const m2 = measureStructure(null, { geometry: g, data: voxelise(g, c2) }, 1);
    expect(m2.truncated_reasons).toEqual(['anterior FOV edge']);
  });
});

describe('edge margin: how far the mask stays from the edge of the series', () => {
  it.each([
    // cylinder z -100..100, r 12 at x = +5 (patient left), y = 0; grid x ±30, y ±40: 13 mm to the left edge, 23 mm
    // to the right one, 28 mm to the front and back
    { name: 'top nearest', zlo: -130, zhi: 110, to: 'last slice', mm: 10 },
    { name: 'bottom nearest', zlo: -106, zhi: 130, to: 'first slice', mm: 6 },
    { name: 'in-plane nearest', zlo: -140, zhi: 140, to: 'left FOV edge', mm: 13 },
  ])('$name', ({ zlo, zhi, to, mm }) => {
    const c = cylinder(12, -100, 100, 5, 0);
    const g = gridAround([[-30, -40, zlo], [30, 40, zhi]], [1, 1, 2], AXIAL_HF, 0);
    const m = measureStructure(null, { geometry: g, data: voxelise(g, c) }, 1);
    expect(m.truncated).toBe(false);
    expect(m.edge_margin_to).toBe(to);
    // between voxel centres: within one voxel of the analytic gap (2 mm slices, 1 mm in-plane)
    expect(Math.abs(m.edge_margin_mm! - mm)).toBeLessThanOrEqual(2);
  });

  it('0 when truncated, null when absent', () => {
    const c = cylinder(12, -100, 100);
    const g = gridAround([[-30, -40, -50], [30, 40, 130]], [1, 1, 2], AXIAL_HF, 0);
    const data = voxelise(g, c);
    const m = measureStructure(null, { geometry: g, data }, 1);
    expect(m.truncated_reasons).toEqual(['first slice']);
    expect(m.edge_margin_mm).toBe(0);
    expect(m.edge_margin_to).toBe('first slice');
    const none = measureStructure(null, { geometry: g, data: new Uint8Array(data.length) }, 1);
    expect(none.edge_margin_mm).toBeNull();
    expect(none.edge_margin_to).toBeNull();
  });
});

describe('TPA and PMI', () => {
  it('left + right cylinders: TPA = π(r1² + r2²), PMI = TPA(cm²)/h²', () => {
    const left = cylinder(12, -80, 80, 40, 10);
    const right = cylinder(14, -75, 85, -40, 10);
    const g = gridAround([[-60, -10, -90], [60, 30, 90]], [0.8, 0.8, 1], AXIAL_HF);
    const data = voxelise(g, left, 1);
    voxelise(g, right, 2, data);
    const h = 1.75;
    const out = measureAll(null, { geometry: g, data }, undefined, { levelZmm: 0, heightM: h });
    const truth = Math.PI * (144 + 196);
    expect(rel(out.tpa_mm2!, truth)).toBeLessThan(0.02);
    expect(out.tpa_mm2).toBeCloseTo(
      out.structures.psoas_left.csa_at_level_mm2! + out.structures.psoas_right.csa_at_level_mm2!,
      9,
    );
    expect(out.tpa_cm2).toBeCloseTo(out.tpa_mm2! / 100, 12);
    expect(out.pmi_cm2_per_m2).toBeCloseTo(out.tpa_cm2! / (h * h), 12);
    // 10.68 cm² / 3.0625 m² ≈ 3.49 cm²/m²
    expect(out.pmi_cm2_per_m2!).toBeGreaterThan(3.42);
    expect(out.pmi_cm2_per_m2!).toBeLessThan(3.56);
    expect(rel(out.structures.psoas_left.volume_mm3, left.volumeMm3)).toBeLessThan(0.01);
    expect(rel(out.structures.psoas_right.volume_mm3, right.volumeMm3)).toBeLessThan(0.01);
  });

  it('no TPA when one side is absent; height given in cm is rejected', () => {
    const left = cylinder(12, -80, 80, 40, 10);
    const g = gridAround([[-60, -10, -90], [60, 30, 90]], [1, 1, 2], AXIAL_HF);
    const data = voxelise(g, left, 1);
    const out = measureAll(null, { geometry: g, data }, undefined, { levelZmm: 0, heightM: 1.8 });
    expect(out.tpa_mm2).toBeUndefined();
    expect(out.pmi_cm2_per_m2).toBeUndefined();
    expect(out.structures.psoas_right.present).toBe(false);
    expect(out.warnings.join(' ')).toMatch(/psoas_right absent/);
    expect(() => measureAll(null, { geometry: g, data }, undefined, { levelZmm: 0, heightM: 180 })).toThrow(/cm/);
  });
});

describe('centreline special cases', () => {
  it.each([
    { spacing: [1, 1, 1] as Vec3, tol: 0.01 },
    { spacing: [0.7, 0.7, 3] as Vec3, tol: 0.03 },
    { spacing: [1, 1, 1] as Vec3, tol: 0.01, dir: rotation(20, 25) },
  ])('horizontal tube is walked along its principal axis ($spacing)', ({ spacing, tol, dir }) => {
    const s = horizontalTube(12, -90.4, 95.3);
    const g = gridAround(s.bbox, spacing, dir ?? AXIAL_HF);
    const m = measureStructure(null, { geometry: g, data: voxelise(g, s) }, 1);
    expect(m.length_method).toBe('principal-axis-centroid');
    console.log(`horizontal tube ${spacing.join('x')}: length ${m.length_mm.toFixed(2)} vs ${s.lengthMm.toFixed(2)}`);
    expect(rel(m.length_mm, s.lengthMm)).toBeLessThan(tol);
    // Axial CSA of a horizontal tube is its long rectangle: 2 r x L.
    expect(rel(m.max_csa_mm2, 2 * 12 * s.lengthMm)).toBeLessThan(tol + 0.02);
    expect(rel(m.volume_mm3, s.volumeMm3)).toBeLessThan(tol);
  });

  // Flat caps PERPENDICULAR to a tilted tube: the extreme axial slabs hold only part of the section, their centroids
  // leave the axis, and the plane end would overshoot by up to r·tan θ per end. The axis-ray end fixes this.
  it.each([
    { tilt: 15, spacing: [1, 1, 1] as Vec3, dir: AXIAL_HF, tol: 0.01 },
    { tilt: 30, spacing: [1, 1, 1] as Vec3, dir: AXIAL_HF, tol: 0.01 },
    { tilt: 45, spacing: [1, 1, 1] as Vec3, dir: AXIAL_HF, tol: 0.01 },
    { tilt: 30, spacing: [1, 1, 1] as Vec3, dir: rotation(20, 25), tol: 0.01 },
    { tilt: 30, spacing: [0.7, 0.7, 3] as Vec3, dir: AXIAL_HF, tol: 0.03 },
    { tilt: 30, spacing: [0.8, 0.8, 3] as Vec3, dir: rotation(15, -20), tol: 0.03 },
  ])('tube tilted $tilt° with perpendicular caps ($spacing)', ({ tilt, spacing, dir, tol }) => {
    const r = 12;
    const s = tiltedCappedTube(r, 200, tilt);
    const g = gridAround(s.bbox, spacing, dir);
    const m = measureStructure(null, { geometry: g, data: voxelise(g, s) }, 1);
    console.log(`capped tube tilt ${tilt}° ${spacing.join('x')}: length ${m.length_mm.toFixed(2)} vs axis ${s.lengthMm}`);
    expect(rel(m.length_mm, s.lengthMm)).toBeLessThan(tol);
    expect(rel(m.volume_mm3, s.volumeMm3)).toBeLessThan(tol);
    // End points on the axis (x = z·tan θ, y = 0), at the caps (s = 0 and s = 200).
    const t = (tilt * Math.PI) / 180;
    const [e0, e1] = m.centreline_endpoints_lps!;
    expect(Math.abs(e0[0] * Math.cos(t) - e0[2] * Math.sin(t))).toBeLessThan(2 * spacing[2]);
    expect(Math.abs(e0[0] * Math.sin(t) + e0[2] * Math.cos(t))).toBeLessThan(2 * spacing[2]);
    expect(Math.abs(e1[0] * Math.sin(t) + e1[2] * Math.cos(t) - 200)).toBeLessThan(2 * spacing[2]);
  });

  it.each([
    { name: 'curved psoas-like tube', shape: curvedTube((z) => 5 + 12 * Math.sin((Math.PI * z) / 220) ** 0.7, 220, -40, -35) },
    { name: 'tube with perpendicular caps tilted 30°', shape: tiltedCappedTube(12, 200, 30) },
  ])('robust to a ragged mask: 15 % of voxels dropped at random ($name)', ({ shape }) => {
    const g = gridAround(shape.bbox, [1, 1, 1], AXIAL_HF);
    const data = voxelise(g, shape);
    const u = rng(3);
    let kept = 0;
    for (let i = 0; i < data.length; i++) {
      if (data[i] && Math.abs(u()) < 0.189) data[i] = 0; // P(|N(0,1)| < 0.189) = 0.15
      else if (data[i]) kept++;
    }
    const m = measureStructure(null, { geometry: g, data }, 1);
    expect(m.voxel_count).toBe(kept);
    expect(rel(m.length_mm, shape.lengthMm)).toBeLessThan(0.01);
  });

  it('smoothing does not bias a straight tilted tube; unsmoothed still within 1 %', () => {
    const s = obliqueTube(15, -90, 90, 20, 135);
    const g = gridAround(s.bbox, [1, 1, 1], AXIAL_HF);
    const mask = { geometry: g, data: voxelise(g, s) };
    for (const smoothingMm of [0, 5, 15]) {
      const m = measureStructure(null, mask, 1, { smoothingMm });
      expect(rel(m.length_mm, s.lengthMm)).toBeLessThan(0.01);
    }
  });

  it('warns about a gap along z and about a second blob (sideways jump), not about a clean tube', () => {
    const g = gridAround([[-60, -20, -100], [60, 20, 100]], [1, 1, 2], AXIAL_HF);
    const clean = voxelise(g, cylinder(10, -80, 80));
    expect(measureStructure(null, { geometry: g, data: clean }, 1).warnings).toEqual([]);
    const gap = voxelise(g, cylinder(10, -80, -10));
    voxelise(g, cylinder(10, 10, 80), 1, gap);
    const mg = measureStructure(null, { geometry: g, data: gap }, 1);
    expect(mg.warnings.join(' ')).toMatch(/gap of 20\.0 mm/);
    const blob = voxelise(g, cylinder(10, -80, 80, -30, 0));
    voxelise(g, cylinder(8, 20, 40, 35, 0), 1, blob);
    const mb = measureStructure(null, { geometry: g, data: blob }, 1);
    expect(mb.warnings.join(' ')).toMatch(/jumps .* more than one component/);
  });

  it('a single-slice mask has length = slice thickness and extent = slice thickness', () => {
    const g: VolumeGeometry = { dimensions: [20, 20, 10], spacing: [1, 1, 2.5], origin: [0, 0, 0], direction: AXIAL_HF };
    const data = new Uint8Array(4000);
    for (let j = 5; j < 10; j++) for (let i = 5; i < 10; i++) data[i + 20 * (j + 20 * 4)] = 3;
    const m = measureStructure(null, { geometry: g, data }, 3);
    expect(m.length_mm).toBeCloseTo(2.5, 9);
    expect(m.extent_mm).toBeCloseTo(2.5, 9);
    expect(m.extent_z_range_mm).toEqual([8.75, 11.25]);
    expect(m.max_csa_mm2).toBe(25);
    expect(m.volume_ml).toBeCloseTo(0.0625, 12);
  });
});

describe('input errors', () => {
  const g: VolumeGeometry = { dimensions: [4, 4, 4], spacing: [1, 1, 1], origin: [0, 0, 0], direction: AXIAL_HF };
  it.each([
    { name: 'wrong data length', run: () => measureStructure(null, { geometry: g, data: new Uint8Array(10) }, 1), re: /10 voxels/ },
    { name: 'label 0', run: () => measureStructure(null, { geometry: g, data: new Uint8Array(64) }, 0), re: /got 0/ },
    {
      name: 'CT on another grid',
      run: () =>
        measureStructure(
          { geometry: { ...g, spacing: [2, 2, 2] }, data: new Int16Array(64), units: 'HU', meta: {} },
          { geometry: g, data: new Uint8Array(64) },
          1,
        ),
      re: /different grids/,
    },
    {
      name: 'singular direction',
      run: () => measureStructure(null, { geometry: { ...g, direction: [1, 0, 0, 1, 0, 0, 0, 0, 1] }, data: new Uint8Array(64) }, 1),
      re: /singular/,
    },
  ])('$name', ({ run, re }) => {
    let err: unknown;
    try {
      run();
    } catch (e) {
      err = e;
    }
    expect(isPsoasError(err) && err.code).toBe('BAD_ARGUMENT');
    expect((err as Error).message).toMatch(re);
  });

  it('absent label: present=false, zeros, a warning', () => {
    const m = measureStructure(null, { geometry: g, data: new Uint8Array(64) }, 2);
    expect(m.present).toBe(false);
    expect(m.volume_ml).toBe(0);
    expect(m.centreline_endpoints_lps).toBeNull();
    expect(m.warnings[0]).toMatch(/absent/);
  });
});

describe('sheared grid (gantry tilt: rows tilted, slices stacked along z)', () => {
  // IOP column direction tilted by 15° towards +z; slices advance along +z by 2 mm. Direction is NOT orthonormal;
  // voxel volume = 0.8 x 0.8 x 2 x cos 15°.
  const tau = (15 * Math.PI) / 180;
  const geometryFor = (zlo: number, zhi: number): VolumeGeometry => {
    const ny = Math.ceil(100 / (0.8 * Math.cos(tau)));
    const nz = Math.ceil((zhi - zlo + 2 * 0.8 * ny * Math.sin(tau)) / 2) + 4;
    return {
      dimensions: [70, ny, nz],
      spacing: [0.8, 0.8, 2],
      origin: [-27.7, -40.1, zlo - 0.8 * ny * Math.sin(tau) - 3.3],
      direction: [1, 0, 0, 0, Math.cos(tau), Math.sin(tau), 0, 0, 1],
    };
  };
  it.each([
    { shape: cylinder(14, -80.2, 85.7, 0, 0) },
    { shape: obliqueTube(10, -80.2, 85.7, 10, 90) },
  ])('$shape.name: volume within 2 %, length within 3 %, CSA by axial-plane sampling', ({ shape }) => {
    const g = geometryFor(shape.bbox[0][2], shape.bbox[1][2]);
    const m = measureStructure(null, { geometry: g, data: voxelise(g, shape) }, 1, { levelZmm: 0 });
    console.log(
      `sheared ${shape.name}: volume err ${(100 * rel(m.volume_mm3, shape.volumeMm3)).toFixed(2)}%, length err ` +
        `${(100 * rel(m.length_mm, shape.lengthMm)).toFixed(2)}%, CSA err ${(100 * rel(m.csa_at_level_mm2!, shape.csaAt!.mm2)).toFixed(2)}%`,
    );
    expect(m.csa_method).toBe('axial-plane-sampling');
    expect(m.truncated).toBe(false);
    expect(rel(m.volume_mm3, shape.volumeMm3)).toBeLessThan(0.02);
    expect(rel(m.length_mm, shape.lengthMm)).toBeLessThan(0.03);
    expect(rel(m.csa_at_level_mm2!, shape.csaAt!.mm2)).toBeLessThan(0.03);
  });
});
