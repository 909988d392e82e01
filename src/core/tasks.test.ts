import { describe, expect, it } from 'vitest';
import { copyInChunks, nextTask } from './tasks';
import { macrotasksDuring } from './tasks.testing';

describe('nextTask', () => {
  it('resolves after already queued macrotasks', async () => {
    const seen: string[] = [];
    setTimeout(() => seen.push('timer'), 0);
    await new Promise((r) => setTimeout(r, 1));
    const p = nextTask().then(() => seen.push('next'));
    seen.push('sync');
    await p;
    expect(seen).toEqual(['timer', 'sync', 'next']);
  });
});

describe('copyInChunks', () => {
  it.each([
    ['Int16Array, length a multiple of the chunk', Int16Array, 4096, 1024],
    ['Float32Array, a short last chunk', Float32Array, 1000, 300],
    ['Uint8Array, one chunk', Uint8Array, 10, 1 << 20],
    ['empty', Int16Array, 0, 16],
  ] as const)('%s: equal values, same type, a new buffer', async (_, T, n, chunk) => {
    const src = new T(n);
    for (let i = 0; i < n; i++) src[i] = (i * 7919) % 251 - 100;
    const dst = await copyInChunks(src, chunk);
    expect(dst).toBeInstanceOf(T);
    expect(dst.buffer).not.toBe(src.buffer);
    expect(Array.from(dst)).toEqual(Array.from(src));
  });

  it('lets the event loop run between chunks', async () => {
    const { ticks } = await macrotasksDuring(copyInChunks(new Int16Array(64), 1));
    expect(ticks).toBeGreaterThan(10);
  });
});
