import { describe, expect, it } from 'vitest';
import type { VolumeGeometry } from '../core/geometry';
import type { Volume } from '../core/volume';
import { measureAll } from './index';
import { AXIAL_HF, curvedTube, voxelise } from './testShapes';

describe('performance on a full-size CT grid', () => {
  it('512 x 512 x 300 label map + Int16 CT, both psoas: well under the interactive budget', () => {
    // 0.78 x 0.78 x 1.5 mm: a typical abdominal CT; the psoas-like tubes sit left and right of the midline.
    const g: VolumeGeometry = {
      dimensions: [512, 512, 300],
      spacing: [0.78, 0.78, 1.5],
      origin: [-200, -200, -200],
      direction: AXIAL_HF,
    };
    const n = 512 * 512 * 300;
    const mask = new Uint8Array(n);
    const psoas = (z: number) => 5 + 12 * Math.sin((Math.PI * z) / 220) ** 0.7;
    const left = curvedTube(psoas, 220, 40, -35);
    const right = curvedTube(psoas, 220, -40, -35);
    // Shift: the shapes are defined from z = 0; move them into the grid by offsetting the grid origin instead.
    const gl = { ...g, origin: [g.origin[0] - 30, g.origin[1] - 20, g.origin[2]] as typeof g.origin };
    const gr = { ...g, origin: [g.origin[0] + 30, g.origin[1] - 20, g.origin[2]] as typeof g.origin };
    voxelise(gl, left, 1, mask);
    voxelise(gr, right, 2, mask);
    const ct: Volume<Int16Array> = { geometry: g, data: new Int16Array(n).fill(40), units: 'HU', meta: {} };
    const t0 = performance.now();
    const out = measureAll(ct, { geometry: g, data: mask }, undefined, { levelZmm: 100, heightM: 1.7 });
    const ms = performance.now() - t0;
    console.log(
      `512x512x300 measureAll: ${ms.toFixed(0)} ms; left ${out.structures.psoas_left.volume_ml.toFixed(1)} mL ` +
        `(truth ${(left.volumeMm3 / 1000).toFixed(1)}), length ${out.structures.psoas_left.length_mm.toFixed(1)} mm ` +
        `(truth ${left.lengthMm.toFixed(1)}); TPA ${out.tpa_cm2?.toFixed(2)} cm²`,
    );
    expect(out.structures.psoas_left.mean_hu).toBe(40);
    expect(out.structures.psoas_left.truncated).toBe(false);
    expect(Math.abs(out.structures.psoas_left.length_mm - left.lengthMm) / left.lengthMm).toBeLessThan(0.02);
    expect(Math.abs(out.structures.psoas_right.volume_mm3 - right.volumeMm3) / right.volumeMm3).toBeLessThan(0.02);
    // One pass over 78.6 M voxels plus bounding-box passes; measured ~0.3-0.6 s on a shared 2-core VM.
    expect(ms).toBeLessThan(8000);
  });
});
