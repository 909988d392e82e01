/**
 * Module-level registry of loaded volumes. Voxel arrays never go into React state or zustand: stores hold the
 * string id returned here, and code that needs voxels looks the volume up.
 */
import type { Volume } from '../core/volume';

const volumes = new Map<string, Volume>();
let counter = 0;

/** Stores a volume and returns its id (unique for this page load). */
export function registerVolume(v: Volume): string {
  counter += 1;
  const id = `vol${counter}`;
  volumes.set(id, v);
  return id;
}

export function getVolume(id: string | null | undefined): Volume | undefined {
  return id ? volumes.get(id) : undefined;
}

export function releaseVolume(id: string): void {
  volumes.delete(id);
}

export function registeredVolumeIds(): string[] {
  return [...volumes.keys()];
}
