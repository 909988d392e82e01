/**
 * Label values written by the phantom generator into its label map (labels.nii.gz). 1 and 2 are the project-wide
 * psoas labels (patient's left = +x in LPS); the rest are phantom-only structures, useful as extra training
 * targets or for checking that a model does not confuse the psoas with neighbouring muscles of the same HU.
 */
export const LABELS = {
  0: 'background',
  1: 'psoas_left',
  2: 'psoas_right',
  3: 'vertebrae',
  4: 'intervertebral_discs',
  5: 'sacrum',
  6: 'hip_left',
  7: 'hip_right',
  8: 'femur_left',
  9: 'femur_right',
  10: 'kidney_left',
  11: 'kidney_right',
  12: 'liver',
  13: 'spleen',
  14: 'aorta_iliac_arteries',
  15: 'ivc_iliac_veins',
  16: 'paraspinal_muscles',
  17: 'quadratus_lumborum',
  18: 'iliacus',
  19: 'gastrointestinal_tract',
  20: 'lungs',
  21: 'heart',
  22: 'ribs_sternum',
  23: 'spinal_canal',
  24: 'urinary_bladder',
  25: 'gluteal_muscles',
} as const;

export type LabelValue = keyof typeof LABELS;

/** Label value by name, e.g. LABEL.psoas_left === 1. */
export const LABEL = Object.fromEntries(Object.entries(LABELS).map(([k, v]) => [v, Number(k)])) as {
  [K in (typeof LABELS)[LabelValue]]: number;
};
