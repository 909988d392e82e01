import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vec3, VolumeGeometry } from '../core/geometry';
import { segment } from '../pipeline/run';
import { cylinderPhantom, dice, tinyManifest, tinyModelReference } from '../pipeline/synthetic';
import type { ModelSession } from './types';

const FIXTURES = path.resolve(__dirname, 'fixtures');
const TINY = path.join(FIXTURES, 'tiny-conv3d-softmax.onnx');
const RANK4 = path.join(FIXTURES, 'tiny-rank4-identity.onnx');

// onnxruntime-node ships its CPU binaries in the npm package; if the native module cannot load on this
// platform, say so and skip instead of failing every test with the same loader error.
let ortModule: typeof import('./ort-node') | undefined;
try {
  ortModule = await import('./ort-node');
} catch (e) {
  console.warn(`Skipping onnxruntime-node tests: the native module failed to load (${e instanceof Error ? e.message : String(e)})`);
}
const ort = ortModule!;

function randomTile(size: Vec3, seed: number): Float32Array {
  const n = size[0] * size[1] * size[2];
  const a = new Float32Array(n);
  let s = seed;
  for (let v = 0; v < n; v++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    a[v] = (s / 2147483648) * 2.4 - 1.2;
  }
  return a;
}

describe.skipIf(!ortModule)('onnxruntime-node wrapper', () => {
  let session: ModelSession;
  beforeAll(async () => {
    session = await ort.createNodeSession(TINY, { intraOpNumThreads: 1, manifest: tinyManifest() });
  });
  afterAll(async () => {
    await session?.dispose();
  });

  it('reads the model contract', () => {
    expect(session.backend).toBe('onnxruntime-node/cpu');
    expect(session.inputName).toBe('image');
    expect(session.outputName).toBe('probabilities');
    expect(session.outputChannels).toBe(3);
  });

  it('matches the pure TypeScript twin on non-cubic tiles (axis order W=i, H=j, D=k)', async () => {
    for (const size of [
      [8, 6, 4],
      [5, 9, 7],
      [16, 16, 16],
    ] as Vec3[]) {
      const tile = randomTile(size, size[0] * 31 + size[2]);
      const got = await session.predictTile(tile, size);
      const want = await tinyModelReference(tile, size);
      let maxDiff = 0;
      for (let v = 0; v < want.length; v++) maxDiff = Math.max(maxDiff, Math.abs(got[v] - want[v]));
      expect(got.length).toBe(3 * size[0] * size[1] * size[2]);
      expect(maxDiff).toBeLessThan(1e-5);
    }
  });

  it('same path → the same cached session; concurrent runs are queued and all correct', async () => {
    const again = await ort.createNodeSession(TINY, { intraOpNumThreads: 1 });
    expect(again.predictTile).toBe(session.predictTile);
    const size: Vec3 = [12, 10, 8];
    const tiles = [1, 2, 3, 4, 5, 6].map((s) => randomTile(size, s));
    const pending: number[] = [];
    const runs = tiles.map((t) => session.predictTile(t, size));
    pending.push(session.pending());
    const outs = await Promise.all(runs);
    expect(pending[0]).toBe(6);
    expect(session.pending()).toBe(0);
    for (let t = 0; t < tiles.length; t++) {
      const want = await tinyModelReference(tiles[t], size);
      expect(Math.max(...outs[t].map((v, i) => Math.abs(v - want[i])))).toBeLessThan(1e-5);
    }
  });

  it('a failing run rejects with INFERENCE_FAILED naming the model and tile; later runs still work', async () => {
    const bad = session.predictTile(new Float32Array(10), [4, 4, 4]);
    const good = session.predictTile(randomTile([4, 4, 4], 9), [4, 4, 4]);
    await expect(bad).rejects.toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringMatching(/10 values, size 4x4x4 = 64/) });
    expect((await good).length).toBe(192);
  });

  it('rejects a rank-4 model, garbage bytes and a manifest/model channel mismatch with BAD_MODEL', async () => {
    await expect(ort.createNodeSession(RANK4)).rejects.toMatchObject({
      code: 'BAD_MODEL',
      message: expect.stringMatching(/tiny-rank4-identity\.onnx: input "image" has rank 4 \[1, 1, H, W\]; the pipeline feeds rank 5/),
    });
    await expect(ort.createNodeSession(new Uint8Array([1, 2, 3, 4]), { cacheKey: 'garbage' })).rejects.toMatchObject({
      code: 'BAD_MODEL',
      message: expect.stringMatching(/Could not load ONNX model garbage/),
    });
    const m = tinyManifest();
    m.output.channels = 4;
    m.output.labels['3'] = 'liver';
    await expect(ort.createNodeSession(await readFile(TINY), { manifest: m, cacheKey: 'mismatch' })).rejects.toMatchObject({
      code: 'BAD_MODEL',
      message: expect.stringMatching(/has 3 channels .* manifest says output\.channels=4/),
    });
  });

  describe('loadNodeModel (models/<name>/ layout)', () => {
    let dir = '';
    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'psoas-model-'));
      await copyFile(TINY, path.join(dir, 'tiny-conv3d-softmax.onnx'));
    });
    afterAll(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });
    it('loads manifest + ONNX, checks the sha256', async () => {
      const m = tinyManifest();
      await writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ ...m, sha256: '0'.repeat(64) }));
      await expect(ort.loadNodeModel(dir)).rejects.toMatchObject({ code: 'BAD_MODEL', message: expect.stringMatching(/sha256 [0-9a-f]{64}, manifest .* says 0000/) });
      const { createHash } = await import('node:crypto');
      const sha = createHash('sha256').update(await readFile(TINY)).digest('hex');
      await writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ ...m, sha256: sha }));
      const { manifest, session: s } = await ort.loadNodeModel(dir, { intraOpNumThreads: 1 });
      expect(manifest.name).toBe('tiny-conv3d-softmax');
      expect(s.inputName).toBe('image');
      await s.dispose();
      await expect(s.predictTile(new Float32Array(8), [2, 2, 2])).rejects.toMatchObject({ code: 'INFERENCE_FAILED' });
    });
    it('names the manifest file when it is invalid', async () => {
      await writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ ...tinyManifest(), input: { ...tinyManifest().input, patch_size: [32, 32] } }));
      await expect(ort.loadNodeModel(dir)).rejects.toMatchObject({
        code: 'BAD_MODEL',
        message: expect.stringMatching(/manifest\.json: input\.patch_size has rank 2/),
      });
    });
  });

  it('end to end: segment() with the ONNX model through onnxruntime-node on a feet-first synthetic CT', async () => {
    // 100 x 110 x 40 voxels, 2.5 x 2 x 4 mm, axial feet-first with flipped rows (LAI): reorient and map back matter.
    const g: VolumeGeometry = { dimensions: [100, 110, 40], spacing: [2.5, 2, 4], origin: [-123.75, 109, 78], direction: [1, 0, 0, 0, -1, 0, 0, 0, -1] };
    const { ct, truth } = cylinderPhantom(g);
    const res = await segment(ct, tinyManifest(), session.predictTile);
    const d1 = dice(res.mask.data, truth, 1);
    const d2 = dice(res.mask.data, truth, 2);
    const ms = Object.fromEntries(Object.entries(res.timings).map(([k, v]) => [k, Math.round(v)]));
    console.info(`onnxruntime-node end to end: dice left ${d1.toFixed(3)} right ${d2.toFixed(3)}; ms ${JSON.stringify(ms)}`);
    expect(d1).toBeGreaterThan(0.95);
    expect(d2).toBeGreaterThan(0.95);
    // and the ONNX run agrees with the TS twin voxel for voxel (up to argmax ties on the boundary)
    const ref = await segment(ct, tinyManifest(), tinyModelReference);
    let differ = 0;
    for (let v = 0; v < ref.mask.data.length; v++) if (ref.mask.data[v] !== res.mask.data[v]) differ++;
    expect(differ).toBeLessThanOrEqual(5);
  });
});
