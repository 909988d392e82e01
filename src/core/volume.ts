import type { VolumeGeometry } from './geometry';

/** Voxel storage. CT in HU is Int16Array when every value is an integer in range, else Float32Array. */
export type VoxelArray = Int16Array | Uint16Array | Int32Array | Float32Array | Uint8Array;

/**
 * A scalar volume on an explicit geometry. Pure data: no DOM, no Cornerstone.
 * For CT, `data` holds Hounsfield units (rescale slope/intercept already applied).
 */
export interface Volume<T extends VoxelArray = VoxelArray> {
  geometry: VolumeGeometry;
  data: T;
  /** What the values mean. 'HU' for CT; 'label' for segmentation label maps; 'other' for non-CT. */
  units: 'HU' | 'label' | 'other';
  /** Free-form provenance and DICOM identity of the series this came from (where known). */
  meta: VolumeMeta;
}

export interface VolumeMeta {
  modality?: string;
  patientName?: string;
  patientId?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  seriesDescription?: string;
  studyDate?: string;
  /** Where it was read from: a file name, folder or URL. */
  source?: string;
  /** Non-fatal observations the user should see (e.g. "uneven slice spacing 3.0–6.0 mm, resampled"). */
  warnings?: string[];
  [key: string]: unknown;
}
