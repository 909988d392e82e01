import { cache } from '@cornerstonejs/core';
import { describe, expect, it } from 'vitest';
import { nextTask } from '../core/tasks';
import { macrotasksDuring } from '../core/tasks.testing';
import { createLocalVolumeInSlabs, removeLocalVolume, type LocalVolumeSpec } from './localVolume';

/** A dims[0]×dims[1]×dims[2] Uint8 volume whose voxel value is its slice index k (mod 256). */
function spec(dims: [number, number, number]): LocalVolumeSpec {
  const data = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let k = 0; k < dims[2]; k++) data.fill(k % 256, k * dims[0] * dims[1], (k + 1) * dims[0] * dims[1]);
  return {
    scalarData: data,
    dimensions: dims,
    spacing: [0.8, 0.8, 2.5],
    origin: [-100, -120, 30],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    metadata: { Modality: 'SEG', BitsAllocated: 8 },
  };
}

describe('createLocalVolumeInSlabs', () => {
  it('builds the volume a few slices per task: slices share the buffer, the volume reads back every voxel', async () => {
    const s = spec([64, 48, 40]);
    const id = 't-slabs';
    // A budget of 0 ms yields after every slice: a competing loop of macrotasks runs between slices.
    const { result, ticks } = await macrotasksDuring(createLocalVolumeInSlabs(id, s, 0));
    expect(result).toBe(true);
    expect(ticks).toBeGreaterThan(10);
    const v = cache.getVolume(id)!;
    expect(v.dimensions).toEqual([64, 48, 40]);
    expect(v.imageIds).toHaveLength(40);
    const img = cache.getImage(`${id}_slice_7`)!;
    expect(img.voxelManager!.getScalarData().buffer).toBe(s.scalarData.buffer);
    expect([img.minPixelValue, img.maxPixelValue]).toEqual([7, 7]);
    // (i, j, k) = (5, 6, 33) through the volume's voxel manager
    expect(v.voxelManager!.getAtIJK(5, 6, 33)).toBe(33);
    removeLocalVolume(id);
    expect(cache.getVolume(id)).toBeUndefined();
    expect(cache.getImage(`${id}_slice_7`)).toBeUndefined();
  });

  it('two callers for the same id share one creation; a cached volume returns at once', async () => {
    const s = spec([16, 16, 12]);
    const [a, b] = await Promise.all([createLocalVolumeInSlabs('t-shared', s, 0), createLocalVolumeInSlabs('t-shared', s, 0)]);
    expect([a, b]).toEqual([true, true]);
    const v = cache.getVolume('t-shared');
    expect(await createLocalVolumeInSlabs('t-shared', spec([16, 16, 12]))).toBe(true);
    expect(cache.getVolume('t-shared')).toBe(v);
    removeLocalVolume('t-shared');
  });

  it('rejects data that do not fill the dimensions, and leaves no slice images behind', async () => {
    const s = { ...spec([16, 16, 12]), dimensions: [16, 16, 13] as [number, number, number] };
    await expect(createLocalVolumeInSlabs('t-bad', s)).rejects.toThrow(/3072 voxels for dimensions 16x16x13/);
    expect(cache.getImage('t-bad_slice_0')).toBeUndefined();
    expect(cache.getVolume('t-bad')).toBeUndefined();
  });

  it('removeLocalVolume during the creation stops it: nothing cached, no slice images left; a later call builds again', async () => {
    const s = spec([16, 16, 30]);
    const p = createLocalVolumeInSlabs('t-cancel', s, 0);
    // Budget 0: the creation yields after (nearly) every slice. Cancel once a few slices exist, while it is
    // suspended mid-way. (A setTimeout here raced the creation: on a fast machine all 30 slices, one macrotask
    // each, could finish inside the timer's 1 ms, and CI saw `true`.)
    for (let i = 0; i < 100 && !cache.getImage('t-cancel_slice_2'); i++) await nextTask();
    expect(cache.getImage('t-cancel_slice_2')).toBeDefined();
    expect(cache.getImage('t-cancel_slice_29')).toBeUndefined();
    removeLocalVolume('t-cancel');
    expect(await p).toBe(false);
    expect(cache.getVolume('t-cancel')).toBeUndefined();
    for (let k = 0; k < 30; k++) expect(cache.getImage(`t-cancel_slice_${k}`)).toBeUndefined();
    expect(await createLocalVolumeInSlabs('t-cancel', s, 0)).toBe(true);
    expect(cache.getVolume('t-cancel')!.imageIds).toHaveLength(30);
    removeLocalVolume('t-cancel');
  });
});
