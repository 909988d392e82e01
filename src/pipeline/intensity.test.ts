import { describe, expect, it } from 'vitest';
import { clipNormalise, normaliseValue } from './intensity';

describe('clipNormalise', () => {
  const z = { clip: [-200, 300] as [number, number], normalise: { mean: 50, std: 250 } };
  const mm = { clip: [-100, 100] as [number, number], normalise: 'minmax' as const };
  it.each([
    ['z-score', z, -1000, -1],
    ['z-score', z, -200, -1],
    ['z-score', z, 50, 0],
    ['z-score', z, 175, 0.5],
    ['z-score', z, 3000, 1],
    ['minmax', mm, -1024, 0],
    ['minmax', mm, 0, 0.5],
    ['minmax', mm, 50, 0.75],
    ['minmax', mm, 101, 1],
  ])('%s: %s HU → %s', (_n, spec, hu, want) => {
    expect(clipNormalise(Int16Array.from([hu]), spec)[0]).toBeCloseTo(want, 6);
    expect(normaliseValue(hu, spec)).toBeCloseTo(want, 6);
  });
  it('works in place on a Float32Array', () => {
    const a = Float32Array.from([-500, 50, 500]);
    expect(clipNormalise(a, z, a)).toBe(a);
    expect(Array.from(a)).toEqual([-1, 0, 1]);
  });
  it('rejects a reversed window and std 0', () => {
    expect(() => clipNormalise([1], { clip: [5, 1], normalise: 'minmax' })).toThrow(/lo < hi/);
    expect(() => clipNormalise([1], { clip: [0, 1], normalise: { mean: 0, std: 0 } })).toThrow(/std must be > 0/);
  });
});
