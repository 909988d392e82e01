import { describe, expect, it } from 'vitest';
import { directionLetters, markersFromCamera, markersFromScreenAxes } from './orientation';
import type { Vec3 } from '../core/geometry';

describe('markersFromCamera (Cornerstone MPR cameras, LPS)', () => {
  // viewPlaneNormal / viewUp as Cornerstone 5 sets them for the three MPR orientations.
  const cases: Array<[string, Vec3, Vec3, { top: string; bottom: string; left: string; right: string }]> = [
    ['axial', [0, -1, 0], [0, 0, -1], { top: 'A', bottom: 'P', left: 'R', right: 'L' }],
    ['coronal', [0, 0, 1], [0, -1, 0], { top: 'S', bottom: 'I', left: 'R', right: 'L' }],
    ['sagittal', [0, 0, 1], [1, 0, 0], { top: 'S', bottom: 'I', left: 'A', right: 'P' }],
  ];
  it.each(cases)('%s view gives radiological markers', (_name, viewUp, normal, expected) => {
    expect(markersFromCamera(viewUp, normal)).toEqual(expected);
  });

  it('horizontal flip swaps left and right only', () => {
    expect(markersFromCamera([0, -1, 0], [0, 0, -1], true)).toEqual({ top: 'A', bottom: 'P', left: 'L', right: 'R' });
  });
  it('vertical flip swaps top and bottom only', () => {
    expect(markersFromCamera([0, 0, 1], [0, -1, 0], false, true)).toEqual({ top: 'I', bottom: 'S', left: 'R', right: 'L' });
  });
});

describe('directionLetters', () => {
  const table: Array<[Vec3, string]> = [
    [[1, 0, 0], 'L'],
    [[-1, 0, 0], 'R'],
    [[0, 2, 0], 'P'], // not unit length: normalised first
    [[0, 0, -1], 'I'],
    [[0.9, 0.1, 0], 'L'], // 6° oblique: one letter
    [[0.8, -0.6, 0], 'LA'], // 37° oblique: dominant first
    [[-0.6, 0, 0.8], 'SR'],
    [[0.6, 0.6, 0.53], 'LPS'],
    [[0, 0, 0], ''],
  ];
  it.each(table)('%j → %s', (v, letters) => {
    expect(directionLetters(v)).toBe(letters);
  });
  it('screen axes map to opposite letters on opposite edges', () => {
    const m = markersFromScreenAxes([0, 0, 1], [0, 1, 0]);
    expect(m).toEqual({ top: 'S', bottom: 'I', left: 'A', right: 'P' });
  });
});
