/**
 * Cornerstone LOCAL volumes (the app decoded the voxels itself) created a few slices per task, so that building
 * the volume never blocks the main thread for more than a frame.
 *
 * Why: Cornerstone's `volumeLoader.createLocalVolume` creates one cached local image per slice in a single
 * synchronous loop, and each image scans its slice for min/max. For the sample's label map (25.8 M voxels) that
 * was one ~230 ms task when the segmentation overlay appeared (CDP profile, 2-core machine), so the views froze
 * at the moment the result arrived. This does the same steps as Cornerstone 5.14's createLocalVolume, with the
 * same public APIs (createAndCacheLocalImage, ImageVolume, VoxelManager.createImageVolumeVoxelManager,
 * cache.putVolumeSync), and yields to the event loop whenever a task has used `budgetMs`.
 */
import { ImageVolume, cache, imageLoader, utilities, type Types } from '@cornerstonejs/core';
import { nextTask } from '../core/tasks';

export interface LocalVolumeSpec {
  scalarData: Int16Array | Uint16Array | Uint8Array | Float32Array;
  /** Voxels (i, j, k); the data are i fastest, one slice of dims[0]*dims[1] after the other. */
  dimensions: Types.Point3;
  /** mm per voxel along i, j, k. */
  spacing: Types.Point3;
  /** LPS mm of voxel (0,0,0). */
  origin: Types.Point3;
  /** Row (i), column (j) and slice (k) direction cosines, 9 numbers (core's column-major Mat3). */
  direction: Types.Mat3;
  metadata: Record<string, unknown>;
}

/** Creations in flight, so two callers asking for the same id share one volume. */
const pending = new Map<string, Promise<boolean>>();
/** Ids removed (removeLocalVolume) while their creation was in flight: the creation stops and caches nothing. */
const cancelled = new Set<string>();

/**
 * Creates the Cornerstone volume `volumeId` (or returns at once when it is cached), slice images first, a few per
 * task. Each slice image shares the caller's buffer (subarray, no copy). Resolves to true once the volume is in
 * Cornerstone's cache, or to false when removeLocalVolume(volumeId) was called meanwhile (nothing is cached then).
 */
export function createLocalVolumeInSlabs(volumeId: string, spec: LocalVolumeSpec, budgetMs = 8): Promise<boolean> {
  if (cache.getVolume(volumeId)) return Promise.resolve(true);
  const running = pending.get(volumeId);
  if (running) return running;
  cancelled.delete(volumeId);
  const p = build(volumeId, spec, budgetMs).finally(() => {
    pending.delete(volumeId);
    cancelled.delete(volumeId);
  });
  pending.set(volumeId, p);
  return p;
}

async function build(volumeId: string, spec: LocalVolumeSpec, budgetMs: number): Promise<boolean> {
  const { scalarData, dimensions, spacing, origin, direction, metadata } = spec;
  const sliceLength = dimensions[0] * dimensions[1];
  if (scalarData.length !== sliceLength * dimensions[2])
    throw new Error(`Volume ${volumeId}: ${scalarData.length} voxels for dimensions ${dimensions.join('x')}`);
  const dataType = scalarData.constructor.name as Types.PixelDataTypedArrayString;
  if (!cache.isCacheable(scalarData.byteLength))
    throw new Error(`Volume ${volumeId} (${(scalarData.byteLength / 2 ** 20).toFixed(0)} MiB) does not fit in Cornerstone's cache`);
  const imageIds: string[] = [];
  let taskStart = performance.now();
  try {
    for (let k = 0; k < dimensions[2]; k++) {
      if (performance.now() - taskStart > budgetMs) {
        await nextTask();
        taskStart = performance.now();
        if (cancelled.has(volumeId)) {
          for (const id of imageIds) dropImage(id);
          return false;
        }
      }
      const imageId = `${volumeId}_slice_${k}`;
      // A stale image of an earlier, abandoned creation of the same id would make putImageSync throw.
      dropImage(imageId);
      imageLoader.createAndCacheLocalImage(imageId, {
        scalarData: scalarData.subarray(k * sliceLength, (k + 1) * sliceLength),
        dimensions: [dimensions[0], dimensions[1]],
        spacing: [spacing[0], spacing[1]],
        // As Cornerstone's createLocalVolume: the volume's geometry is what the viewports use.
        origin,
        direction,
        targetBuffer: { type: dataType },
      });
      imageIds.push(imageId);
    }
    const volume = new ImageVolume({
      volumeId,
      metadata: utilities.deepClone(metadata) as unknown as Types.Metadata,
      dimensions: [dimensions[0], dimensions[1], dimensions[2]],
      spacing,
      origin,
      direction,
      imageIds,
      dataType,
    });
    volume.voxelManager = utilities.VoxelManager.createImageVolumeVoxelManager({ imageIds, dimensions, numberOfComponents: 1, id: volumeId });
    cache.putVolumeSync(volumeId, volume);
    return true;
  } catch (e) {
    for (const id of imageIds) dropImage(id);
    throw e;
  }
}

function dropImage(imageId: string): void {
  if (cache.getImage(imageId)) cache.removeImageLoadObject(imageId, { force: true });
}

/**
 * Removes a volume made by createLocalVolumeInSlabs AND its slice images (a creation in flight stops at its next
 * yield and caches nothing): Cornerstone's removeVolumeLoadObject
 * leaves the images in the image cache, where they would keep the voxel buffer alive and count against the cache
 * size after every new segmentation.
 */
export function removeLocalVolume(volumeId: string): void {
  if (pending.has(volumeId)) cancelled.add(volumeId);
  const v = cache.getVolume(volumeId);
  if (!v) return;
  const imageIds = [...(v.imageIds ?? [])];
  cache.removeVolumeLoadObject(volumeId);
  for (const id of imageIds) dropImage(id);
}
