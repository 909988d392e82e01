/**
 * The inference Web Worker (module worker): ONE typed comlink API, InferenceWorkerApi. It only re-exposes code
 * that also runs elsewhere: the model registry (registry.ts), the session wrapper (ort-web.ts → session-common.ts)
 * and the pipeline's `segment` (src/pipeline/run.ts, also used by the CLI with onnxruntime-node).
 *
 * - Sessions are created once per model (key: sha256 + backend preference + verbose) and reused; every call that
 *   touches a session goes through one serial queue (loads and segmentations run in call order).
 * - `cancel()` aborts the running/queued segmentations through an AbortSignal checked by every pipeline stage and
 *   before every tile; they reject with an error named 'AbortError'.
 * - Buffers are transferred, never copied: the input CT (returned with the result), the mask, the ONNX bytes.
 *
 * Create it with client.ts createInferenceClient() (which wraps it); do not import this file from the main thread.
 */
import * as Comlink from 'comlink';
import { PsoasError } from '../core/errors';
import type { Vec3, VolumeGeometry } from '../core/geometry';
import { nextTask } from '../core/tasks';
import type { VolumeMeta, VoxelArray } from '../core/volume';
import type { ModelManifest } from '../pipeline/manifest';
import { runsPerTile } from '../pipeline/mirror';
import { segment as runSegment, type SegmentOptions, type Stage, type StepRecord } from '../pipeline/run';
import type { PostprocessReport } from '../pipeline/postprocess';
import { createWebSession, capturedLog, loseWebGpuDeviceForTesting, ortVersion, requestWebGpuDevice, wasmThreadCount, type PreferredBackend, type WebGpuInfo, type WebModelSession } from './ort-web';
import { createSerialQueue } from './queue';
import { loadModelPackage, type ModelPackageSource, type PackageProgress } from './registry';
import type { NodePlacement } from './web-log';
import { installErrorTransfer } from './web-errors';

/** A CT volume as it crosses into the worker (its `data` buffer is transferred by the client). */
export interface WorkerImage {
  geometry: VolumeGeometry;
  data: VoxelArray;
  units: 'HU' | 'label' | 'other';
  meta: VolumeMeta;
}

export interface LoadModelOptions {
  preferred?: PreferredBackend;
  /** Capture ORT's verbose log / node placement (must be the first model loaded in this worker). */
  verbose?: boolean;
  /** Page URL to resolve a relative package URL against (the worker's own URL is the script's). */
  baseUrl?: string;
  /** false: do not use Cache Storage. */
  cache?: boolean;
  /** Accept a URL package whose manifest has no sha256. */
  allowUnverified?: boolean;
}

export interface LoadModelResult {
  name: string;
  version: string;
  manifest: ModelManifest;
  sha256: string;
  verified: boolean;
  fromCache: boolean;
  /** True when an already created session for the same model was reused. */
  reused: boolean;
  backend: string;
  fallbackReason?: string;
  numThreads: number;
  webgpu?: WebGpuInfo;
  placement: NodePlacement[] | null;
  /** Milliseconds: manifest, onnx (download or cache read), verify (sha256), session (creation). */
  timings: { manifest: number; onnx: number; verify: number; session: number };
}

export interface WorkerSegmentOptions
  extends Pick<SegmentOptions, 'maxTileVoxels' | 'maxBufferBytes' | 'marginMm' | 'fillHolesMode' | 'connectivity' | 'maxSlabValues'> {}

/** Progress events: per stage (fraction 0..1 within the stage) and, during inference, per tile. */
export interface InferenceProgress {
  stage: Stage;
  fraction: number;
  tile?: { done: number; total: number; ms: number };
}

export interface WorkerSegmentResult {
  /** Label map on the source grid (1 = psoas_left, 2 = psoas_right). Its buffer was transferred. */
  mask: { geometry: VolumeGeometry; data: Uint8Array; units: 'label'; meta: VolumeMeta };
  /** The input image with its (transferred back) buffer, so the caller keeps its CT without a copy. */
  image: WorkerImage;
  /** Milliseconds per stage and total; `tiles` = each tile's predict time; `tileSize` in model voxels. */
  timings: Record<Stage | 'total', number> & { tiles: number[]; tileSize?: Vec3 };
  backend: string;
  fallbackReason?: string;
  steps: StepRecord[];
  labels: Record<number, string>;
  postprocess: PostprocessReport[];
  model: { name: string; version: string; sha256: string };
}

export interface BackendInfo {
  ortVersion: string;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  numThreads: number;
  webgpu: { available: boolean; reason?: string; info?: WebGpuInfo };
  model?: { name: string; version: string; sha256: string; backend: string; fallbackReason?: string };
  busy: number;
}

export interface InferenceWorkerApi {
  loadModel(pkg: ModelPackageSource, opts?: LoadModelOptions, onProgress?: (p: PackageProgress) => void): Promise<LoadModelResult>;
  segment(image: WorkerImage, opts?: WorkerSegmentOptions, onProgress?: (p: InferenceProgress) => void): Promise<WorkerSegmentResult>;
  /** Aborts running and queued segmentations. Resolves to how many were aborted. */
  cancel(): number;
  backendInfo(): Promise<BackendInfo>;
  /** Console lines captured in verbose mode. */
  logs(): string[];
  /**
   * Diagnostics/tests: destroys the WebGPU device as a driver reset would; the next tile runs on WASM and results
   * report the fallback. Resolves to false when no device was created.
   */
  simulateDeviceLoss(): Promise<boolean>;
}

interface Loaded {
  key: string;
  manifest: ModelManifest;
  sha256: string;
  session: WebModelSession;
}

const queue = createSerialQueue();
const sessions = new Map<string, Promise<Loaded>>();
let active: Loaded | undefined;
const controllers = new Set<AbortController>();

async function loadModel(pkg: ModelPackageSource, opts: LoadModelOptions = {}, onProgress?: (p: PackageProgress) => void): Promise<LoadModelResult> {
  return queue(async () => {
    const pack = await loadModelPackage(pkg, {
      baseUrl: opts.baseUrl,
      cache: opts.cache === false ? null : undefined,
      allowUnverified: opts.allowUnverified,
      onProgress,
    });
    const preferred = opts.preferred ?? 'auto';
    const key = `${pack.manifest.name}@${pack.manifest.version}#${pack.sha256}/${preferred}${opts.verbose ? '/verbose' : ''}`;
    let reused = true;
    let created = sessions.get(key);
    if (!created) {
      reused = false;
      created = createWebSession(pack.onnx, {
        preferred,
        manifest: pack.manifest,
        verbose: opts.verbose,
        source: `${pack.manifest.name} ${pack.manifest.version} (${pack.onnxSource})`,
      }).then((session) => ({ key, manifest: pack.manifest, sha256: pack.sha256, session }));
      sessions.set(key, created);
      created.catch(() => sessions.delete(key));
    }
    const loaded = await created;
    // One model in use at a time: release the others (GPU memory).
    for (const [k, p] of sessions)
      if (k !== key) {
        sessions.delete(k);
        void p.then((l) => l.session.dispose()).catch(() => undefined);
      }
    active = loaded;
    const s = loaded.session;
    return {
      name: pack.manifest.name,
      version: pack.manifest.version,
      manifest: pack.manifest,
      sha256: pack.sha256,
      verified: pack.verified,
      fromCache: pack.fromCache,
      reused,
      backend: s.backend,
      fallbackReason: s.fallbackReason,
      numThreads: s.numThreads,
      webgpu: s.webgpu,
      placement: s.placement,
      timings: { ...pack.timings, session: reused ? 0 : s.createMs },
    };
  });
}

async function segment(image: WorkerImage, opts: WorkerSegmentOptions = {}, onProgress?: (p: InferenceProgress) => void): Promise<WorkerSegmentResult> {
  const controller = new AbortController();
  controllers.add(controller);
  try {
    return await queue(async () => {
      controller.signal.throwIfAborted();
      const loaded = active;
      if (!loaded) throw new PsoasError('BAD_ARGUMENT', 'segment: no model loaded in the inference worker (call loadModel first)', undefined, 'inference worker');
      const { session, manifest } = loaded;
      const tiles: number[] = [];
      let tileSize: Vec3 | undefined;
      let total = 0;
      let reportedTiles = 0;
      // With mirror averaging (pipeline/mirror.ts) the network runs twice per tile: time and count tiles, not runs.
      const runsEachTile = runsPerTile(manifest.sliding_window);
      let runs = 0;
      let tileMs = 0;
      const predictTile: WebModelSession['predictTile'] = async (tile, size, signal) => {
        // ORT's WASM run may finish without ever leaving the microtask queue: give queued messages (cancel())
        // a chance to run before each tile, then honour them.
        await nextTask(); // a macrotask: a pending cancel() call is handled first
        signal?.throwIfAborted();
        const t = performance.now();
        const out = await session.predictTile(tile, size, signal);
        tileSize = size;
        tileMs += performance.now() - t;
        if (++runs % runsEachTile === 0) {
          tiles.push(tileMs);
          tileMs = 0;
        }
        return out;
      };
      const result = await runSegment({ ...image, data: image.data }, manifest, predictTile, {
        ...opts,
        maxBufferBytes: opts.maxBufferBytes ?? session.maxBufferBytes,
        signal: controller.signal,
        onProgress: (p) => {
          if (!onProgress) return;
          // The sliding window reports done/total after each tile: one tile event per finished tile.
          if (p.stage === 'inference' && p.fraction > 0 && tiles.length > reportedTiles) {
            reportedTiles = tiles.length;
            total = p.tiles?.total ?? Math.round(tiles.length / p.fraction);
            onProgress({ ...p, tile: { done: tiles.length, total, ms: tiles[tiles.length - 1] } });
          } else onProgress(p);
        },
      });
      const out: WorkerSegmentResult = {
        mask: {
          geometry: result.mask.geometry,
          data: result.mask.data,
          units: 'label',
          meta: result.mask.meta,
        },
        image,
        timings: { ...result.timings, tiles, tileSize },
        backend: session.backend,
        fallbackReason: session.fallbackReason,
        steps: result.steps,
        labels: result.labels,
        postprocess: result.postprocess,
        model: { name: manifest.name, version: manifest.version, sha256: loaded.sha256 },
      };
      const transfer: Transferable[] = [out.mask.data.buffer as ArrayBuffer];
      if (image.data.buffer instanceof ArrayBuffer) transfer.push(image.data.buffer);
      return Comlink.transfer(out, transfer);
    });
  } finally {
    controllers.delete(controller);
  }
}

function cancel(): number {
  const n = controllers.size;
  for (const c of controllers) c.abort(new DOMException('Segmentation cancelled', 'AbortError'));
  controllers.clear();
  return n;
}

async function backendInfo(): Promise<BackendInfo> {
  const gpu = await requestWebGpuDevice();
  const s = active?.session;
  return {
    ortVersion: ortVersion(),
    crossOriginIsolated: !!(globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated,
    hardwareConcurrency: navigator.hardwareConcurrency ?? 1,
    numThreads: s?.numThreads ?? wasmThreadCount(),
    webgpu: 'device' in gpu ? { available: true, info: gpu.info } : { available: false, reason: gpu.reason },
    model: active && s ? { name: active.manifest.name, version: active.manifest.version, sha256: active.sha256, backend: s.backend, fallbackReason: s.fallbackReason } : undefined,
    busy: queue.size,
  };
}

const api: InferenceWorkerApi = {
  loadModel,
  segment,
  cancel,
  backendInfo,
  logs: capturedLog,
  simulateDeviceLoss: loseWebGpuDeviceForTesting,
};

installErrorTransfer();
Comlink.expose(api);
