/**
 * The client's buffer handling and error transport, against a stand-in worker API exposed with comlink over a
 * MessageChannel (the real worker needs onnxruntime-web and a browser: see e2e/inference.spec.ts).
 */
import * as Comlink from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { PsoasError, isPsoasError } from '../core/errors';
import { IDENTITY, type Vec3 } from '../core/geometry';
import type { Volume } from '../core/volume';
import { createInferenceClient, isAbortError, type InferenceClient } from './client';
import type { InferenceWorkerApi, WorkerSegmentResult } from './worker';
import { installErrorTransfer } from './web-errors';

const geometry = { dimensions: [4, 3, 2] as Vec3, spacing: [1, 1, 1] as Vec3, origin: [0, 0, 0] as Vec3, direction: [...IDENTITY] as typeof IDENTITY };
const ct = (): Volume => ({ geometry, data: Int16Array.from({ length: 24 }, (_, i) => i * 10), units: 'HU', meta: { source: 'test' } });

interface Arrived {
  length: number;
  byteLength: number;
  first: number;
}

/** Fake worker: mask = 1 where HU >= 100; records what arrived (before handing the buffer back). */
function fakeApi(received: Arrived[]): InferenceWorkerApi {
  return {
    loadModel: async () => {
      throw new PsoasError('BAD_MODEL', 'Model package "x" version 1: ONNX file m.onnx has sha256 aa, but manifest says bb', { expected: 'bb', actual: 'aa' }, 'm.onnx');
    },
    segment: async (image, _opts, onProgress) => {
      received.push({ length: image.data.length, byteLength: image.data.buffer.byteLength, first: image.data[0] });
      if ((image.meta as { cancel?: boolean }).cancel) throw new DOMException('Segmentation cancelled', 'AbortError');
      await onProgress?.({ stage: 'inference', fraction: 1, tile: { done: 1, total: 1, ms: 5 } });
      const mask = Uint8Array.from(image.data as Int16Array, (v) => (v >= 100 ? 1 : 0));
      const out = {
        mask: { geometry: image.geometry, data: mask, units: 'label', meta: {} },
        image,
        timings: { tiles: [5] },
        backend: 'fake',
        steps: [],
        labels: { 1: 'psoas_left' },
        postprocess: [],
        model: { name: 'x', version: '1', sha256: 'aa' },
      } as unknown as WorkerSegmentResult;
      return Comlink.transfer(out, [mask.buffer, image.data.buffer as ArrayBuffer]);
    },
    cancel: () => 0,
    backendInfo: async () => ({}) as never,
    logs: () => ['a'],
    simulateDeviceLoss: async () => false,
  };
}

let clients: InferenceClient[] = [];
function setup() {
  installErrorTransfer();
  const { port1, port2 } = new MessageChannel();
  const received: Arrived[] = [];
  Comlink.expose(fakeApi(received), port1 as unknown as Comlink.Endpoint);
  const worker = Object.assign(port2, { terminate: () => port1.close() }) as unknown as Worker;
  const client = createInferenceClient(worker);
  clients.push(client);
  return { client, received };
}
afterEach(() => {
  for (const c of clients) c.terminate();
  clients = [];
});

describe('inference client', () => {
  it('transfers the CT by default and hands the buffer back in result.image', async () => {
    const { client, received } = setup();
    const vol = ct();
    const events: unknown[] = [];
    const r = await client.segment(vol, {}, (p) => events.push(p));
    expect(vol.data.length).toBe(0); // detached: it was transferred, not copied
    expect(Array.from(r.image.data)).toEqual(Array.from(ct().data));
    expect(Array.from(r.mask.data)).toEqual(Array.from(ct().data, (v) => (v >= 100 ? 1 : 0)));
    expect(r.mask.geometry).toEqual(geometry);
    expect(received[0]).toEqual({ length: 24, byteLength: 48, first: 0 });
    expect(events).toEqual([{ stage: 'inference', fraction: 1, tile: { done: 1, total: 1, ms: 5 } }]);
  });

  it('transfer: false sends a copy and leaves the caller\'s array alone', async () => {
    const { client } = setup();
    const vol = ct();
    const r = await client.segment(vol, { transfer: false });
    expect(vol.data.length).toBe(24);
    expect(r.image).toBe(vol);
    expect(r.mask.data.reduce((a, b) => a + b, 0)).toBe(14);
  });

  it('a view into a bigger buffer is copied to exactly its voxels (the rest of the buffer is not sent)', async () => {
    const { client, received } = setup();
    const big = new Int16Array(100).map((_, i) => i * 10);
    const view = big.subarray(10, 34);
    await client.segment({ ...ct(), data: view });
    expect(big.length).toBe(100); // not detached
    expect(received[0]).toEqual({ length: 24, byteLength: 48, first: 100 });
  });

  it('PsoasError crosses with code, value and source; AbortError keeps its name', async () => {
    const { client } = setup();
    const err = await client.loadModel({ url: '/models/x/manifest.json' }).catch((e: unknown) => e);
    expect(isPsoasError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'BAD_MODEL', value: { expected: 'bb', actual: 'aa' }, source: 'm.onnx' });
    const abort = await client.segment({ ...ct(), meta: { cancel: true } }).catch((e: unknown) => e);
    expect(isAbortError(abort)).toBe(true);
    expect(await client.logs()).toEqual(['a']);
  });
});
