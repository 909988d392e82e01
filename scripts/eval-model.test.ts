/**
 * The shipped model package on phantoms NOT used in training or tuning (seeds 5001+; training uses 1000..1999,
 * post-processing was chosen on 4001+), across in-plane 0.7–1.5 mm, slices 1–5 mm, both slice orders, an oblique
 * grid, and a chest-only field of view. Same pipeline as the CLI and the browser (onnxruntime-node). Prints every
 * figure.
 *
 * HONEST STATUS: issue 3 asks for Dice >= 0.95 per side and volume/length within 3 % of the analytic truth. The
 * shipped model does NOT reach that on every case (see models/psoas-unet3d/MODEL_CARD.md for the measured figures).
 * The floors below are REGRESSION floors set a little under what the shipped package measured, so a worse model or a
 * pipeline bug fails CI; they are not the acceptance targets. The chest case (no psoas, < 1 mL) is the target itself.
 */
import { describe, expect, it } from 'vitest';
import { EVAL_CASES, HOLDOUT_CASES, VALIDATION_CASES, edgeCounts, evaluateCases, formatCase, slope, summarise, withCaudalExtension, withCaudalMargin, type CaseResult, type SideResult } from './eval-model';
import { indexToWorld } from '../src/core/geometry';
import { generatePhantom, phantomGrid } from '../src/core/phantom';

/** Per case: lowest Dice of either side, largest |volume error| and |length error| (fractions) of either side. */
const FLOORS: Record<string, { dice: number; vol: number; len: number }> = {
  // measured with psoas-unet3d 0.8.2 (min Dice / max |vol err| / max |len err| of the two sides):
  'fine-0.7x1-hf': { dice: 0.95, vol: 0.05, len: 0.03 }, //     0.967 /  3.5 % /  0.7 %
  'coarse-1.5x5-ff': { dice: 0.95, vol: 0.03, len: 0.03 }, //   0.969 /  1.6 % /  0.4 %
  'oblique-0.9x3': { dice: 0.94, vol: 0.07, len: 0.03 }, //     0.951 /  4.8 % /  0.95 %
  'mid-1.2x2-ff': { dice: 0.95, vol: 0.04, len: 0.03 }, //      0.971 /  2.0 % /  1.3 %
};

describe('shipped model on unseen phantoms', () => {
  it.each(EVAL_CASES.map((c) => [c.name, c] as const))(
    '%s',
    async (name, c) => {
      const [r] = await evaluateCases([c]);
      console.log(formatCase(r));
      if (c.noPsoas) {
        expect(r.mask_ml).toBeLessThan(1);
        return;
      }
      const f = FLOORS[name];
      expect(f, `no floor for ${name}`).toBeDefined();
      for (const side of ['psoas_left', 'psoas_right'] as const) {
        const s = r.sides![side];
        expect(s.dice, `${side} Dice`).toBeGreaterThanOrEqual(f.dice);
        expect(Math.abs(s.volume_err), `${side} volume error`).toBeLessThanOrEqual(f.vol);
        expect(Math.abs(s.length_err), `${side} length error`).toBeLessThanOrEqual(f.len);
      }
    },
    300_000,
  );
});

describe('edgeCounts (boundary vs distant errors)', () => {
  // 12×12×12 grid; truth: a 4×4×4 cube of label 1 at 4..7
  const dims: [number, number, number] = [12, 12, 12];
  const cube = (lo: number, hi: number, v = 1, into = new Uint8Array(12 ** 3)) => {
    for (let k = lo; k <= hi; k++) for (let j = lo; j <= hi; j++) for (let i = lo; i <= hi; i++) into[i + 12 * (j + 12 * k)] = v;
    return into;
  };
  const truth = cube(4, 7);
  it.each([
    // mask, expected {fn, fp}
    ['identical', cube(4, 7), { fn: 0, fp: 0 }],
    ['one voxel thinner on every face: 64 - 8 missed, all at the edge', cube(5, 6), { fn: 56, fp: 0 }],
    ['one voxel thicker: 216 - 64 extra, all at the edge', cube(3, 8), { fn: 0, fp: 152 }],
    ['a far extra blob (2×2×2 at 0..1, 3 voxels from the truth)', cube(0, 1, 1, cube(4, 7)), { fn: 0, fp: 0 }],
    ['the other label does not count', cube(4, 7, 2), { fn: 0, fp: 0 }],
  ] as const)('%s', (_n, mask, want) => {
    const missed = [...truth].filter((t, q) => t === 1 && mask[q] !== 1).length;
    const got = edgeCounts(mask, truth, dims, 1);
    expect(got).toEqual(want);
    expect(got.fn).toBeLessThanOrEqual(missed);
  });
});

describe('summarise (per-variant figures of a set)', () => {
  const side = (dice: number, volume_err: number, length_err: number, truth_volume_ml = 0): SideResult => ({
    dice, volume_err, length_err, volume_ml: 0, truth_volume_ml, length_mm: 0, truth_length_mm: 0,
    fp_by_structure: {}, fn_voxels: 0, fn_edge_voxels: 0, fp_edge_voxels: 0, ends_mm: { cranial: 0, caudal: 0 }, edge_margin_mm: null, edge_margin_to: null, assd_mm: null, hd95_mm: null, hd_mm: null,
  });
  const res = (name: string, l: SideResult, r: SideResult): CaseResult =>
    ({ name, dims: [1, 1, 1], spacing: [1, 1, 1], seconds: { generate: 0, segment: 0 }, mask_ml: 0, sides: { psoas_left: l, psoas_right: r } });
  it('groups by the #variant suffix, leaves out cases without psoas, counts each target', () => {
    const chest: CaseResult = { name: 'chest#1', dims: [1, 1, 1], spacing: [1, 1, 1], seconds: { generate: 0, segment: 0 }, mask_ml: 0 };
    const out = summarise([
      res('a#0', side(0.96, 0.02, 0.01), side(0.94, -0.04, 0.0)),
      res('a#1', side(0.97, 0.031, -0.035), side(0.951, 0.0, 0.03)),
      chest,
    ]);
    expect(out.map((s) => [s.variant, s.sides])).toEqual([[0, 2], [1, 2]]);
    const [v0, v1] = out;
    expect(v0.mean_dice).toBeCloseTo(0.95, 12);
    expect(v0.min_dice).toBe(0.94);
    expect(v0.signed_vol).toBeCloseTo(-0.01, 12);
    expect(v0.abs_vol).toBeCloseTo(0.03, 12);
    expect(v0.abs_len).toBeCloseTo(0.005, 12);
    expect([v0.dice_ok, v0.vol_ok, v0.len_ok, v0.all_ok]).toEqual([1, 1, 2, 1]);
    // 3.1 % volume and 3.5 % length miss; exactly 3 % passes
    expect([v1.dice_ok, v1.vol_ok, v1.len_ok, v1.all_ok]).toEqual([2, 1, 1, 1]);
  });
  it('size_slope: the signed volume error per 100 mL of truth volume', () => {
    // small muscles +4 %, large ones −2 %: −6 points over 200 mL
    const [s] = summarise([res('a', side(1, 0.04, 0, 150), side(1, -0.02, 0, 350)), res('b', side(1, 0.01, 0, 250), side(1, 0.01, 0, 250))]);
    expect(s.size_slope).toBeCloseTo(-0.03, 12);
    expect(summarise([res('c', side(1, 0.04, 0, 200), side(1, -0.02, 0, 200))])[0].size_slope).toBeNaN();
  });
  it.each([
    ['a line', [0, 1, 2], [1, 3, 5], 2],
    ['no dependence', [1, 2, 3, 4], [5, 5, 5, 5], 0],
    ['noise around a falling line', [1, 2, 3], [3.1, 1.9, 1.0], -1.05],
  ])('slope: %s', (_n, x, y, want) => expect(slope(x, y)).toBeCloseTo(want, 10));
  it('surface distances: mean ASSD, mean and largest HD95 over the sides that have them; NaN when none has', () => {
    const withSd = (assd: number | null, hd95: number | null): SideResult => ({ ...side(1, 0, 0), assd_mm: assd, hd95_mm: hd95, hd_mm: hd95 });
    const [s] = summarise([res('a', withSd(0.4, 1.5), withSd(0.6, 3.5)), res('b', withSd(null, null), withSd(0.2, 1))]);
    expect(s.mean_assd_mm).toBeCloseTo(0.4, 12);
    expect(s.mean_hd95_mm).toBeCloseTo(2, 12);
    expect(s.max_hd95_mm).toBe(3.5);
    const [none] = summarise([res('c', withSd(null, null), withSd(null, null))]);
    expect(none.mean_hd95_mm).toBeNaN();
    expect(none.max_hd95_mm).toBeNaN();
  });
  it('a run without variants is variant 0', () => {
    expect(summarise([res('x', side(1, 0, 0), side(1, 0, 0))]).map((s) => s.variant)).toEqual([0]);
  });
});

describe('phantom sets', () => {
  it('validation, eval and hold-out use disjoint seeds and names, none in the training range 1000..1999', () => {
    const all = [...VALIDATION_CASES, ...EVAL_CASES, ...HOLDOUT_CASES];
    const seeds = all.map((c) => c.phantom.seed);
    expect(new Set(seeds).size).toBe(all.length);
    expect(new Set(all.map((c) => c.name)).size).toBe(all.length);
    expect(seeds.filter((x) => x >= 1000 && x <= 1999)).toEqual([]);
  });
});

describe('withCaudalMargin (a straight series cut just below the psoas)', () => {
  const base = { name: 'c', phantom: { seed: 4101, spacing: [3, 3, 4] as [number, number, number] } };
  /** Patient z (mm) of the lowest slice with psoas and of the caudal face (lowest slice centre), straight grid. */
  const lowAndFace = (c: typeof base) => {
    const ph = generatePhantom(c.phantom);
    const g = ph.labels.geometry;
    const [nx, ny, nz] = g.dimensions;
    const zs: number[] = [];
    for (let k = 0; k < nz; k++)
      if (ph.labels.data.subarray(k * nx * ny, (k + 1) * nx * ny).some((l) => l === 1 || l === 2)) zs.push(indexToWorld(g, [0, 0, k])[2]);
    return { low: Math.min(...zs), face: Math.min(indexToWorld(g, [0, 0, 0])[2], indexToWorld(g, [0, 0, nz - 1])[2]), ph };
  };

  it.each([5, 20])('puts the caudal face %s mm below the lowest psoas slice (within one slice), same anatomy', (mm) => {
    const before = lowAndFace(base);
    const moved = withCaudalMargin(base, mm);
    expect(moved.name).toBe(`c_${mm}`);
    const after = lowAndFace(moved as typeof base);
    // the grid moves by a fraction of a slice too, so the lowest psoas slice may move by up to one slice (4 mm)
    expect(after.low - after.face).toBeGreaterThanOrEqual(mm - 4);
    expect(after.low - after.face).toBeLessThanOrEqual(mm + 4);
    expect(before.low - before.face).toBeGreaterThan(mm + 4); // the default field of view reaches further down
    expect(after.ph.truth.psoas_left.volume_ml).toBe(before.ph.truth.psoas_left.volume_ml);
    expect(after.ph.image.geometry.dimensions).toEqual(before.ph.image.geometry.dimensions);
  });

  it('refuses an oblique case', () => {
    expect(() => withCaudalMargin({ name: 'o', phantom: { ...base.phantom, oblique: true } }, 10)).toThrow(/o is oblique/);
  });
});

describe('withCaudalExtension (the field of view extended towards the feet)', () => {
  it.each([
    ['straight, head first', { seed: 4102, spacing: [3, 3, 4] as [number, number, number] }],
    ['straight, feet first', { seed: 4102, spacing: [3, 3, 4] as [number, number, number], sliceOrder: 'feet-first' as const }],
    ['tilted 25°', { seed: 4102, spacing: [3, 3, 4] as [number, number, number], oblique: { angleDeg: 25, axis: [-0.5, 1, 0.3] as [number, number, number] } }],
  ])('%s: adds whole slices at the caudal end only', (_, phantom) => {
    const before = phantomGrid(phantom).geometry;
    const moved = withCaudalExtension({ name: 'c', phantom }, 30);
    expect(moved.name).toBe('c+30');
    const after = phantomGrid(moved.phantom).geometry;
    const n = Math.ceil(30 / 4);
    expect(after.dimensions).toEqual([before.dimensions[0], before.dimensions[1], before.dimensions[2] + n]);
    // the old grid is part of the new one: every old slice is a new slice (same centre), so the cranial face is kept
    const headFirst = before.direction[8] < 0;
    const [nx, ny, nz] = before.dimensions;
    for (const [i, j, k] of [[0, 0, 0], [nx - 1, ny - 1, nz - 1], [7, 3, 5]]) {
      const w = indexToWorld(before, [i, j, k]);
      const v = indexToWorld(after, [i, j, headFirst ? k : k + n]);
      for (let a = 0; a < 3; a++) expect(v[a]).toBeCloseTo(w[a], 6);
    }
    // and the added slices lie below the old caudal face
    const lowOld = Math.min(indexToWorld(before, [0, 0, 0])[2], indexToWorld(before, [0, 0, nz - 1])[2]);
    const lowNew = Math.min(indexToWorld(after, [0, 0, 0])[2], indexToWorld(after, [0, 0, nz + n - 1])[2]);
    expect(lowNew).toBeLessThan(lowOld - 20);
  });
});
