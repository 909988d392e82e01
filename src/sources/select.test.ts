import { describe, it, expect } from 'vitest';
import { pickBestSeries, kernelScore } from './select';
import type { SeriesSummary } from './types';

const s = (id: string, over: Partial<SeriesSummary>): SeriesSummary => ({
  studyInstanceUid: '1',
  seriesInstanceUid: id,
  modality: 'CT',
  seriesDescription: '',
  numberOfInstances: 100,
  ...over,
});

describe('pickBestSeries', () => {
  const cases: Array<{ name: string; series: SeriesSummary[]; best: string | undefined }> = [
    { name: 'no series', series: [], best: undefined },
    { name: 'only non-CT', series: [s('sr', { modality: 'SR', numberOfInstances: 1 }), s('seg', { modality: 'SEG' })], best: undefined },
    { name: 'a single-image CT (scout) is not a candidate', series: [s('scout', { numberOfInstances: 1 })], best: undefined },
    { name: 'axial beats a coronal reformat with more images', series: [s('cor', { isAxial: false, numberOfInstances: 500 }), s('ax', { isAxial: true, numberOfInstances: 200 })], best: 'ax' },
    { name: 'unknown orientation: description says coronal', series: [s('cor', { seriesDescription: 'COR 3mm', numberOfInstances: 300 }), s('ax', { seriesDescription: 'Abdomen 3mm' })], best: 'ax' },
    { name: 'more slices wins among axial', series: [s('a', { isAxial: true, numberOfInstances: 120 }), s('b', { isAxial: true, numberOfInstances: 480 })], best: 'b' },
    { name: 'thinner wins at equal count', series: [s('t5', { isAxial: true, sliceThicknessMm: 5 }), s('t1', { isAxial: true, sliceThicknessMm: 1 })], best: 't1' },
    { name: 'soft kernel B30f beats B70f', series: [s('sharp', { convolutionKernel: 'B70f' }), s('soft', { convolutionKernel: 'B30f' })], best: 'soft' },
    { name: 'GE STANDARD beats BONE', series: [s('bone', { convolutionKernel: 'BONE' }), s('std', { convolutionKernel: 'STANDARD' })], best: 'std' },
    { name: 'Siemens Br38f\\3 (real data) beats LUNG', series: [s('lung', { convolutionKernel: 'LUNG' }), s('br38', { convolutionKernel: 'Br38f\\3' })], best: 'br38' },
    { name: 'unknown kernel beats sharp, loses to soft', series: [s('x', { convolutionKernel: 'XYZ' }), s('b', { convolutionKernel: 'I70f' })], best: 'x' },
    { name: 'lower-case modality accepted', series: [s('lc', { modality: 'ct' })], best: 'lc' },
  ];
  it.each(cases)('$name', ({ series, best }) => {
    expect(pickBestSeries(series)?.seriesInstanceUid).toBe(best);
  });

  it.each([
    ['B30f', 2], ['I31f', 2], ['Br38f\\3', 2], ['FC03', 2], ['SOFT', 2],
    ['B70f', 0], ['Hr64h', 0], ['BONEPLUS', 0], ['LUNG', 0], ['FC52', 0], ['', 1], [undefined, 1],
  ] as const)('kernelScore(%s) = %i', (k, want) => {
    expect(kernelScore(k)).toBe(want);
  });
});
