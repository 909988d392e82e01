import { describe, expect, it } from 'vitest';
import { createSerialQueue } from './queue';
import { wrapOrtSession } from './session-common';
import type { OrtLikeSession, OrtLikeTensor } from './types';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fake onnxruntime session: records concurrency, echoes the input as C identical channels. */
function fakeSession(opts: { channels?: number; inShape?: Array<number | string>; fail?: (call: number) => boolean; outDims?: number[] } = {}) {
  let active = 0;
  let maxActive = 0;
  let calls = 0;
  const C = opts.channels ?? 2;
  const session: OrtLikeSession = {
    inputNames: ['image'],
    outputNames: ['probabilities'],
    inputMetadata: [{ name: 'image', isTensor: true, type: 'float32', shape: opts.inShape ?? [1, 1, 'D', 'H', 'W'] }],
    outputMetadata: [{ name: 'probabilities', isTensor: true, type: 'float32', shape: [1, C, 'D', 'H', 'W'] }],
    async run(feeds) {
      const call = ++calls;
      active++;
      maxActive = Math.max(maxActive, active);
      await sleep(5);
      active--;
      if (opts.fail?.(call)) throw new Error('Non-zero status code returned while running Conv node');
      const t = feeds.image as { data: Float32Array; dims: number[] };
      const out = new Float32Array(C * t.data.length);
      for (let c = 0; c < C; c++) out.set(t.data, c * t.data.length);
      const tensor: OrtLikeTensor = { dims: opts.outDims ?? [1, C, ...t.dims.slice(2)], type: 'float32', data: out };
      return { probabilities: tensor };
    },
    async release() {},
  };
  return { session, stats: () => ({ maxActive, calls }) };
}

const factory = (data: Float32Array, dims: number[]) => ({ data, dims });

describe('createSerialQueue', () => {
  it('runs jobs one at a time in order; a failure does not block the next job', async () => {
    const q = createSerialQueue();
    const log: string[] = [];
    const job = (name: string, ms: number, fail = false) => async () => {
      log.push(`start ${name}`);
      await sleep(ms);
      log.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    };
    const a = q(job('a', 10));
    const b = q(job('b', 1, true));
    const c = q(job('c', 1));
    expect(q.size).toBe(3);
    await expect(a).resolves.toBe('a');
    await expect(b).rejects.toThrow('b');
    await expect(c).resolves.toBe('c');
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(q.size).toBe(0);
  });
});

describe('wrapOrtSession', () => {
  it('never calls run concurrently, passes NCDHW dims [1, 1, z, y, x]', async () => {
    const { session, stats } = fakeSession();
    const s = wrapOrtSession(session, factory, { backend: 'fake', source: 'fake.onnx' }, { outputChannels: 2 });
    const tile = Float32Array.from({ length: 24 }, (_, i) => i);
    const outs = await Promise.all([1, 2, 3, 4, 5].map(() => s.predictTile(tile, [4, 3, 2])));
    expect(stats()).toEqual({ maxActive: 1, calls: 5 });
    expect(Array.from(outs[4].subarray(24))).toEqual(Array.from(tile));
  });

  it('wraps runtime errors into INFERENCE_FAILED with the model and tile size; queue keeps going', async () => {
    const { session } = fakeSession({ fail: (c) => c === 1 });
    const s = wrapOrtSession(session, factory, { backend: 'fake', source: 'models/psoas/model.onnx' });
    const first = s.predictTile(new Float32Array(8), [2, 2, 2]);
    const second = s.predictTile(new Float32Array(8), [2, 2, 2]);
    await expect(first).rejects.toMatchObject({
      code: 'INFERENCE_FAILED',
      message: expect.stringMatching(/models\/psoas\/model\.onnx \(fake\) failed on a tile of 2x2x2 voxels.*Conv node/),
    });
    await expect(second).resolves.toHaveLength(16);
  });

  it('checks the output shape against the tile', async () => {
    const { session } = fakeSession({ outDims: [1, 2, 2, 2, 3] });
    const s = wrapOrtSession(session, factory, { backend: 'fake', source: 'm.onnx' });
    await expect(s.predictTile(new Float32Array(8), [2, 2, 2])).rejects.toMatchObject({
      code: 'INFERENCE_FAILED',
      message: expect.stringMatching(/float32 \[1, 2, 2, 2, 3\]; expected float32 \[1, C, 2, 2, 2\]/),
    });
  });

  it.each([
    [[1, 3, 'D', 'H', 'W'], /has 3 channels .* the pipeline feeds 1/],
    [[1, 1, 64, 64], /has rank 4 \[1, 1, 64, 64\]/],
  ])('rejects input shape %j', (shape, re) => {
    const { session } = fakeSession({ inShape: shape as Array<number | string> });
    expect(() => wrapOrtSession(session, factory, { backend: 'fake', source: 'm.onnx' })).toThrow(re);
  });

  it('rejects unknown input/output names from the manifest', () => {
    const { session } = fakeSession();
    expect(() => wrapOrtSession(session, factory, { backend: 'fake', source: 'm.onnx' }, { inputName: 'ct' })).toThrow(
      /no input named "ct" \(inputs: image\)/,
    );
  });
});
