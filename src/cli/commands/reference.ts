/**
 * `--ref <mask>` of `segment` and `measure`: agreement of the measured mask with a reference label map (e.g. an
 * expert's), per structure, on the CT's grid: Dice, Jaccard, volume difference and surface distances
 * (src/measure/agreement.ts). The reference is put on the CT's grid exactly as `measure` puts a mask there
 * (grid.ts: same grid, reordered, or nearest-neighbour with a warning).
 *
 * Two steps, so that a bad reference (unreadable, another patient's grid, none of the labels, a --ref-map that
 * misses a structure) fails before a long segmentation rather than after it: prepareReference once the CT is loaded,
 * compareWithReference once the mask exists.
 */
import path from 'node:path';
import { PsoasError } from '../../core/errors';
import type { Volume } from '../../core/volume';
import { compareMasks, type StructureAgreement } from '../../measure';
import { alignMaskToImage, labelCensus } from './grid';

export interface ReferenceReport {
  /** The reference file (absolute), its label values per structure, and whether it was resampled onto the CT grid. */
  reference: { file: string; labels: Record<string, number>; resampled: boolean; reordered: boolean };
  agreement: Record<string, StructureAgreement>;
  warnings: string[];
}

export interface PreparedReference {
  file: string;
  /** The reference on the CT's grid. */
  data: Uint8Array;
  /** Structure name → label value in the reference. */
  labels: Record<string, number>;
  resampled: boolean;
  reordered: boolean;
  warnings: string[];
}

/**
 * Puts the reference (`raw`, read from `refFile` with loadMask) on `image`'s grid and checks it names the structures
 * of `labels` (values per `refLabels`, default the same). Throws BAD_ARGUMENT naming the file when it holds none of
 * them, or when `refLabels` lacks a structure.
 */
export function prepareReference(
  image: Volume,
  imageName: string,
  raw: Volume<Uint8Array>,
  refFile: string,
  labels: Record<string, number>,
  refLabels: Record<string, number> = labels,
): PreparedReference {
  const missing = Object.keys(labels).filter((n) => refLabels[n] === undefined);
  if (missing.length)
    throw new PsoasError('BAD_ARGUMENT', `--ref-map names no reference label for ${missing.join(', ')} (reference ${refFile})`, missing, refFile);
  const aligned = alignMaskToImage(image, raw, refFile, imageName);
  const ref = aligned.mask.data;
  const wanted: Record<string, number> = Object.fromEntries(Object.keys(labels).map((n) => [n, refLabels[n]]));
  const { absent, unnamed } = labelCensus(ref, wanted);
  if (absent.length === Object.keys(wanted).length)
    throw new PsoasError(
      'BAD_ARGUMENT',
      `Reference ${refFile} holds none of the labels ${Object.entries(wanted).map(([n, v]) => `${n}=${v}`).join(',')}` +
        (unnamed.length ? `; it holds label(s) ${unnamed.join(', ')}: name them with --ref-map psoas_left=<v>,psoas_right=<v>` : ' (it is empty)'),
      unnamed,
      refFile,
    );
  const warnings = [...aligned.warnings, ...absent.map(([name, v]) => `reference: ${name} (label ${v}) is absent from ${refFile}`)];
  return { file: refFile, data: ref, labels: wanted, resampled: aligned.resampled, reordered: aligned.reordered, warnings };
}

/** Agreement of `mask` (on `image`'s grid, values per `labels`) with a prepared reference. */
export function compareWithReference(image: Volume, imageName: string, mask: Uint8Array, labels: Record<string, number>, ref: PreparedReference): ReferenceReport {
  const agreement = compareMasks(mask, ref.data, image.geometry, labels, ref.labels, `${imageName} vs reference ${ref.file}`);
  const warnings = [...ref.warnings];
  for (const [name, a] of Object.entries(agreement)) if (a.note) warnings.push(`reference: ${name}: ${a.note}`);
  return {
    reference: { file: path.resolve(ref.file), labels: { ...ref.labels }, resampled: ref.resampled, reordered: ref.reordered },
    agreement,
    warnings,
  };
}
