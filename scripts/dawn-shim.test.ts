import { describe, expect, it } from 'vitest';
import { copySharedViewsOnWrite } from './dawn-shim';

/** A stand-in GPUQueue whose writeBuffer, like dawn.node's, rejects views of a SharedArrayBuffer. */
function fakeQueueClass() {
  const calls: { offset: number; data: ArrayBufferView; dataOffset?: number; size?: number }[] = [];
  class Queue {
    writeBuffer(_buffer: unknown, offset: number, data: ArrayBufferView, dataOffset?: number, size?: number) {
      if (data.buffer instanceof SharedArrayBuffer) throw new Error('Invalid argument');
      calls.push({ offset, data, dataOffset, size });
    }
  }
  return { Queue, calls };
}

describe('copySharedViewsOnWrite', () => {
  it('passes a plain copy of the written range of a shared view', () => {
    const { Queue, calls } = fakeQueueClass();
    expect(copySharedViewsOnWrite(Queue as unknown as { prototype: Record<string, unknown> })).toBe(true);
    const shared = new Uint8Array(new SharedArrayBuffer(16));
    shared.forEach((_, i) => (shared[i] = i)); // (map() would return a plain copy)
    const view = shared.subarray(4, 12); // like ORT's HEAPU8.subarray(ptr, ptr + size)
    new Queue().writeBuffer({}, 256, view, 2, 5);
    expect(calls).toHaveLength(1);
    expect(calls[0].offset).toBe(256);
    expect(view.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(calls[0].data.buffer).toBeInstanceOf(ArrayBuffer);
    expect([...(calls[0].data as Uint8Array)]).toEqual([6, 7, 8, 9, 10]);
    expect([calls[0].dataOffset, calls[0].size]).toEqual([0, 5]);
  });

  it('without offset and size: the whole view; element units for wider arrays', () => {
    const { Queue, calls } = fakeQueueClass();
    copySharedViewsOnWrite(Queue as unknown as { prototype: Record<string, unknown> });
    const f = new Float32Array(new SharedArrayBuffer(16));
    f.forEach((_, i) => (f[i] = i + 0.5));
    new Queue().writeBuffer({}, 0, f);
    new Queue().writeBuffer({}, 0, f, 1, 2);
    expect([...(calls[0].data as Float32Array)]).toEqual([0.5, 1.5, 2.5, 3.5]);
    expect([...(calls[1].data as Float32Array)]).toEqual([1.5, 2.5]);
  });

  it('leaves plain views untouched (same object, same arguments)', () => {
    const { Queue, calls } = fakeQueueClass();
    copySharedViewsOnWrite(Queue as unknown as { prototype: Record<string, unknown> });
    const plain = new Uint8Array(8);
    new Queue().writeBuffer({}, 4, plain, 1, 3);
    expect(calls[0].data).toBe(plain);
    expect([calls[0].dataOffset, calls[0].size]).toEqual([1, 3]);
  });

  it('reports false when there is no GPUQueue to patch', () => {
    expect(copySharedViewsOnWrite(undefined)).toBe(false);
    expect(copySharedViewsOnWrite({ prototype: {} })).toBe(false);
  });
});
