/**
 * CT window/level presets (HU). `width`/`center` follow DICOM Window Width / Window Center; the display
 * range is [center - width/2, center + width/2] HU.
 */
export interface WindowPreset {
  id: 'soft' | 'bone' | 'lung';
  label: string;
  width: number;
  center: number;
  /** Keyboard shortcut. */
  key: string;
}

export const WINDOW_PRESETS: readonly WindowPreset[] = [
  { id: 'soft', label: 'Soft tissue', width: 400, center: 40, key: '1' },
  { id: 'bone', label: 'Bone', width: 1800, center: 400, key: '2' },
  { id: 'lung', label: 'Lung', width: 1500, center: -600, key: '3' },
];

export const DEFAULT_PRESET = WINDOW_PRESETS[0];

/** HU display range [lower, upper] of a window. */
export function windowToRange(width: number, center: number): { lower: number; upper: number } {
  return { lower: center - width / 2, upper: center + width / 2 };
}

/** Window width/center (HU) of a display range. */
export function rangeToWindow(lower: number, upper: number): { width: number; center: number } {
  return { width: upper - lower, center: (upper + lower) / 2 };
}

/**
 * Grey level 0..255 that a linear window maps `hu` to (DICOM "LINEAR" VOI LUT function, simplified to the
 * continuous form): 0 at or below lower, 255 at or above upper.
 */
export function greyLevel(hu: number, width: number, center: number): number {
  const { lower } = windowToRange(width, center);
  const t = (hu - lower) / width;
  return Math.round(255 * Math.min(1, Math.max(0, t)));
}
