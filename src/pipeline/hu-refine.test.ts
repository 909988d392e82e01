import { describe, expect, it } from 'vitest';
import { refineByHu, thresholdForeground } from './hu-refine';

// 3 channels (bg, left, right), 6 voxels; scores channel-major.
const bg = [0.9, 0.2, 0.6, 0.65, 0.1, 0.7];
const l = [0.05, 0.7, 0.3, 0.1, 0.1, 0.2];
const r = [0.05, 0.1, 0.1, 0.25, 0.8, 0.1];
const scores = Float32Array.from([...bg, ...l, ...r]);
const argmaxOf = () => Uint8Array.from([0, 1, 0, 0, 2, 0]);

describe('refineByHu', () => {
  it.each([
    // hu per voxel, expected labels, removed, added
    { name: 'all muscle HU: only confident-enough background voxels flip', hu: [50, 50, 50, 50, 50, 50], want: [0, 1, 1, 2, 2, 0], removed: 0, added: 2 },
    { name: 'fat everywhere: foreground removed, nothing added', hu: [-100, -100, -100, -100, -100, -100], want: [0, 0, 0, 0, 0, 0], removed: 2, added: 0 },
    { name: 'bone under a foreground voxel: removed', hu: [50, 400, 50, -100, 151, 50], want: [0, 0, 1, 0, 0, 0], removed: 2, added: 1 },
    { name: 'window edges are inclusive', hu: [-29, 150, -29, 150, -30, 151], want: [0, 1, 1, 2, 0, 0], removed: 1, added: 2 },
  ])('$name', ({ hu, want, removed, added }) => {
    const labels = argmaxOf();
    const r0 = refineByHu(scores, 3, 6, labels, (v) => hu[v], { window: [-29, 150], min_probability: 0.25 });
    expect(Array.from(labels)).toEqual(want);
    expect(r0).toEqual({ removed, added });
  });

  it('refuses an empty window', () => {
    expect(() => refineByHu(scores, 3, 6, argmaxOf(), () => 0, { window: [10, 10], min_probability: 0.3 })).toThrow(/low < high/);
  });
});

describe('thresholdForeground', () => {
  it.each([
    // t, expected labels, removed. Foreground voxels: #1 left p 0.7, #4 right p 0.8.
    { t: 0.5, want: [0, 1, 0, 0, 2, 0], removed: 0 },
    { t: 0.75, want: [0, 0, 0, 0, 2, 0], removed: 1 },
    { t: 0.8, want: [0, 0, 0, 0, 2, 0], removed: 1 }, // inclusive: p == t keeps the label
    { t: 0.81, want: [0, 0, 0, 0, 0, 0], removed: 2 },
  ])('t = $t', ({ t, want, removed }) => {
    const labels = argmaxOf();
    // float32 0.8 is slightly above 0.8 in float64, so compare against the stored value for the inclusive case
    const tt = t === 0.8 ? scores[2 * 6 + 4] : t;
    expect(thresholdForeground(scores, 6, labels, tt)).toBe(removed);
    expect(Array.from(labels)).toEqual(want);
  });

  it.each([0.49, 1, Number.NaN])('refuses t = %s', (t) => {
    expect(() => thresholdForeground(scores, 6, argmaxOf(), t)).toThrow(/foreground_threshold must be in \[0.5, 1\)/);
  });
});
