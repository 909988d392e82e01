import { describe, expect, it } from 'vitest';
import { indexToWorld, type Mat3, type Vec3, type VolumeGeometry } from '../core/geometry';
import { bodyBox, embedScores, extractBox, STAGES, segment, type PredictTile } from './run';
import { flipAxis } from './mirror';
import { cylinderPhantom, dice, PHANTOM_HU, tinyManifest, tinyModelReference } from './synthetic';

/** Direction matrices (column-major) of differently acquired series. */
const DIRS: Array<[string, Mat3]> = [
  ['axial head-first (LPS)', [1, 0, 0, 0, 1, 0, 0, 0, 1]],
  ['axial feet-first, flipped rows (LAI)', [1, 0, 0, 0, -1, 0, 0, 0, -1]],
  ['sagittal-like (PIR)', [0, 1, 0, 0, 0, -1, -1, 0, 0]],
  ['oblique 12° about z', [Math.cos(0.21), Math.sin(0.21), 0, -Math.sin(0.21), Math.cos(0.21), 0, 0, 0, 1]],
];

/** A grid of the given direction centred on the LPS origin, covering ~250 x 220 x 160 mm. */
function grid(direction: Mat3): VolumeGeometry {
  const g: VolumeGeometry = { dimensions: [0, 0, 0], spacing: [0, 0, 0], origin: [0, 0, 0], direction };
  // axis a of the grid: find the patient axis it mostly points along and give it that extent/spacing
  const extentMm = [250, 220, 160];
  const spacingFor = [2.5, 2.0, 4.0];
  for (let a = 0; a < 3; a++) {
    const col = [direction[3 * a], direction[3 * a + 1], direction[3 * a + 2]].map(Math.abs);
    const p = col.indexOf(Math.max(...col));
    g.spacing[a] = spacingFor[p];
    g.dimensions[a] = Math.round(extentMm[p] / spacingFor[p]);
  }
  const c = indexToWorld(g, [(g.dimensions[0] - 1) / 2, (g.dimensions[1] - 1) / 2, (g.dimensions[2] - 1) / 2]);
  g.origin = [-c[0], -c[1], -c[2]];
  return g;
}

describe('segment (pure TS model)', () => {
  it.each(DIRS)('%s: mask on the source grid matches the truth, left stays left', async (_name, dir) => {
    const g = grid(dir);
    const { ct, truth } = cylinderPhantom(g);
    const progress: string[] = [];
    const res = await segment(ct, tinyManifest(), tinyModelReference, {
      onProgress: (p) => {
        if (p.fraction === 1 && progress[progress.length - 1] !== p.stage) progress.push(p.stage);
      },
    });
    expect(res.mask.geometry).toEqual(g);
    expect(res.mask.units).toBe('label');
    expect(res.labels).toEqual({ 0: 'background', 1: 'psoas_left', 2: 'psoas_right' });
    const d1 = dice(res.mask.data, truth, 1);
    const d2 = dice(res.mask.data, truth, 2);
    console.info(`${_name}: dice left ${d1.toFixed(3)} right ${d2.toFixed(3)}; ms ${JSON.stringify(Object.fromEntries(Object.entries(res.timings).map(([k, v]) => [k, Math.round(v)])))}`);
    expect(d1).toBeGreaterThan(0.85);
    expect(d2).toBeGreaterThan(0.85);
    expect(res.steps.map((s) => s.step)).toEqual(STAGES);
    expect(progress).toEqual(STAGES);
    for (const s of STAGES) expect(res.timings[s]).toBeGreaterThanOrEqual(0);
    // mapped back only inside a box much smaller than the series
    const box = res.steps.find((s) => s.step === 'mapBack')!.box as { lo: number[]; hi: number[] };
    const boxVox = (box.hi[0] - box.lo[0]) * (box.hi[1] - box.lo[1]) * (box.hi[2] - box.lo[2]);
    expect(boxVox).toBeLessThan(0.5 * res.mask.data.length);
  });

  it('records what each spatial step did', async () => {
    const g = grid(DIRS[1][1]);
    const res = await segment(cylinderPhantom(g).ct, tinyManifest(), tinyModelReference);
    const [re, rs] = res.steps;
    expect(re.summary).toMatch(/LAI → LPS/);
    expect(re.flip).toEqual([false, true, true]);
    expect(rs.summary).toMatch(/trilinear 100x110x40 @ 2.5x2x4 mm LPS → 83x73x53/);
    // map back one source slice at a time gives the same mask as the default slabs
    const plane = g.dimensions[0] * g.dimensions[1];
    const thin = await segment(cylinderPhantom(g).ct, tinyManifest(), tinyModelReference, { maxSlabValues: 3 * plane });
    expect(thin.mask.data).toEqual(res.mask.data);
  });

  it('source already at the model spacing: the data are permuted (no resampling) and still map back exactly', async () => {
    // 3 mm isotropic, feet-first with flipped rows: only the reorientation step changes the grid
    const g: VolumeGeometry = { dimensions: [84, 74, 54], spacing: [3, 3, 3], origin: [-124.5, 109.5, 79.5], direction: [1, 0, 0, 0, -1, 0, 0, 0, -1] };
    const { ct, truth } = cylinderPhantom(g);
    const res = await segment(ct, tinyManifest(), tinyModelReference);
    expect(res.steps[0].summary).toBe('LAI → LPS: axes [0,1,2], flips [0,1,1]');
    expect(res.steps[1].summary).toMatch(/^already at 84x74x54 @ 3x3x3 mm LPS/);
    expect(dice(res.mask.data, truth, 1)).toBeGreaterThan(0.95);
    expect(dice(res.mask.data, truth, 2)).toBeGreaterThan(0.95);
  });

  it('a model in RAS orientation gives the same result (reorient handles it)', async () => {
    const g = grid(DIRS[0][1]);
    const { ct, truth } = cylinderPhantom(g);
    const res = await segment(ct, tinyManifest({ orientation: 'RAS' }), tinyModelReference);
    expect(res.steps[0].summary).toMatch(/LPS → RAS/);
    expect(dice(res.mask.data, truth, 1)).toBeGreaterThan(0.95);
    expect(dice(res.mask.data, truth, 2)).toBeGreaterThan(0.95);
  });

  it('maps model channels to project labels by name', async () => {
    const g = grid(DIRS[0][1]);
    const { ct, truth } = cylinderPhantom(g);
    const m = tinyManifest();
    m.output.labels = { '0': 'background', '1': 'psoas_right', '2': 'psoas_left' };
    const res = await segment(ct, m, tinyModelReference);
    // channel 2 (the 350 HU cylinder) is now called psoas_left → written as label 1
    expect(dice(res.mask.data, truth.map((v) => (v === 0 ? 0 : 3 - v)), 1)).toBeGreaterThan(0.95);
    expect(res.labels).toEqual({ 0: 'background', 1: 'psoas_left', 2: 'psoas_right' });
  });

  it('shrinks tiles to the device buffer limit from the manifest', async () => {
    const m = tinyManifest();
    // declared: 4 bytes x 8 channels per voxel → a 64 KiB buffer holds 2048 voxels → 8x16x16 tiles (multiple 8)
    m.webgpu = { max_storage_buffer_binding_bytes: 4 * 8 * 32 ** 3 };
    const { ct, truth } = cylinderPhantom(grid(DIRS[0][1]));
    const res = await segment(ct, m, tinyModelReference, { maxBufferBytes: 64 * 1024 });
    const inf = res.steps.find((s) => s.step === 'inference')!;
    expect(inf.tileSize).toEqual([8, 16, 16]);
    expect(dice(res.mask.data, truth, 1)).toBeGreaterThan(0.9);
  });

  it('an image without psoas-like tissue gives an empty mask', async () => {
    const g = grid(DIRS[0][1]);
    const { ct } = cylinderPhantom(g);
    ct.data.fill(-1000);
    const res = await segment(ct, tinyManifest(), tinyModelReference);
    expect(res.mask.data.every((v) => v === 0)).toBe(true);
    // The tiny model's zero padding makes the volume's corner voxels look like label 1 (box mean of air there
    // = -1 * 8/27 > -0.3): single model voxels (27 mm^3) that min_size_ml (1 mL) removes.
    expect(res.postprocess.map((r) => r.finalVoxels)).toEqual([0, 0]);
  });

  it('a model that sees only background: no map back at all', async () => {
    const res = await segment(cylinderPhantom(grid(DIRS[0][1])).ct, tinyManifest(), async (t) => {
      const o = new Float32Array(3 * t.length);
      o.fill(1, 0, t.length);
      return o;
    });
    expect(res.mask.data.every((v) => v === 0)).toBe(true);
    expect(res.steps.find((s) => s.step === 'mapBack')!.summary).toMatch(/no foreground/);
  });

  it('min_size_ml removes structures smaller than the minimum volume', async () => {
    const g = grid(DIRS[0][1]);
    const m = tinyManifest();
    // each cylinder is pi*16^2*100 mm^3 ≈ 80 mL
    m.postprocess.min_size_ml = 100;
    const res = await segment(cylinderPhantom(g).ct, m, tinyModelReference);
    expect(res.mask.data.every((v) => v === 0)).toBe(true);
    expect(res.postprocess.map((r) => r.finalVoxels)).toEqual([0, 0]);
  });

  it('component_gap_mm keeps a muscle split by a thin gap whole; without it only the larger piece stays', async () => {
    const g = grid(DIRS[0][1]); // 4 mm slices
    const { ct, truth } = cylinderPhantom(g);
    // A 12 mm band of fat across both cylinders at 10 < z <= 22 mm (patient LPS): pieces of 60 and 28 mm along z.
    for (let v = 0; v < truth.length; v++) {
      if (!truth[v]) continue;
      const [nx, ny] = g.dimensions;
      const z = indexToWorld(g, [v % nx, Math.floor(v / nx) % ny, Math.floor(v / (nx * ny))])[2];
      if (z > 10 && z <= 22) {
        ct.data[v] = PHANTOM_HU.fat;
        truth[v] = 0;
      }
    }
    const run = async (gapMm?: number) => {
      const m = tinyManifest();
      if (gapMm !== undefined) m.postprocess.component_gap_mm = gapMm;
      return segment(ct, m, tinyModelReference);
    };
    // Without a gap allowance (or a 6 mm one, under the band plus the model's blur) the 28 mm piece goes: Dice
    // against both pieces at most 2·60 / (60 + 88) ≈ 0.81, less the boundary error.
    for (const gapMm of [undefined, 0, 6]) {
      const res = await run(gapMm);
      for (const label of [1, 2]) expect(dice(res.mask.data, truth, label)).toBeLessThan(0.85);
    }
    const res = await run(24);
    for (const label of [1, 2]) expect(dice(res.mask.data, truth, label)).toBeGreaterThan(0.95);
  });

  it('foreground_threshold moves the surface inwards: nested masks, recorded in the map-back step', async () => {
    const g = grid(DIRS[0][1]);
    const { ct } = cylinderPhantom(g);
    const counts: number[] = [];
    let prev: Uint8Array | undefined;
    for (const t of [undefined, 0.6, 0.9]) {
      const m = tinyManifest();
      if (t !== undefined) m.postprocess.foreground_threshold = t;
      const res = await segment(ct, m, tinyModelReference);
      const mb = res.steps.find((s) => s.step === 'mapBack')!;
      if (t === undefined) expect(mb.foregroundThreshold).toBeUndefined();
      else expect(mb.summary).toMatch(new RegExp(`foreground p >= ${t}: -\\d+`));
      let n = 0;
      for (let v = 0; v < res.mask.data.length; v++) {
        if (res.mask.data[v] !== 0) n++;
        // every voxel kept at a higher threshold was kept, with the same label, at the lower one
        if (prev && res.mask.data[v] !== 0) expect(prev[v]).toBe(res.mask.data[v]);
      }
      counts.push(n);
      prev = res.mask.data;
    }
    console.info(`foreground voxels at t = 0.5 / 0.6 / 0.9: ${counts.join(' / ')}`);
    expect(counts[1]).toBeLessThan(counts[0]);
    expect(counts[2]).toBeLessThan(counts[1]);
    expect(counts[2]).toBeGreaterThan(0);
  });

  it('hu_refine.partial_volume_low: the window low bound of this series is half-way between its muscle and fat, recorded', async () => {
    const g = grid(DIRS[0][1]);
    const { ct } = cylinderPhantom(g);
    const m = tinyManifest();
    m.postprocess.hu_refine = { window: [-29, 400], min_probability: 0.4 };
    const fixed = await segment(ct, m, tinyModelReference);
    m.postprocess.hu_refine.partial_volume_low = true;
    const pv = await segment(ct, m, tinyModelReference);
    const hr = (r: typeof pv) => r.steps.find((s) => s.step === 'mapBack')!.huRefine as {
      window: [number, number]; levels?: { muscle: number; fat: number; low: number; note?: string };
    };
    expect(hr(fixed).window).toEqual([-29, 400]);
    expect(hr(fixed).levels).toBeUndefined();
    const lv = hr(pv).levels!;
    // noise-free: the fat around the cylinders is exactly fat; the interior median pools both labels (here two
    // "muscles" of 50 and 350 HU, so it lies between them)
    expect(lv.fat).toBe(PHANTOM_HU.fat);
    expect(lv.muscle).toBeGreaterThanOrEqual(PHANTOM_HU.left);
    expect(lv.muscle).toBeLessThanOrEqual(PHANTOM_HU.right);
    const mid = 0.5 * (lv.muscle + lv.fat);
    expect(lv.low).toBeCloseTo(Math.min(-29 + 25, Math.max(-29 - 25, mid)), 6);
    expect(hr(pv).window).toEqual([lv.low, 400]);
    expect(pv.steps.find((s) => s.step === 'mapBack')!.summary).toMatch(/low bound half-way between muscle \d+ and fat -100 HU/);
    // the cylinders' edges are sharp (no partial volume) so both bounds cut the same voxels
    expect(dice(pv.mask.data, fixed.mask.data, 1)).toBeGreaterThan(0.999);
  });

  it('hu_refine.extend_within_mm: the extension acts only near fat; masks nested between no extension and extension everywhere', async () => {
    const g = grid(DIRS[0][1]);
    const { ct } = cylinderPhantom(g);
    // A 6 mm ring of -40 HU tissue around the left cylinder (inside the window, just below the tiny model's class
    // threshold of -25 HU, so argmax says background but p(left) is 0.3-0.4 there), fat beyond it.
    const [nx, ny] = g.dimensions;
    for (let v = 0; v < ct.data.length; v++) {
      const [x, y, z] = indexToWorld(g, [v % nx, Math.floor(v / nx) % ny, Math.floor(v / (nx * ny))]);
      const r = Math.hypot(x - 45, y - 30);
      if (Math.abs(z) <= 50 && r > 16 && r <= 22) ct.data[v] = -40;
    }
    const run = async (p: number, mm?: number) => {
      const m = tinyManifest();
      m.postprocess.hu_refine = { window: [-60, 400], min_probability: p, ...(mm !== undefined ? { extend_within_mm: mm } : {}) };
      const res = await segment(ct, m, tinyModelReference);
      return { mask: res.mask.data, mb: res.steps.find((s) => s.step === 'mapBack')! };
    };
    const none = await run(0.5);
    const near = await run(0.25, 2);
    const all = await run(0.25);
    expect(near.mb.summary).toMatch(/inside with p >= 0.25 within 2 mm of HU < -60/);
    expect((near.mb.huRefine as { extend_within_mm?: number }).extend_within_mm).toBe(2);
    const count = (a: Uint8Array) => a.reduce((s, x) => s + (x === 1 ? 1 : 0), 0);
    for (let v = 0; v < ct.data.length; v++) {
      if (none.mask[v] === 1) expect(near.mask[v]).toBe(1);
      if (near.mask[v] === 1) expect(all.mask[v]).toBe(1);
    }
    const [a, b, c] = [count(none.mask), count(near.mask), count(all.mask)];
    console.info(`left voxels: no extension ${a}, extension within 2 mm of fat ${b}, everywhere in the window ${c}`);
    expect(b).toBeGreaterThan(a);
    expect(c).toBeGreaterThan(b);
    // every voxel the restricted extension added lies within 2 mm (in-plane, per axis) of a voxel below -60 HU
    const sp = g.spacing.map(Math.abs);
    const ri = Math.max(1, Math.round(2 / sp[0])), rj = Math.max(1, Math.round(2 / sp[1]));
    for (let v = 0; v < ct.data.length; v++) {
      if (near.mask[v] !== 1 || none.mask[v] === 1) continue;
      const i = v % nx, j = Math.floor(v / nx) % ny, k = Math.floor(v / (nx * ny));
      let found = false;
      for (let dj = -rj; dj <= rj && !found; dj++)
        for (let di = -ri; di <= ri && !found; di++) {
          const ii = i + di, jj = j + dj;
          if (ii >= 0 && ii < nx && jj >= 0 && jj < ny && ct.data[ii + nx * (jj + ny * k)] < -60) found = true;
        }
      expect(found).toBe(true);
    }
  });

  it('cancels via AbortSignal', async () => {
    const ac = new AbortController();
    let calls = 0;
    const run = segment(cylinderPhantom(grid(DIRS[0][1])).ct, tinyManifest(), async (t, s) => {
      if (++calls === 2) ac.abort();
      return tinyModelReference(t, s);
    }, { signal: ac.signal });
    await expect(run).rejects.toThrow(/abort/i);
    expect(calls).toBe(2);
  });

  it('refuses a label map as input', async () => {
    const { ct } = cylinderPhantom(grid(DIRS[0][1]));
    await expect(segment({ ...ct, units: 'label' }, tinyManifest(), tinyModelReference)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });
});

describe('body-box crop before tiling', () => {
  // A pointwise model (receptive field 1 voxel): tiling cannot change its output, so cropping must not either.
  const pointwise: PredictTile = async (tile, size) => {
    const P = size[0] * size[1] * size[2];
    const out = new Float32Array(3 * P);
    for (let v = 0; v < P; v++) {
      // tinyManifest normalisation: fat -0.6, left cylinder 0, right 1.2 → only the left one is foreground
      const fg = Math.abs(tile[v]) < 0.3 ? 1 : 0;
      out[v] = 1 - fg;
      out[P + v] = fg;
    }
    return out;
  };

  it('bodyBox / extractBox / embedScores round-trip', () => {
    const dims: Vec3 = [5, 4, 3];
    const vals = new Float32Array(60).fill(-1);
    vals[1 + 5 * (2 + 4 * 1)] = 0.5; // (1,2,1)
    vals[3 + 5 * (1 + 4 * 2)] = 0.25; // (3,1,2)
    const box = bodyBox(vals, dims, -1)!;
    expect(box).toEqual({ lo: [1, 1, 1], hi: [4, 3, 3] });
    const size: Vec3 = [3, 2, 2];
    const sub = extractBox(vals, dims, box.lo, size);
    expect(sub[0 + 3 * (1 + 2 * 0)]).toBe(0.5);
    expect(sub[2 + 3 * (0 + 2 * 1)]).toBe(0.25);
    const two = new Float32Array(2 * 12);
    two.set(sub, 12); // channel 1 = the values, channel 0 = 0
    const full = embedScores(two, size, box.lo, dims, 2);
    expect(full[60 + 1 + 5 * (2 + 4 * 1)]).toBe(0.5);
    expect(full[1 + 5 * (2 + 4 * 1)]).toBe(0); // inside the box: the box's channel 0
    expect(full[0]).toBe(1); // outside: background p = 1
    expect(full[60]).toBe(0);
    expect(bodyBox(new Float32Array(8).fill(-1), [2, 2, 2], -1)).toBeNull();
  });

  it('a pointwise model gives the identical mask with and without the crop, with fewer tiles', async () => {
    const g = grid(DIRS[0][1]);
    const { ct, truth } = cylinderPhantom(g);
    const m = tinyManifest();
    const a = await segment(ct, m, pointwise);
    const b = await segment(ct, m, pointwise, { cropToBody: false });
    expect(a.mask.data).toEqual(b.mask.data);
    expect(dice(a.mask.data, truth, 1)).toBeGreaterThan(0.9);
    const tiles = (r: typeof a) => r.steps.find((s) => s.step === 'inference')!.tiles as number;
    console.info(`body crop: ${tiles(a)} tiles instead of ${tiles(b)}`);
    expect(tiles(a)).toBeLessThan(tiles(b));
    expect(a.steps.find((s) => s.step === 'inference')!.summary).toMatch(/over the body box/);
  });

  it('sliding_window.mirror_lr: each tile runs as it is and mirrored along the model grid\'s L–R axis (i in LPS)', async () => {
    const g = grid(DIRS[0][1]);
    const { ct } = cylinderPhantom(g);
    const m = tinyManifest();
    m.sliding_window = { ...m.sliding_window, mirror_lr: true };
    const seen: Array<{ tile: Float32Array; size: Vec3 }> = [];
    const rec: PredictTile = (tile, size) => {
      seen.push({ tile: tile.slice(), size });
      return pointwise(tile, size);
    };
    const r = await segment(ct, m, rec);
    const inf = r.steps.find((s) => s.step === 'inference')!;
    expect(inf.summary).toMatch(/each also mirrored left–right \(2 runs per tile\)/);
    expect(seen.length).toBe(2 * (inf.tiles as number));
    for (let t = 0; t < seen.length; t += 2) expect(seen[t + 1].tile).toEqual(flipAxis(seen[t].tile, seen[t].size, 0));
  });

  it('sliding_window.grid_shifts: one network pass per placement; identical placements give the single-placement mask', async () => {
    const g = grid(DIRS[3][1]);
    const { ct, truth } = cylinderPhantom(g);
    const base = tinyManifest();
    const withShifts = (gs: Vec3[] | undefined) => {
      const m = tinyManifest();
      m.sliding_window = { ...m.sliding_window, grid_shifts: gs };
      return m;
    };
    let calls = 0;
    const counted: PredictTile = (tile, size, signal) => {
      calls++;
      return tinyModelReference(tile, size, signal);
    };
    const one = await segment(ct, base, counted);
    const oneCalls = calls;
    // [0,0,0] twice: the mean of two equal score fields is the field itself, bit for bit
    calls = 0;
    const twice = await segment(ct, withShifts([[0, 0, 0], [0, 0, 0]]), counted);
    expect(calls).toBe(2 * oneCalls);
    expect(twice.mask.data).toEqual(one.mask.data);
    expect(twice.steps.filter((s) => s.step === 'inference').map((s) => s.summary)).toEqual([
      expect.stringMatching(/\[placement 1\/2, shifted 0,0,0 model voxels\]$/),
      expect.stringMatching(/\[placement 2\/2, shifted 0,0,0 model voxels\]$/),
    ]);
    expect(twice.steps.find((s) => s.step === 'mapBack')!.summary).toMatch(/mean of 2 placements/);

    // half a model voxel apart: the second grid is the first moved by D·(0.5 ⊙ spacing) mm, and the averaged mask
    // still matches the truth (each placement alone is a valid segmentation of the same anatomy)
    const progress: number[] = [];
    const half = await segment(ct, withShifts([[0, 0, 0], [0.5, 0.5, 0.5]]), tinyModelReference, {
      onProgress: (p) => p.stage === 'inference' && progress.push(p.fraction),
    });
    const grids = half.steps.filter((s) => s.step === 'resample').map((s) => s.to as VolumeGeometry);
    expect(grids).toHaveLength(2);
    const moved = indexToWorld(grids[0], [0.5, 0.5, 0.5]);
    for (let c = 0; c < 3; c++) expect(grids[1].origin[c]).toBeCloseTo(moved[c], 9);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1]);
    expect(progress[progress.length - 1]).toBe(1);
    for (const v of [1, 2]) {
      const d = dice(half.mask.data, truth, v);
      console.info(`grid_shifts half voxel: label ${v} dice ${d.toFixed(4)} (one placement ${dice(one.mask.data, truth, v).toFixed(4)})`);
      expect(d).toBeGreaterThan(0.85);
    }
    // the masks differ (the shift does something) but little
    let diff = 0;
    for (let v = 0; v < one.mask.data.length; v++) if (one.mask.data[v] !== half.mask.data[v]) diff++;
    expect(diff).toBeGreaterThan(0);
    expect(diff / one.mask.data.length).toBeLessThan(0.01);
  });

  it.each([DIRS[0], DIRS[3]].map(([n, d]) => [n, d] as const))(
    'grid_shifts (%s): later placements run only near the first one\'s foreground, same mask as running every tile, fewer tiles',
    async (_n, dir) => {
      const { ct } = cylinderPhantom(grid(dir));
      // 16^3 tiles (48 mm), so that the cylinders' box (with its 12 mm margin) leaves tiles out
      const m = tinyManifest({ patch_size: [16, 16, 16] });
      m.sliding_window = { ...m.sliding_window, grid_shifts: [[0, 0, 0], [0.5, 0.5, 0.5], [-0.25, 0.5, 0]] };
      let calls = 0;
      const counted: PredictTile = (tile, size, signal) => {
        calls++;
        return tinyModelReference(tile, size, signal);
      };
      const all = await segment(ct, m, counted, { focusPlacements: false });
      const allCalls = calls;
      calls = 0;
      const ticks: { done: number; total: number }[] = [];
      const focused = await segment(ct, m, counted, { onProgress: (p) => p.tiles && ticks.push(p.tiles) });
      expect(calls).toBeLessThan(allCalls);
      // tile progress over all placements: done counts up to the tiles run; the total is an upper bound that
      // becomes exact in the last placement
      for (let i = 1; i < ticks.length; i++) {
        expect(ticks[i].done).toBeGreaterThanOrEqual(ticks[i - 1].done);
        expect(ticks[i].total).toBeGreaterThanOrEqual(calls);
      }
      expect(ticks[ticks.length - 1]).toEqual({ done: calls, total: calls });
      expect(ticks[0].total).toBeGreaterThan(calls);
      let diff = 0;
      for (let v = 0; v < all.mask.data.length; v++) if (all.mask.data[v] !== focused.mask.data[v]) diff++;
      expect(diff).toBe(0);
      const inf = focused.steps.filter((s) => s.step === 'inference');
      expect(inf[0].summary).not.toMatch(/tiles run/);
      for (const s of inf.slice(1)) expect(s.summary).toMatch(/; \d+ of \d+ tiles run, those within 12 mm of placement 1's foreground box/);
      console.info(`focused placements (${_n}): ${calls} tiles instead of ${allCalls}`);
    },
  );

  it('grid_shifts: when the first placement finds no foreground, the later ones are not run', async () => {
    const { ct } = cylinderPhantom(grid(DIRS[0][1]));
    const m = tinyManifest();
    m.sliding_window = { ...m.sliding_window, grid_shifts: [[0, 0, 0], [0.5, 0.5, 0.5]] };
    let calls = 0;
    const counted: PredictTile = async (t) => {
      calls++;
      const o = new Float32Array(3 * t.length);
      o.fill(1, 0, t.length);
      return o;
    };
    const r = await segment(ct, m, counted);
    const one = calls;
    calls = 0;
    await segment(ct, { ...m, sliding_window: { ...m.sliding_window, grid_shifts: undefined } }, counted);
    expect(one).toBe(calls);
    expect(r.mask.data.every((x) => x === 0)).toBe(true);
    expect(r.steps.filter((s) => s.step === 'inference')[1].summary).toMatch(/not run: placement 1 found no foreground/);
  });

  it('input.align_to_patient_axes: an oblique series is run on a grid along the patient axes, mapped back to its own grid', async () => {
    const aligned = () => {
      const m = tinyManifest();
      m.input = { ...m.input, align_to_patient_axes: true };
      return m;
    };
    // 20° about z, then 10° about x: no axis of the series is a patient axis
    const [cz, sz, cx, sx] = [Math.cos(0.349), Math.sin(0.349), Math.cos(0.1745), Math.sin(0.1745)];
    const dir: Mat3 = [cz, sz, 0, -sz * cx, cz * cx, sx, sz * sx, -cz * sx, cx];
    const g = grid(dir);
    const { ct, truth } = cylinderPhantom(g);
    const tilted = await segment(ct, tinyManifest(), tinyModelReference);
    const upright = await segment(ct, aligned(), tinyModelReference);
    const modelGrid = upright.steps.find((s) => s.step === 'resample')!.to as VolumeGeometry;
    expect(modelGrid.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const resampled = upright.steps.find((s) => s.step === 'resample')!;
    expect(resampled.summary).toMatch(/oblique series, tilted 2\d\.\d°: model grid along the patient axes/);
    expect(resampled.uprightFromTiltDeg).toBeGreaterThan(20);
    expect(resampled.uprightFromTiltDeg).toBeLessThan(23);
    expect((tilted.steps.find((s) => s.step === 'resample')!.to as VolumeGeometry).direction).not.toEqual(modelGrid.direction);
    expect(upright.mask.geometry).toEqual(g);
    for (const v of [1, 2]) {
      const d = dice(upright.mask.data, truth, v);
      console.info(`align_to_patient_axes: label ${v} dice ${d.toFixed(4)} (grid kept tilted ${dice(tilted.mask.data, truth, v).toFixed(4)})`);
      expect(d).toBeGreaterThan(0.85);
    }
    // a series that is not oblique: the flag changes nothing, bit for bit
    const straight = cylinderPhantom(grid(DIRS[1][1])).ct;
    const a = await segment(straight, tinyManifest(), tinyModelReference);
    const b = await segment(straight, aligned(), tinyModelReference);
    expect(b.mask.data).toEqual(a.mask.data);
    expect(b.steps.find((s) => s.step === 'resample')!.summary).not.toMatch(/oblique/);
    expect(b.steps.find((s) => s.step === 'resample')!.uprightFromTiltDeg).toBeUndefined();
  });

  it("input.outside_fill 'edge' / 'reflect': the corners outside a tilted series continue it instead of the window's low bound", async () => {
    // 20° about z, then 10° about x, as above. The body (fat around the cylinders, air around it) goes on along z: the
    // corners of the upright grid beyond the tilted series' top and bottom faces hold fat again with 'edge' /
    // 'reflect', and the HU window's low bound with 'clip_low'.
    const [cz, sz, cx, sx] = [Math.cos(0.349), Math.sin(0.349), Math.cos(0.1745), Math.sin(0.1745)];
    const g = grid([cz, sz, 0, -sz * cx, cz * cx, sx, sz * sx, -cz * sx, cx]);
    const { ct, truth } = cylinderPhantom(g);
    const fat = (PHANTOM_HU.fat - 50) / 250; // tinyManifest's normalisation
    const run = async (fill: 'clip_low' | 'edge' | 'reflect' | undefined) => {
      const m = tinyManifest({ align_to_patient_axes: true, ...(fill ? { outside_fill: fill } : {}) });
      let fatVoxels = 0;
      const predict: PredictTile = async (tile, size, signal) => {
        for (const x of tile) if (Math.abs(x - fat) < 1e-6) fatVoxels++;
        return tinyModelReference(tile, size, signal);
      };
      return { res: await segment(ct, m, predict), fatVoxels };
    };
    const def = await run(undefined);
    const low = await run('clip_low');
    expect(low.res.mask.data).toEqual(def.res.mask.data); // clip_low is the default
    for (const fill of ['edge', 'reflect'] as const) {
      const other = await run(fill);
      console.info(`outside_fill: tile voxels of fat ${low.fatVoxels} (clip_low), ${other.fatVoxels} (${fill})`);
      expect(other.fatVoxels).toBeGreaterThan(1.01 * low.fatVoxels); // ignoring outside_fill gives the same count
      expect(other.res.mask.geometry).toEqual(g);
      for (const v of [1, 2]) expect(dice(other.res.mask.data, truth, v)).toBeGreaterThan(0.85);
    }
  });

  it('the tiny 3x3x3 model: crop and no crop agree on >= 99.9 % of voxels', async () => {
    const g = grid(DIRS[3][1]);
    const { ct } = cylinderPhantom(g);
    const a = await segment(ct, tinyManifest(), tinyModelReference);
    const b = await segment(ct, tinyManifest(), tinyModelReference, { cropToBody: false });
    let same = 0;
    for (let v = 0; v < a.mask.data.length; v++) if (a.mask.data[v] === b.mask.data[v]) same++;
    expect(same / a.mask.data.length).toBeGreaterThanOrEqual(0.999);
  });
});
