/**
 * Main-thread side of analysis.worker.ts (measurements and the NIfTI mask file, off the main thread). One worker
 * per page, created on first use.
 */
import * as Comlink from 'comlink';
import type { Volume } from '../core/volume';
import type { AllMeasurements, MeasureAllOptions } from '../measure';
import { installErrorTransfer } from '../inference/web-errors';
import type { AnalysisWorkerApi } from './analysis.worker';

let remote: Comlink.Remote<AnalysisWorkerApi> | null = null;

function worker(): Comlink.Remote<AnalysisWorkerApi> {
  if (!remote) {
    installErrorTransfer();
    const w = new Worker(new URL('./analysis.worker.ts', import.meta.url), { type: 'module', name: 'psoasview-analysis' });
    remote = Comlink.wrap<AnalysisWorkerApi>(w);
  }
  return remote;
}

function ownBuffer(a: ArrayBufferView): ArrayBuffer | null {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer ? a.buffer : null;
}

/**
 * Hands a CT and its mask (same grid) to the worker. Their buffers are TRANSFERRED (detached here) when each
 * array spans its whole buffer; pass copies you do not need any more.
 */
export function setAnalysisInputs(image: Volume, mask: Volume<Uint8Array>): Promise<void> {
  const transfer = [ownBuffer(image.data), ownBuffer(mask.data)].filter((b): b is ArrayBuffer => b !== null);
  return worker().setInputs(Comlink.transfer(image, transfer), mask) as Promise<void>;
}

export function measureInWorker(labelMap: Record<string, number>, opts: MeasureAllOptions): Promise<AllMeasurements> {
  return worker().measure(labelMap, opts) as Promise<AllMeasurements>;
}

export function maskNiftiInWorker(description: string): Promise<Uint8Array> {
  return worker().maskNifti(description) as Promise<Uint8Array>;
}

export function clearAnalysis(): Promise<void> {
  return remote ? (remote.clear() as Promise<void>) : Promise.resolve();
}
