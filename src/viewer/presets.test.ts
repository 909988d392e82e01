import { describe, expect, it } from 'vitest';
import { DEFAULT_PRESET, WINDOW_PRESETS, greyLevel, rangeToWindow, windowToRange } from './presets';

describe('window presets', () => {
  it.each([
    ['soft', 400, 40, -160, 240],
    ['bone', 1800, 400, -500, 1300],
    ['lung', 1500, -600, -1350, 150],
  ] as const)('%s W%d/L%d spans %d..%d HU', (id, w, c, lo, hi) => {
    const p = WINDOW_PRESETS.find((x) => x.id === id)!;
    expect([p.width, p.center]).toEqual([w, c]);
    expect(windowToRange(p.width, p.center)).toEqual({ lower: lo, upper: hi });
    expect(rangeToWindow(lo, hi)).toEqual({ width: w, center: c });
  });
  it('default is soft tissue W400/L40', () => {
    expect(DEFAULT_PRESET.id).toBe('soft');
  });
  it('keys are unique', () => {
    expect(new Set(WINDOW_PRESETS.map((p) => p.key)).size).toBe(WINDOW_PRESETS.length);
  });
  it.each([
    [-1000, 0],
    [-160, 0],
    [40, 128],
    [240, 255],
    [1000, 255],
    [50, 134],
  ])('soft window maps %d HU to grey %d', (hu, g) => {
    expect(greyLevel(hu, 400, 40)).toBe(g);
  });
});
