import { describe, expect, it } from 'vitest';
import { PSOAS_LABEL_STYLES, cssColour, labelColourLut } from './labels';

describe('label colours', () => {
  it('label 1 = psoas_left, 2 = psoas_right (patient sides), clearly different colours', () => {
    const [l, r] = PSOAS_LABEL_STYLES;
    expect([l.value, l.name, r.value, r.name]).toEqual([1, 'psoas_left', 2, 'psoas_right']);
    const dist = Math.hypot(l.rgb[0] - r.rgb[0], l.rgb[1] - r.rgb[1], l.rgb[2] - r.rgb[2]);
    expect(dist).toBeGreaterThan(250);
    expect(cssColour(l)).toBe(`rgb(${l.rgb.join(', ')})`);
  });
  it('the colour LUT has a transparent background and one opaque entry per label value', () => {
    const lut = labelColourLut();
    expect(lut[0]).toEqual([0, 0, 0, 0]);
    expect(lut[1]).toEqual([...PSOAS_LABEL_STYLES[0].rgb, 255]);
    expect(lut[2]).toEqual([...PSOAS_LABEL_STYLES[1].rgb, 255]);
    expect(lut.length).toBe(3);
    // gaps between styled values are filled (grey), so index = label value holds
    expect(labelColourLut([{ value: 3, name: 'x', title: 'x', rgb: [1, 2, 3] }])).toEqual([[0, 0, 0, 0], [160, 160, 160, 255], [160, 160, 160, 255], [1, 2, 3, 255]]);
  });
});
