import { describe, expect, it } from 'vitest';
import { PsoasError } from '../core/errors';
import type { Vec3 } from '../core/geometry';
import type { ModelSession } from './types';
import { openWithFallback, type OpenedSession, type WebBackend } from './web-fallback';

/** A fake session: returns `value` filled tiles, or throws what `fail` gives for run number n (1-based). */
function fakeSession(backend: WebBackend, value: number, fail?: (run: number) => unknown) {
  let runs = 0;
  let disposed = 0;
  const session: ModelSession = {
    backend,
    source: 'fake',
    inputName: 'image',
    outputName: 'probabilities',
    outputChannels: 2,
    predictTile: async (tile: Float32Array, size: Vec3, signal?: AbortSignal) => {
      signal?.throwIfAborted();
      runs++;
      const err = fail?.(runs);
      if (err) throw err;
      return new Float32Array(2 * size[0] * size[1] * size[2]).fill(value);
    },
    pending: () => 0,
    dispose: async () => {
      disposed++;
    },
  };
  const opened: OpenedSession = { session, backend, placement: null, log: [] };
  return { opened, runs: () => runs, disposed: () => disposed };
}

const SIZE: Vec3 = [2, 2, 2];
const tile = () => new Float32Array(8);
const gpuError = () => new PsoasError('INFERENCE_FAILED', 'Model fake (onnxruntime-web/webgpu) failed on a tile: GPUOutOfMemoryError', SIZE);

function opener(gpu: ReturnType<typeof fakeSession> | Error, wasm: ReturnType<typeof fakeSession>) {
  const opened: WebBackend[] = [];
  return {
    opened,
    open: async (b: WebBackend) => {
      opened.push(b);
      if (b === 'onnxruntime-web/webgpu') {
        if (gpu instanceof Error) throw gpu;
        return gpu.opened;
      }
      return wasm.opened;
    },
  };
}

describe('WebGPU → WASM fallback', () => {
  it('runs on WebGPU when it works (no fallback reason, WASM never opened)', async () => {
    const gpu = fakeSession('onnxruntime-web/webgpu', 1);
    const wasm = fakeSession('onnxruntime-web/wasm', 2);
    const o = opener(gpu, wasm);
    const s = await openWithFallback({ open: o.open, webgpu: { use: true } });
    expect((await s.predictTile(tile(), SIZE))[0]).toBe(1);
    expect(s.current.backend).toBe('onnxruntime-web/webgpu');
    expect(s.fallbackReason).toBeUndefined();
    expect(o.opened).toEqual(['onnxruntime-web/webgpu']);
  });

  it('an op error during a run: recreate on WASM, re-run the same tile, later tiles on WASM', async () => {
    const gpu = fakeSession('onnxruntime-web/webgpu', 1, (n) => (n === 2 ? gpuError() : undefined));
    const wasm = fakeSession('onnxruntime-web/wasm', 2);
    const o = opener(gpu, wasm);
    const s = await openWithFallback({ open: o.open, webgpu: { use: true } });
    expect((await s.predictTile(tile(), SIZE))[0]).toBe(1);
    expect((await s.predictTile(tile(), SIZE))[0]).toBe(2); // failed on GPU, re-ran on WASM
    expect((await s.predictTile(tile(), SIZE))[0]).toBe(2);
    expect(s.current.backend).toBe('onnxruntime-web/wasm');
    expect(s.fallbackReason).toMatch(/WebGPU failed during a run \(.*GPUOutOfMemoryError\); re-ran on WASM/);
    expect([gpu.runs(), wasm.runs()]).toEqual([2, 2]);
    expect(gpu.disposed()).toBe(1);
  });

  it('concurrent failing tiles recreate the WASM session only once', async () => {
    const gpu = fakeSession('onnxruntime-web/webgpu', 1, () => gpuError());
    const wasm = fakeSession('onnxruntime-web/wasm', 2);
    const o = opener(gpu, wasm);
    const s = await openWithFallback({ open: o.open, webgpu: { use: true } });
    const outs = await Promise.all([1, 2, 3].map(() => s.predictTile(tile(), SIZE)));
    expect(outs.map((o) => o[0])).toEqual([2, 2, 2]);
    expect(o.opened).toEqual(['onnxruntime-web/webgpu', 'onnxruntime-web/wasm']);
  });

  it('a lost device switches before the next tile, naming the loss', async () => {
    const gpu = fakeSession('onnxruntime-web/webgpu', 1);
    const wasm = fakeSession('onnxruntime-web/wasm', 2);
    const device: { lost?: string } = {};
    const s = await openWithFallback({ open: opener(gpu, wasm).open, webgpu: { use: true }, lostReason: () => device.lost });
    expect((await s.predictTile(tile(), SIZE))[0]).toBe(1);
    device.lost = 'WebGPU device lost (destroyed)';
    expect((await s.predictTile(tile(), SIZE))[0]).toBe(2);
    expect(s.fallbackReason).toContain('WebGPU device lost (destroyed)');
    expect(gpu.runs()).toBe(1);
  });

  it.each([
    ['a cancel', () => new DOMException('Segmentation cancelled', 'AbortError'), 'AbortError'],
    ['a bad tile', () => new PsoasError('BAD_ARGUMENT', 'predictTile: tile has 7 values', 7), 'PsoasError'],
  ])('%s is passed through, no fallback', async (_what, make, name) => {
    const gpu = fakeSession('onnxruntime-web/webgpu', 1, () => make());
    const wasm = fakeSession('onnxruntime-web/wasm', 2);
    const o = opener(gpu, wasm);
    const s = await openWithFallback({ open: o.open, webgpu: { use: true } });
    await expect(s.predictTile(tile(), SIZE)).rejects.toMatchObject({ name });
    expect(s.current.backend).toBe('onnxruntime-web/webgpu');
    expect(s.fallbackReason).toBeUndefined();
    expect(o.opened).toEqual(['onnxruntime-web/webgpu']);
  });

  it('WebGPU session creation failure → WASM with the reason', async () => {
    const wasm = fakeSession('onnxruntime-web/wasm', 2);
    const s = await openWithFallback({
      open: opener(new PsoasError('BAD_MODEL', 'Could not load ONNX model m with onnxruntime-web/webgpu: unsupported op'), wasm).open,
      webgpu: { use: true },
    });
    expect(s.current.backend).toBe('onnxruntime-web/wasm');
    expect(s.fallbackReason).toMatch(/WebGPU session creation failed, using WASM: .*unsupported op/);
  });

  it('a model the pipeline cannot feed is rethrown at once (no WASM attempt)', async () => {
    const fault = Object.assign(new PsoasError('BAD_MODEL', 'Model m: input "image" has rank 4'), { modelFault: true });
    const wasm = fakeSession('onnxruntime-web/wasm', 2);
    const o = opener(fault, wasm);
    await expect(openWithFallback({ open: o.open, webgpu: { use: true } })).rejects.toThrow('has rank 4');
    expect(o.opened).toEqual(['onnxruntime-web/webgpu']);
  });

  it('no WebGPU: WASM, with the reason when one is given; failures on WASM are not retried', async () => {
    const wasm = fakeSession('onnxruntime-web/wasm', 2, (n) => (n === 1 ? new PsoasError('INFERENCE_FAILED', 'wasm OOM') : undefined));
    const s = await openWithFallback({ open: opener(new Error('unused'), wasm).open, webgpu: { use: false, reason: 'WebGPU has no adapter' } });
    expect(s.current.backend).toBe('onnxruntime-web/wasm');
    expect(s.fallbackReason).toBe('WebGPU has no adapter');
    await expect(s.predictTile(tile(), SIZE)).rejects.toThrow('wasm OOM');
    const plain = await openWithFallback({ open: opener(new Error('unused'), fakeSession('onnxruntime-web/wasm', 2)).open, webgpu: { use: false } });
    expect(plain.fallbackReason).toBeUndefined();
  });
});
