/**
 * Public API of the psoas measurement engine (pure TypeScript; imports only src/core).
 *
 * Figures (all on the mask's SOURCE grid, patient LPS mm; see types.ts for each field):
 * - volume_ml / volume_mm3: voxel count x |det(direction·diag(spacing))| (mL = cm³).
 * - extent_mm: highest minus lowest patient z of the mask's voxel boxes (mm).
 * - length_mm: centreline arc length (mm), slab centroids smoothed, ends extended to the mask's ends; see
 *   centreline.ts for the method and its known bias; endpoints in centreline_endpoints_lps (LPS mm).
 * - max_csa_mm2 / max_csa_cm2 at max_csa_z_mm: largest AXIAL cross-section (plane of constant patient z).
 * - csa_at_level_mm2 / mean_hu_at_level: at the user's level z (mm), e.g. L3.
 * - mean_hu, mean_hu_muscle_window (HU; window default -29..150 inclusive).
 * - truncated / truncated_reasons: mask touches the first/last slice or an in-plane FOV edge (lower limits).
 * - edge_margin_mm / edge_margin_to: how far (mm) the mask stays from the nearest edge of the series, and which edge.
 * - measureAll adds tpa_mm2 / tpa_cm2 (left + right CSA at the level) and pmi_cm2_per_m2 = TPA (cm²) / height (m)².
 * - compareMasks / compareStructure (agreement.ts): Dice, Jaccard, volume difference and surface distances
 *   (ASSD, HD95, HD in mm) of a mask against a reference on the same grid.
 */
export {
  measureStructure,
  measureLabels,
  measureAll,
  DEFAULT_HU_WINDOW,
  DEFAULT_LABELS,
  DEFAULT_SMOOTHING_MM,
  HEIGHT_RANGE_M,
} from './measure';
export type {
  StructureMeasurements,
  AllMeasurements,
  MeasureOptions,
  MeasureAllOptions,
  MaskInput,
  ImageInput,
  LengthMethod,
  CsaMethod,
} from './types';
export { compareMasks, compareStructure, squaredDistanceTransform } from './agreement';
export type { StructureAgreement } from './agreement';
