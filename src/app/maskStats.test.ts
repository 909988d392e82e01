import { describe, expect, it } from 'vitest';
import { decodeRunLengths, labelCounts, runLengths } from './maskStats';

describe('mask summaries', () => {
  it('labelCounts counts every label value present', () => {
    expect(labelCounts(Uint8Array.from([0, 0, 1, 2, 2, 2, 0, 255]))).toEqual({ 0: 3, 1: 1, 2: 3, 255: 1 });
    expect(labelCounts(new Uint8Array(0))).toEqual({});
  });
  it('runLengths encodes consecutive runs in voxel order and decodes back exactly', () => {
    const a = Uint8Array.from([0, 0, 0, 1, 1, 2, 0, 0, 2]);
    expect(runLengths(a)).toEqual([0, 3, 1, 2, 2, 1, 0, 2, 2, 1]);
    expect(Array.from(decodeRunLengths(runLengths(a)))).toEqual(Array.from(a));
    expect(runLengths(new Uint8Array(0))).toEqual([]);
    expect(runLengths(new Uint8Array(5).fill(7))).toEqual([7, 5]);
  });
  it('a large, mostly empty mask stays small and round-trips', () => {
    const n = 64 * 64 * 40;
    const m = new Uint8Array(n);
    for (let k = 10; k < 30; k++) for (let j = 20; j < 30; j++) m.fill(1 + (k % 2), 10 + 64 * (j + 64 * k), 20 + 64 * (j + 64 * k));
    const runs = runLengths(m);
    expect(runs.length).toBeLessThan(1000);
    expect(decodeRunLengths(runs)).toEqual(m);
  });
});
