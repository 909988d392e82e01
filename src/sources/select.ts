/**
 * Picks the series a radiologist would segment the psoas on: among CT image series, axial first, then most
 * slices (coverage), then thinnest slices, then a soft-tissue kernel over a sharp (bone/lung) one.
 */
import type { SeriesSummary } from './types';

// Siemens B/I/Br/Qr 20-49 (e.g. B30f, Br38f, I31f), GE STANDARD/SOFT, Toshiba/Canon FC01-FC19 are soft tissue;
// Siemens 60-99, BONE, LUNG, SHARP, DETAIL, EDGE, Toshiba FC5x/FC8x are sharp.
const SOFT = /\b(B|I|Br|Qr|Hr)(2\d|3\d|4\d)[fsh]?\b|STANDARD|STND|SOFT|\bSTD\b|\bFC(0?[1-9]|1\d)\b/i;
const SHARP = /\b(B|I|Br|Qr|Hr)([6-9]\d)[fsh]?\b|BONE|LUNG|SHARP|DETAIL|EDGE|\bFC(5\d|8\d)\b/i;
const NON_AXIAL_DESCRIPTION = /\b(COR|CORONAL|SAG|SAGITTAL|MIP|MPR|SCOUT|TOPO|LOCALI[SZ]ER|SURVIEW|DOSE)\b/i;

/** 2 = soft tissue, 1 = unknown, 0 = sharp (bone/lung). */
export function kernelScore(kernel: string | undefined, description = ''): number {
  const k = `${kernel ?? ''} ${description}`;
  if (SHARP.test(k)) return 0;
  if (SOFT.test(k)) return 2;
  return 1;
}

function axialScore(s: SeriesSummary): number {
  if (s.isAxial === true) return 2;
  if (s.isAxial === false) return 0;
  return NON_AXIAL_DESCRIPTION.test(s.seriesDescription) ? 0 : 1;
}

/** Returns the best CT image series, or undefined when there is none. */
export function pickBestSeries(series: SeriesSummary[]): SeriesSummary | undefined {
  const candidates = series.filter((s) => s.modality.toUpperCase() === 'CT' && s.numberOfInstances > 1);
  if (candidates.length === 0) return undefined;
  const score = (s: SeriesSummary): number[] => [
    axialScore(s),
    s.numberOfInstances,
    -(s.sliceThicknessMm ?? 99), // thinner is better; unknown sorts last among equals
    kernelScore(s.convolutionKernel, s.seriesDescription),
  ];
  return [...candidates].sort((a, b) => {
    const sa = score(a);
    const sb = score(b);
    for (let i = 0; i < sa.length; i++) if (sa[i] !== sb[i]) return sb[i] - sa[i];
    return 0;
  })[0];
}
