/**
 * Measurement worker of the segmentation panel: keeps one CT + label map (both on the CT's source grid, handed over
 * by transfer, no copy) and runs the SAME code as the CLI on them — measureAll for the figures (re-run when the
 * user picks a level or a height) and the NIfTI writer for the mask download — off the main thread, so the views
 * never stall on a large series.
 *
 * Create it through analysisClient.ts; do not import this file from the main thread.
 */
import * as Comlink from 'comlink';
import { PsoasError } from '../core/errors';
import { writeNifti } from '../core/io/nifti';
import type { Volume } from '../core/volume';
import { measureAll, type AllMeasurements, type MeasureAllOptions } from '../measure';
import { installErrorTransfer } from '../inference/web-errors';

let image: Volume | null = null;
let mask: Volume<Uint8Array> | null = null;

function inputs(): { image: Volume; mask: Volume<Uint8Array> } {
  if (!image || !mask) throw new PsoasError('INTERNAL', 'analysis worker: no CT and mask were given (setInputs first)', null, 'analysis worker');
  return { image, mask };
}

export interface AnalysisWorkerApi {
  /** Replaces the CT and mask (their buffers are transferred in). */
  setInputs(image: Volume, mask: Volume<Uint8Array>): void;
  /** measureAll(image, mask, labelMap, opts), exactly as `psoasview segment` calls it. */
  measure(labelMap: Record<string, number>, opts: MeasureAllOptions): AllMeasurements;
  /** The mask as a gzipped NIfTI-1 file (core/io/nifti.ts writeNifti), bytes transferred out. */
  maskNifti(description: string): Uint8Array;
  clear(): void;
}

const api: AnalysisWorkerApi = {
  setInputs(img, m) {
    image = img;
    mask = m;
  },
  measure(labelMap, opts) {
    const { image, mask } = inputs();
    return measureAll(image, mask, labelMap, opts);
  },
  maskNifti(description) {
    const bytes = writeNifti(inputs().mask, { description });
    return Comlink.transfer(bytes, [bytes.buffer as ArrayBuffer]);
  },
  clear() {
    image = null;
    mask = null;
  },
};

installErrorTransfer();
Comlink.expose(api);
