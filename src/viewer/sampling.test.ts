import { describe, expect, it } from 'vitest';
import { makeSyntheticVolume, SYNTHETIC_GEOMETRY, SYNTHETIC_MARKERS } from './synthetic';
import { nearestIndex, valueAtIndex, valueAtWorld } from './sampling';
import { indexToWorld } from '../core/geometry';
import type { Volume } from '../core/volume';

const vol = makeSyntheticVolume();

describe('synthetic volume', () => {
  it('has the declared geometry and HU storage', () => {
    expect(vol.geometry.dimensions).toEqual([128, 112, 60]);
    expect(vol.data).toBeInstanceOf(Int16Array);
    expect(vol.data.length).toBe(128 * 112 * 60);
    // volume centre lies at about LPS (0,0,0) mm
    const c = indexToWorld(SYNTHETIC_GEOMETRY, [63.5, 55.5, 29.5]);
    c.forEach((x) => expect(Math.abs(x)).toBeLessThan(1e-9));
  });
  it.each([
    ['left marker (+x LPS)', SYNTHETIC_MARKERS.left.centre, 1000],
    ['superior marker (+z)', SYNTHETIC_MARKERS.superior.centre, 300],
    ['anterior air marker (-y)', SYNTHETIC_MARKERS.anterior.centre, -1000],
    ['body centre soft tissue', [0, 0, 0], 40],
    ['mirror of left marker is soft tissue', [-90, 0, 0], 40],
    ['outside the body is air', [-155, -135, 0], -1000],
  ] as const)('%s', (_n, p, hu) => {
    expect(valueAtWorld(vol, [p[0], p[1], p[2]])).toBe(hu);
  });
});

describe('synthetic volume stored flipped (i → Right, j → Anterior)', () => {
  const flipped = makeSyntheticVolume({ flipped: true });
  it('has the same anatomy in LPS but mirrored voxel order', () => {
    expect(flipped.geometry.direction).toEqual([-1, 0, 0, 0, -1, 0, 0, 0, 1]);
    for (const m of Object.values(SYNTHETIC_MARKERS)) expect(valueAtWorld(flipped, m.centre)).toBe(m.hu);
    // voxel (i,j,k) of one is voxel (nx-1-i, ny-1-j, k) of the other
    expect(valueAtIndex(flipped, 10, 20, 30)).toBe(valueAtIndex(vol, 117, 91, 30));
    expect(valueAtIndex(flipped, 127, 0, 5)).toBe(valueAtIndex(vol, 0, 111, 5));
    // the left marker (+x) sits at LOW i in the flipped storage
    const idx = nearestIndex(flipped, SYNTHETIC_MARKERS.left.centre)!;
    expect(idx[0]).toBeLessThan(64);
  });
});

describe('sampling', () => {
  // A 3x2x2 volume with an oblique-free but flipped geometry: i → Right (-x), so LPS x decreases with i.
  const tiny: Volume = {
    geometry: { dimensions: [3, 2, 2], spacing: [2, 3, 5], origin: [10, 0, 0], direction: [-1, 0, 0, 0, 1, 0, 0, 0, 1] },
    data: Int16Array.from({ length: 12 }, (_, n) => n * 10),
    units: 'HU',
    meta: {},
  };
  it.each([
    [[0, 0, 0], 0],
    [[2, 0, 0], 20],
    [[0, 1, 0], 30],
    [[2, 1, 1], 110],
    [[3, 0, 0], NaN],
    [[-1, 0, 0], NaN],
    [[0.5, 0, 0], NaN],
  ])('valueAtIndex %j = %d', (ijk, val) => {
    expect(valueAtIndex(tiny, ijk[0], ijk[1], ijk[2])).toBe(val);
  });
  it.each([
    [[10, 0, 0], [0, 0, 0], 0],
    [[6, 0, 0], [2, 0, 0], 20], // x = 10 - 2*i
    [[7.1, 2, 4], [1, 1, 1], 100], // rounds to the nearest centre
    [[11.1, 0, 0], null, NaN], // beyond half a voxel outside
  ] as const)('world %j → index %j value %d', (lps, idx, val) => {
    expect(nearestIndex(tiny, [lps[0], lps[1], lps[2]])).toEqual(idx);
    expect(valueAtWorld(tiny, [lps[0], lps[1], lps[2]])).toBe(val);
  });
});
