import { describe, expect, it } from 'vitest';
import { getVolume, registerVolume, registeredVolumeIds, releaseVolume } from './registry';
import type { Volume } from '../core/volume';

const v: Volume = {
  geometry: { dimensions: [1, 1, 1], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
  data: new Int16Array([42]),
  units: 'HU',
  meta: {},
};

describe('volume registry', () => {
  it('registers, looks up and releases by id', () => {
    const a = registerVolume(v);
    const b = registerVolume(v);
    expect(a).not.toBe(b);
    expect(getVolume(a)?.data[0]).toBe(42);
    releaseVolume(a);
    expect(getVolume(a)).toBeUndefined();
    expect(registeredVolumeIds()).toEqual([b]);
    expect(getVolume(null)).toBeUndefined();
  });
});
