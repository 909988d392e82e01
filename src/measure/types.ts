/**
 * Result types of the psoas measurement engine. Definitions: shared/notes/measurements.md.
 * All positions are patient LPS in mm; all figures are computed on the SOURCE grid of the mask.
 * Field names are snake_case because they go verbatim into JSON reports and the DICOM SR builder.
 */
import type { Vec3, VolumeGeometry } from '../core/geometry';
import type { Volume, VoxelArray } from '../core/volume';

/** A label map on the source grid (Volume<Uint8Array> or a bare {geometry, data}). Labels 1..255. */
export type MaskInput = Volume<Uint8Array> | { geometry: VolumeGeometry; data: Uint8Array };

/** The CT on the same grid (HU), or null when only geometry figures are wanted. */
export type ImageInput = Volume<VoxelArray> | null;

export interface MeasureOptions {
  /** User-chosen axial level: patient z (LPS, mm; +z = superior), e.g. the mid-L3 level. */
  levelZmm?: number;
  /** HU window for muscle density, inclusive. Default [-29, 150] (skeletal muscle). */
  huWindow?: [number, number];
  /**
   * Half-width (mm, along the walking axis) of the moving average that smooths the per-level centroids
   * before the arc length is taken. Default 5 mm. 0 = no smoothing.
   */
  smoothingMm?: number;
  /** Name used in error messages (file name / series). */
  source?: string;
}

export interface MeasureAllOptions extends MeasureOptions {
  /** Patient height in metres, for the psoas muscle index (PMI). */
  heightM?: number;
}

export type LengthMethod =
  /**
   * Centroids of the mask in axial slabs (constant patient z), smoothed, arc length; each end extended to the
   * extreme axial plane, or, where the end is cut obliquely, to where the straight continuation of the axis
   * leaves the mask (see centreline.ts).
   */
  | 'axial-centroid'
  /** Same, but slabs perpendicular to the mask's principal axis (structure lies > 45° from craniocaudal). */
  | 'principal-axis-centroid'
  | 'none';

export type CsaMethod =
  /** Standard axial stack: CSA of slice k = voxel count x pixel area projected onto the axial plane. */
  | 'slice-count'
  /** Tilted/rotated grid: true axial planes sampled at sub-voxel spacing, nearest voxel per sample. */
  | 'axial-plane-sampling';

export interface StructureMeasurements {
  label: number;
  /** False when the mask holds no voxel of this label; then every figure is 0 or null. */
  present: boolean;
  voxel_count: number;
  /** voxel_count x |det(direction·diag(spacing))|, in mm^3. */
  volume_mm3: number;
  /** volume in mL (= cm^3). */
  volume_ml: number;
  /**
   * Craniocaudal extent, mm: highest minus lowest patient z of the mask's voxels, each voxel taken as its
   * full box (voxel-centre z ± half the voxel's z-extent). For a standard axial stack = slices x spacing
   * when contiguous; not slice count x thickness in general (tilt, feet-first, gaps).
   */
  extent_mm: number;
  /** [lowest, highest] patient z (mm) of the mask as used for extent_mm. */
  extent_z_range_mm: [number, number];
  /** Centreline arc length in mm, end to end (see length_method and centreline.ts). */
  length_mm: number;
  length_method: LengthMethod;
  /** [start, end] of the centreline in LPS mm; start = inferior end for 'axial-centroid'. Null if absent. */
  centreline_endpoints_lps: [Vec3, Vec3] | null;
  /** The smoothed centreline polyline, LPS mm, from start to end (ends included). For display. */
  centreline_lps: Vec3[];
  /** Largest axial cross-sectional area, mm^2. */
  max_csa_mm2: number;
  /** Same in cm^2. */
  max_csa_cm2: number;
  /** Patient z (mm) of the axial plane with the largest CSA (slice centre for 'slice-count'). */
  max_csa_z_mm: number | null;
  csa_method: CsaMethod;
  /** Axial CSA profile: plane z (mm, ascending) and CSA (mm^2) for every plane the mask touches. */
  csa_profile: { z_mm: number[]; csa_mm2: number[] };
  /** CSA (mm^2) at the user's level (opts.levelZmm); 0 when the mask does not reach that level. */
  csa_at_level_mm2?: number;
  csa_at_level_cm2?: number;
  /** The plane actually measured for the level (mm): nearest slice centre on a standard axial stack. */
  level_z_mm?: number;
  /** Mean HU of the mask at the user's level (all voxels of that plane; null when no image or CSA = 0). */
  mean_hu_at_level?: number | null;
  /** Mean HU at the level within the muscle window. */
  mean_hu_muscle_window_at_level?: number | null;
  /** Mean HU over the whole mask (null when no image given). */
  mean_hu: number | null;
  /** Mean HU over the mask voxels whose HU lies within hu_window (inclusive). */
  mean_hu_muscle_window: number | null;
  /** Fraction (0..1) of mask voxels within hu_window. */
  muscle_window_fraction: number | null;
  hu_window: [number, number];
  /**
   * True when the mask touches the first or last slice or an in-plane edge of the grid: then volume, extent
   * and length are LOWER LIMITS.
   */
  truncated: boolean;
  /** Which edges: 'first slice', 'last slice', '<side> FOV edge' (side = patient side the edge faces). */
  truncated_reasons: string[];
  /**
   * Shortest distance (mm, between voxel centres along the grid's axes) from the mask to the edge of the series, and
   * which edge that is (named as in truncated_reasons); null when absent, 0 when truncated. For batch work: how much
   * of the series lies beyond the mask (the model card, session 22, has a model's mask stopping short near the edge).
   */
  edge_margin_mm: number | null;
  edge_margin_to: string | null;
  /** Non-fatal remarks for the user. */
  warnings: string[];
}

export interface AllMeasurements {
  structures: Record<string, StructureMeasurements>;
  /** Total psoas area at the level: sum of the structures' CSA at levelZmm (mm^2 and cm^2). */
  tpa_mm2?: number;
  tpa_cm2?: number;
  /** Psoas muscle index: TPA (cm^2) / height (m)^2, in cm^2/m^2, when heightM and levelZmm are given. */
  pmi_cm2_per_m2?: number;
  level_z_mm?: number;
  height_m?: number;
  warnings: string[];
}
