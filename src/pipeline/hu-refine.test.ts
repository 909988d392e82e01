import { describe, expect, it } from 'vitest';
import { extendRadiusVoxels, MIN_LEVEL_VOXELS, nearLowMask, PV_LOW_RANGE_HU, refineByHu, thresholdForeground, tissueLevels } from './hu-refine';

// 3 channels (bg, left, right), 6 voxels; scores channel-major.
const bg = [0.9, 0.2, 0.6, 0.65, 0.1, 0.7];
const l = [0.05, 0.7, 0.3, 0.1, 0.1, 0.2];
const r = [0.05, 0.1, 0.1, 0.25, 0.8, 0.1];
const scores = Float32Array.from([...bg, ...l, ...r]);
const argmaxOf = () => Uint8Array.from([0, 1, 0, 0, 2, 0]);

describe('refineByHu', () => {
  it.each([
    // hu per voxel, expected labels, removed, added
    { name: 'all muscle HU: only confident-enough background voxels flip', hu: [50, 50, 50, 50, 50, 50], want: [0, 1, 1, 2, 2, 0], removed: 0, added: 2 },
    { name: 'fat everywhere: foreground removed, nothing added', hu: [-100, -100, -100, -100, -100, -100], want: [0, 0, 0, 0, 0, 0], removed: 2, added: 0 },
    { name: 'bone under a foreground voxel: removed', hu: [50, 400, 50, -100, 151, 50], want: [0, 0, 1, 0, 0, 0], removed: 2, added: 1 },
    { name: 'window edges are inclusive', hu: [-29, 150, -29, 150, -30, 151], want: [0, 1, 1, 2, 0, 0], removed: 1, added: 2 },
  ])('$name', ({ hu, want, removed, added }) => {
    const labels = argmaxOf();
    const r0 = refineByHu(scores, 3, 6, labels, (v) => hu[v], { window: [-29, 150], min_probability: 0.25 });
    expect(Array.from(labels)).toEqual(want);
    expect(r0).toEqual({ removed, added });
  });

  it('refuses an empty window', () => {
    expect(() => refineByHu(scores, 3, 6, argmaxOf(), () => 0, { window: [10, 10], min_probability: 0.3 })).toThrow(/low < high/);
  });

  it.each([
    // extension mask (extend_within_mm): only background voxels #2 (left 0.3) and #3 (right 0.25) may be claimed
    { at: [1, 1, 1, 1, 1, 1], want: [0, 1, 1, 2, 2, 0], added: 2 },
    { at: [0, 0, 1, 0, 0, 0], want: [0, 1, 1, 0, 2, 0], added: 1 },
    { at: [0, 0, 0, 0, 0, 0], want: [0, 1, 0, 0, 2, 0], added: 0 },
  ])('extension only where the mask allows it: $at', ({ at, want, added }) => {
    const labels = argmaxOf();
    const res = refineByHu(scores, 3, 6, labels, () => 50, { window: [-29, 150], min_probability: 0.25 }, Uint8Array.from(at));
    expect(Array.from(labels)).toEqual(want);
    expect(res).toEqual({ removed: 0, added });
  });

  it('the extension mask never keeps a voxel outside the window', () => {
    const labels = argmaxOf();
    const res = refineByHu(scores, 3, 6, labels, (v) => (v === 1 ? -100 : 50), { window: [-29, 150], min_probability: 0.25 }, new Uint8Array(6));
    expect(Array.from(labels)).toEqual([0, 0, 0, 0, 2, 0]);
    expect(res).toEqual({ removed: 1, added: 0 });
  });

  it('refuses an extension mask of the wrong size', () => {
    expect(() => refineByHu(scores, 3, 6, argmaxOf(), () => 0, { window: [-29, 150], min_probability: 0.3 }, new Uint8Array(5))).toThrow(/extension mask of 5 voxels for 6/);
  });
});

describe('nearLowMask, extendRadiusVoxels (extend_within_mm)', () => {
  // 9×7×2 slab: one fat voxel at (4, 3) in slice 0, slice 1 all muscle.
  const dims: [number, number, number] = [9, 7, 2];
  const hu = (v: number) => (v === 4 + 9 * 3 ? -100 : 50);

  it.each([
    { r: [1, 1] as [number, number], count: 9 },
    { r: [2, 1] as [number, number], count: 15 },
    { r: [4, 3] as [number, number], count: 63 },
  ])('a square of (2·$r.0 + 1) × (2·$r.1 + 1) voxels around the fat in its own slice only', ({ r, count }) => {
    const m = nearLowMask(hu, dims, -29, r);
    let s0 = 0, s1 = 0;
    for (let v = 0; v < 63; v++) s0 += m[v];
    for (let v = 63; v < 126; v++) s1 += m[v];
    expect(s0).toBe(count);
    expect(s1).toBe(0);
    expect(m[4 + r[0] + 9 * 3]).toBe(1);
    if (4 + r[0] + 1 < 9) expect(m[4 + r[0] + 1 + 9 * 3]).toBe(0);
  });

  it('the low bound is exclusive: a voxel at the bound is not fat', () => {
    expect(nearLowMask(() => -29, [3, 3, 1], -29, [1, 1]).every((x) => x === 0)).toBe(true);
    expect(nearLowMask(() => -29.5, [3, 3, 1], -29, [1, 1]).every((x) => x === 1)).toBe(true);
  });

  it.each([
    { mm: 4, spacing: [0.7, 0.7, 1] as [number, number, number], want: [6, 6] },
    { mm: 4, spacing: [1.5, 1.2, 5] as [number, number, number], want: [3, 3] },
    { mm: 1, spacing: [-1.5, 2.5, 3] as [number, number, number], want: [1, 1] }, // at least one voxel; sign ignored
  ])('$mm mm at spacing $spacing → $want voxels', ({ mm, spacing, want }) => {
    expect(extendRadiusVoxels(mm, spacing)).toEqual(want);
  });

  it.each([0, -2, Number.NaN])('refuses %s mm', (mm) => {
    expect(() => extendRadiusVoxels(mm, [1, 1, 1])).toThrow(/extend_within_mm must be > 0 mm/);
  });
});

describe('thresholdForeground', () => {
  it.each([
    // t, expected labels, removed. Foreground voxels: #1 left p 0.7, #4 right p 0.8.
    { t: 0.5, want: [0, 1, 0, 0, 2, 0], removed: 0 },
    { t: 0.75, want: [0, 0, 0, 0, 2, 0], removed: 1 },
    { t: 0.8, want: [0, 0, 0, 0, 2, 0], removed: 1 }, // inclusive: p == t keeps the label
    { t: 0.81, want: [0, 0, 0, 0, 0, 0], removed: 2 },
  ])('t = $t', ({ t, want, removed }) => {
    const labels = argmaxOf();
    // float32 0.8 is slightly above 0.8 in float64, so compare against the stored value for the inclusive case
    const tt = t === 0.8 ? scores[2 * 6 + 4] : t;
    expect(thresholdForeground(scores, 6, labels, tt)).toBe(removed);
    expect(Array.from(labels)).toEqual(want);
  });

  it.each([0.49, 1, Number.NaN])('refuses t = %s', (t) => {
    expect(() => thresholdForeground(scores, 6, argmaxOf(), t)).toThrow(/foreground_threshold must be in \[0.5, 1\)/);
  });
});

describe('tissueLevels (per-series partial-volume low bound)', () => {
  // 24×24×24 grid: a 12×12×12 cube of "muscle" at 6..17 in a body of "fat"; the voxels on the cube's faces are
  // half-and-half (partial volume), plus an air column and a bone slab beside it that must not count as fat.
  const dims: [number, number, number] = [24, 24, 24];
  const idx = (i: number, j: number, k: number) => i + 24 * (j + 24 * k);
  function scene(muscle: number, fat: number, noise = 0) {
    const hu = new Float32Array(24 ** 3).fill(fat);
    const fg = new Uint8Array(24 ** 3);
    let seed = 1;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 2 * noise;
    for (let k = 0; k < 24; k++)
      for (let j = 0; j < 24; j++)
        for (let i = 0; i < 24; i++) {
          const inside = [i, j, k].every((x) => x >= 6 && x <= 17);
          const face = inside && [i, j, k].some((x) => x === 6 || x === 17);
          hu[idx(i, j, k)] = (face ? 0.5 * (muscle + fat) : inside ? muscle : fat) + rnd();
          fg[idx(i, j, k)] = inside ? 1 : 0;
          if (i === 0) hu[idx(i, j, k)] = -1000; // air column: outside the shell anyway
          if (i === 21) hu[idx(i, j, k)] = 700; // bone slab inside the shell: not fat
        }
    return { hu, fg };
  }
  it.each([
    // muscle, fat, declared low, expected low (mid within ±25 of the declared bound, else limited)
    { muscle: 50, fat: -100, declared: -29, low: -25 },
    { muscle: 50, fat: -80, declared: -29, low: -15 },
    { muscle: 40, fat: -110, declared: -29, low: -35 },
    { muscle: 60, fat: -40, declared: -29, low: -29 + PV_LOW_RANGE_HU },
    { muscle: 20, fat: -190, declared: -29, low: -29 - PV_LOW_RANGE_HU },
  ])('muscle $muscle, fat $fat HU → low $low HU', ({ muscle, fat, declared, low }) => {
    const { hu, fg } = scene(muscle, fat);
    const t = tissueLevels(hu, fg, dims, declared);
    expect(t.muscle).toBe(muscle);
    expect(t.fat).toBe(fat);
    expect(t.low).toBeCloseTo(low, 5);
    expect(t.note === undefined).toBe(low === 0.5 * (muscle + fat));
    // interior = the 10×10×10 core (no partial-volume face voxels); fat = shell 2..4 voxels out, less the bone slab
    expect(t.muscleVoxels).toBe(10 ** 3);
  });
  it('medians: ±12 HU noise moves the levels by little', () => {
    const { hu, fg } = scene(50, -85, 12);
    const t = tissueLevels(hu, fg, dims, -29);
    expect(Math.abs(t.muscle - 50)).toBeLessThan(1.5);
    expect(Math.abs(t.fat + 85)).toBeLessThan(1.5);
    expect(Math.abs(t.low + 17.5)).toBeLessThan(1.5);
  });
  it('too small a mask: the declared bound is kept, and says why', () => {
    const { hu } = scene(50, -80);
    const fg = new Uint8Array(24 ** 3);
    for (let k = 10; k < 14; k++) for (let j = 10; j < 14; j++) for (let i = 10; i < 14; i++) fg[idx(i, j, k)] = 1; // 8 interior voxels
    const t = tissueLevels(hu, fg, dims, -29);
    expect(t.muscleVoxels).toBeLessThan(MIN_LEVEL_VOXELS);
    expect(t.low).toBe(-29);
    expect(t.note).toMatch(/too few voxels/);
  });
  it('refuses arrays that do not match the grid', () => {
    expect(() => tissueLevels(new Float32Array(10), new Uint8Array(10), dims, -29)).toThrow(/dims 24x24x24/);
  });
});
