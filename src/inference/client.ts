/**
 * Main-thread side of the inference worker: creates the module worker and wraps its comlink API with the
 * project's types. All heavy work (download + sha256, session creation, the whole segmentation pipeline) happens
 * in the worker; the main thread only posts messages, so it never blocks.
 *
 *   const inference = createInferenceClient();
 *   await inference.loadModel({ url: '/models/psoas-unet3d/manifest.json' }, { preferred: 'auto' });
 *   const r = await inference.segment(ctVolume, {}, (p) => console.log(p.stage, p.fraction, p.tile));
 *   // r.mask: Volume<Uint8Array> on the CT's own grid; r.image: the CT (its buffer came back, see below)
 *
 * Buffers: by default the CT's buffer is TRANSFERRED to the worker (no copy) and handed back in `result.image`; while
 * a segmentation runs the caller's `volume.data` is detached (length 0). Pass `{ transfer: false }` to send a copy
 * instead, e.g. when the array is also the one on screen. A SharedArrayBuffer-backed volume is shared, never copied.
 *
 * Test hook: when `import.meta.env.DEV` or the URL has `e2e` in its query string, `window.__psoasInference` exposes
 * createInferenceClient / listModelPackages so Playwright specs can drive the worker.
 */
import * as Comlink from 'comlink';
import type { Volume } from '../core/volume';
import { listModelPackages, type ModelPackageSource, type PackageProgress } from './registry';
import { installErrorTransfer, isAbortError } from './web-errors';
import type {
  BackendInfo,
  InferenceProgress,
  InferenceWorkerApi,
  LoadModelOptions,
  LoadModelResult,
  WorkerImage,
  WorkerSegmentOptions,
  WorkerSegmentResult,
} from './worker';

export type { BackendInfo, InferenceProgress, LoadModelOptions, LoadModelResult, WorkerSegmentOptions } from './worker';
export type { ModelPackageSource, PackageProgress } from './registry';
export { listModelPackages } from './registry';
export { isAbortError } from './web-errors';

export interface ClientSegmentOptions extends WorkerSegmentOptions {
  /** Transfer the CT buffer to the worker (default true; it comes back in result.image). false = send a copy. */
  transfer?: boolean;
}

export interface ClientSegmentResult extends Omit<WorkerSegmentResult, 'mask' | 'image'> {
  mask: Volume<Uint8Array>;
  /** The input CT; when transferred, this holds the buffer that came back (use it instead of the old array). */
  image: Volume;
}

export interface InferenceClient {
  /** Loads (download + verify + cache, or local files/bytes) and creates the session once per model. */
  loadModel(pkg: ModelPackageSource, opts?: LoadModelOptions, onProgress?: (p: PackageProgress) => void): Promise<LoadModelResult>;
  /** Runs the full pipeline in the worker. Rejects with an error named 'AbortError' after cancel(). */
  segment(image: Volume, opts?: ClientSegmentOptions, onProgress?: (p: InferenceProgress) => void): Promise<ClientSegmentResult>;
  /** Aborts running and queued segmentations; resolves to how many. */
  cancel(): Promise<number>;
  backendInfo(): Promise<BackendInfo>;
  /** ORT console lines captured in verbose mode. */
  logs(): Promise<string[]>;
  /** Diagnostics/tests: destroys the worker's WebGPU device (next tiles fall back to WASM). */
  simulateDeviceLoss(): Promise<boolean>;
  /** Stops the worker (frees WASM/GPU memory). The client is unusable afterwards. */
  terminate(): void;
}

function isShared(buf: ArrayBufferLike): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && buf instanceof SharedArrayBuffer;
}

/** Creates a worker and its client. Pass `worker` to wrap one you created (tests). */
export function createInferenceClient(worker?: Worker): InferenceClient {
  installErrorTransfer();
  const w = worker ?? new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'psoasview-inference' });
  const remote = Comlink.wrap<InferenceWorkerApi>(w);
  const pageUrl = () => (typeof location !== 'undefined' ? location.href : undefined);

  return {
    loadModel(pkg, opts = {}, onProgress) {
      let p = pkg;
      const transfer: Transferable[] = [];
      if ('onnx' in p && !('files' in p)) {
        // Hand the ONNX bytes over without copying when they own their whole buffer.
        const o = p.onnx;
        const buf = o instanceof ArrayBuffer ? o : o.byteOffset === 0 && o.byteLength === o.buffer.byteLength && o.buffer instanceof ArrayBuffer ? o.buffer : undefined;
        if (buf) {
          transfer.push(buf);
          p = { ...p, onnx: buf };
        }
      }
      const args = [Comlink.transfer(p, transfer), { baseUrl: pageUrl(), ...opts }, onProgress ? Comlink.proxy(onProgress) : undefined] as const;
      return remote.loadModel(...args) as Promise<LoadModelResult>;
    },

    async segment(image, opts = {}, onProgress) {
      const { transfer = true, ...rest } = opts;
      const data = image.data;
      const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
      let sent: WorkerImage;
      const transferables: Transferable[] = [];
      if (isShared(data.buffer)) sent = { ...image };
      else if (transfer && whole) {
        sent = { ...image };
        transferables.push(data.buffer as ArrayBuffer);
      } else {
        // A copy: structured clone of a view copies its whole buffer, so slice to exactly the voxels first.
        const copy = data.slice();
        sent = { ...image, data: copy };
        transferables.push(copy.buffer as ArrayBuffer);
      }
      const r = (await remote.segment(
        Comlink.transfer(sent, transferables),
        rest,
        onProgress ? Comlink.proxy(onProgress) : undefined,
      )) as WorkerSegmentResult;
      const back: Volume = transferables.length > 0 && sent.data === data ? { ...image, data: r.image.data } : image;
      return { ...r, mask: r.mask, image: back };
    },

    cancel: () => remote.cancel() as Promise<number>,
    backendInfo: () => remote.backendInfo() as Promise<BackendInfo>,
    logs: () => remote.logs() as Promise<string[]>,
    simulateDeviceLoss: () => remote.simulateDeviceLoss() as Promise<boolean>,
    terminate: () => {
      remote[Comlink.releaseProxy]();
      w.terminate();
    },
  };
}

/** What the e2e specs (and a developer console) reach as `window.__psoasInference`. */
export interface InferenceTestHook {
  createInferenceClient: typeof createInferenceClient;
  listModelPackages: typeof listModelPackages;
  isAbortError: typeof isAbortError;
  /** Clients created through the hook, by name, so a spec can use one across page.evaluate calls. */
  clients: Record<string, InferenceClient>;
}

declare global {
  interface Window {
    __psoasInference?: InferenceTestHook;
  }
}

export function installInferenceTestHook(): void {
  if (typeof window === 'undefined' || window.__psoasInference) return;
  window.__psoasInference = { createInferenceClient, listModelPackages, isAbortError, clients: {} };
}

if (typeof window !== 'undefined' && (import.meta.env?.DEV || (typeof location !== 'undefined' && location.search.includes('e2e'))))
  installInferenceTestHook();
