/**
 * How the psoas label map is drawn: one colour per label value, shared by the Cornerstone overlay (cornerstone.ts)
 * and the legend of the segmentation panel, so the legend always matches the picture.
 *
 * Label values follow docs/ARCHITECTURE.md: 1 = psoas_left, 2 = psoas_right, the PATIENT's sides. With the
 * radiological convention of the views (patient's left on the image's right in axial and coronal), the orange
 * structure sits on the right half of the axial image.
 */

export interface LabelStyle {
  /** Label value in the mask. */
  value: number;
  /** Structure name as in measurements.json. */
  name: string;
  /** For people: which muscle, and on which side of the PATIENT. */
  title: string;
  /** sRGB 0..255. Orange/amber for left, cyan for right: distinct in all three views and for red-green deficiency. */
  rgb: [number, number, number];
}

export const PSOAS_LABEL_STYLES: readonly LabelStyle[] = [
  { value: 1, name: 'psoas_left', title: "Left psoas (patient's left)", rgb: [255, 150, 0] },
  { value: 2, name: 'psoas_right', title: "Right psoas (patient's right)", rgb: [0, 200, 255] },
];

/** CSS colour of a label style. */
export function cssColour(s: LabelStyle): string {
  return `rgb(${s.rgb[0]}, ${s.rgb[1]}, ${s.rgb[2]})`;
}

/**
 * Colour lookup table (label value → RGBA 0..255) in Cornerstone's colorLUT layout: entry 0 = background
 * (transparent), then one entry per label value up to the largest styled one (unstyled values in between: grey).
 */
export function labelColourLut(styles: readonly LabelStyle[] = PSOAS_LABEL_STYLES): Array<[number, number, number, number]> {
  const max = Math.max(0, ...styles.map((s) => s.value));
  const lut: Array<[number, number, number, number]> = [[0, 0, 0, 0]];
  for (let v = 1; v <= max; v++) {
    const s = styles.find((x) => x.value === v);
    lut.push(s ? [s.rgb[0], s.rgb[1], s.rgb[2], 255] : [160, 160, 160, 255]);
  }
  return lut;
}
