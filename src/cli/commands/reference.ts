/**
 * `--ref <mask>` of `segment` and `measure`: agreement of the measured mask with a reference label map (e.g. an
 * expert's), per structure, on the CT's grid: Dice, Jaccard, volume difference and surface distances
 * (src/measure/agreement.ts). The reference is put on the CT's grid exactly as `measure` puts a mask there
 * (grid.ts: same grid, reordered, or nearest-neighbour with a warning).
 */
import path from 'node:path';
import { PsoasError } from '../../core/errors';
import type { Volume } from '../../core/volume';
import { compareMasks, type StructureAgreement } from '../../measure/agreement';
import { alignMaskToImage } from './grid';
import { loadMask } from './input';

export interface ReferenceReport {
  /** The reference file (absolute), its label values per structure, and whether it was resampled onto the CT grid. */
  reference: { file: string; labels: Record<string, number>; resampled: boolean; reordered: boolean };
  agreement: Record<string, StructureAgreement>;
  warnings: string[];
}

/**
 * Compares `mask` (on `image`'s grid, values per `labels`) with the reference in `refFile` (values per `refLabels`,
 * default the same). Throws BAD_ARGUMENT naming the file when the reference holds none of the structures.
 */
export async function compareWithReference(
  image: Volume,
  imageName: string,
  mask: Uint8Array,
  labels: Record<string, number>,
  refFile: string,
  refLabels: Record<string, number> = labels,
  /** The reference already read (loadMask), e.g. before a long segmentation so that a bad file fails first. */
  preloaded?: Volume<Uint8Array>,
): Promise<ReferenceReport> {
  const raw = preloaded ?? (await loadMask(refFile));
  const aligned = alignMaskToImage(image, raw, refFile, imageName);
  const ref = aligned.mask.data;
  const counts = new Float64Array(256);
  for (let v = 0; v < ref.length; v++) counts[ref[v]]++;
  const warnings = [...aligned.warnings];
  const present = Object.entries(refLabels).filter(([, v]) => counts[v] > 0);
  if (present.length === 0) {
    const found = [...counts.keys()].filter((v) => v > 0 && counts[v] > 0);
    throw new PsoasError(
      'BAD_ARGUMENT',
      `Reference ${refFile} holds none of the labels ${Object.entries(refLabels).map(([n, v]) => `${n}=${v}`).join(',')}` +
        (found.length ? `; it holds label(s) ${found.join(', ')}: name them with --ref-map psoas_left=<v>,psoas_right=<v>` : ' (it is empty)'),
      found,
      refFile,
    );
  }
  for (const [name, v] of Object.entries(refLabels)) if (counts[v] === 0) warnings.push(`reference: ${name} (label ${v}) is absent from ${refFile}`);
  const agreement = compareMasks(mask, ref, image.geometry, labels, refLabels, `${imageName} vs reference ${refFile}`);
  return {
    reference: { file: path.resolve(refFile), labels: { ...refLabels }, resampled: aligned.resampled, reordered: aligned.reordered },
    agreement,
    warnings,
  };
}
