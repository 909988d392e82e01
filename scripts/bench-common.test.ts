import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { benchPhantomBase, hasBenchPhantom, median, readBenchPhantom, writeBenchPhantom } from './bench-common';

describe('median', () => {
  it.each([
    [[], 0],
    [[5], 5],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
  ])('%j -> %d', (a, m) => expect(median(a)).toBe(m));
});

describe('bench phantom cache', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-common-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('writes and reads back the same voxels and geometry', async () => {
    const base = benchPhantomBase(dir, 3, [24, 20, 16]);
    expect(path.basename(base)).toBe('phantom-seed3-24x20x16');
    expect(hasBenchPhantom(base)).toBe(false);
    await writeBenchPhantom(base, 3, [24, 20, 16]);
    expect(hasBenchPhantom(base)).toBe(true);
    const { image, generateMs } = readBenchPhantom(base, 3);
    expect(image.geometry.dimensions).toEqual([24, 20, 16]);
    expect(image.data.length).toBe(24 * 20 * 16);
    expect(generateMs).toBeGreaterThanOrEqual(0);
    // a CT phantom: air outside, soft tissue and bone inside
    expect(Math.min(...image.data)).toBeLessThan(-500);
    expect(Math.max(...image.data)).toBeGreaterThan(100);
  });
});
