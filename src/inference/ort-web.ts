/**
 * onnxruntime-web entry point: THE only browser file that imports onnxruntime-web (the Node counterpart is
 * ort-node.ts). Meant to run inside the inference worker (worker.ts), but works on any thread.
 *
 * - WebGPU execution provider when `navigator.gpu` gives an adapter: we create the GPUDevice ourselves and request
 *   the adapter's own maxBufferSize / maxStorageBufferBindingSize (the defaults, 256 / 128 MiB, are smaller than
 *   most adapters allow) and hand it to the session (EP option `device`).
 * - Otherwise (or when preferred: 'wasm') the WASM execution provider: SIMD, numThreads = min(4, cores) when the
 *   page is crossOriginIsolated (SharedArrayBuffer), else 1.
 * - If WebGPU fails while creating the session or during a run (device lost, out of memory, an op error), the
 *   session is recreated on WASM, the tile re-run, and `fallbackReason` says why.
 * - Verbose mode: ORT's verbose log (including the "Node placements" report) is captured from the console and
 *   parsed, so a test can check that every node ran on WebGPU. ORT reads its global log level only when it
 *   initialises, so verbose must be asked for on the FIRST session created in this thread (e.g. a fresh worker).
 *
 * In onnxruntime-web 1.30 both EPs run from one `ort-wasm-simd-threaded.asyncify.wasm`, which the bundle locates
 * through import.meta.url (Vite emits it as an asset): wasmPaths stays unset, nothing loads from a CDN.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { PsoasError, isPsoasError } from '../core/errors';
import type { ModelManifest } from '../pipeline/manifest';
import { wrapOrtSession } from './session-common';
import type { ModelSession, OrtLikeSession } from './types';
import { openWithFallback, type FallbackDeps, type OpenedSession, type WebBackend } from './web-fallback';
import { captureConsole, parsePlacement, type LogCapture, type NodePlacement } from './web-log';

export type PreferredBackend = 'webgpu' | 'wasm' | 'auto';
export type { WebBackend } from './web-fallback';

export interface WebSessionOptions {
  /** 'auto' = WebGPU when an adapter exists, else WASM. */
  preferred: PreferredBackend;
  /** Checks input/output names and channel count against the manifest (wrapOrtSession). */
  manifest?: ModelManifest;
  /** Capture ORT's verbose log and the node placement report (see module comment). */
  verbose?: boolean;
  /** Name for messages (package name, URL). Default '<N bytes of ONNX>'. */
  source?: string;
}

/** What the WebGPU adapter/device offered and what we asked for (bytes). */
export interface WebGpuInfo {
  vendor?: string;
  architecture?: string;
  description?: string;
  isFallbackAdapter?: boolean;
  adapterMaxBufferSize: number;
  adapterMaxStorageBufferBindingSize: number;
  /** Limits of the device actually created (what tiles must fit). */
  deviceMaxBufferSize: number;
  deviceMaxStorageBufferBindingSize: number;
  features: string[];
}

export interface WebModelSession extends ModelSession {
  /** The EP that runs now ('onnxruntime-web/webgpu' or 'onnxruntime-web/wasm'); changes after a fallback. */
  readonly backend: WebBackend;
  /** Why WebGPU is not (or no longer) used although it was wanted; undefined when it runs as asked. */
  readonly fallbackReason?: string;
  /** WebGPU adapter/device details when a WebGPU device was created. */
  readonly webgpu?: WebGpuInfo;
  /**
   * The device's largest storage-buffer binding (bytes) while on WebGPU, for pipeline segment({maxBufferBytes}) to
   * size tiles; undefined on WASM.
   */
  readonly maxBufferBytes?: number;
  /** WASM threads ORT was configured with. */
  readonly numThreads: number;
  /** Milliseconds to create the session(s), the WASM fallback included. */
  readonly createMs: number;
  /** Node placement report of the current session (verbose mode only; null when not logged). */
  readonly placement: NodePlacement[] | null;
  /** ORT log lines captured for this session (verbose mode only). */
  readonly log: string[];
}

// ---- minimal WebGPU typings (the project does not pull in @webgpu/types) ----
interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface GpuAdapterLike {
  readonly limits: Record<string, number>;
  readonly features: ReadonlySet<string>;
  readonly info?: GpuAdapterInfoLike;
  readonly isFallbackAdapter?: boolean;
  requestDevice(desc?: { requiredLimits?: Record<string, number>; requiredFeatures?: string[]; label?: string }): Promise<GpuDeviceLike>;
}
interface GpuDeviceLike {
  readonly limits: Record<string, number>;
  readonly features: ReadonlySet<string>;
  readonly lost: Promise<{ reason: string; message: string }>;
  destroy(): void;
}
interface GpuLike {
  requestAdapter(opts?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<GpuAdapterLike | null>;
}

/** Limits raised to the adapter's maximum: buffer sizes for big tiles, compute limits ORT's kernels use. */
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
];
/** Optional features ORT can use when present. */
const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'];

let envConfigured: { numThreads: number; verbose: boolean } | undefined;
let logCapture: LogCapture | undefined;

function hardwareThreads(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && n > 0 ? n : 1;
}

/** WASM threads we configure: min(4, cores) with cross-origin isolation (SharedArrayBuffer), else 1. */
export function wasmThreadCount(isolated = !!(globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated, cores = hardwareThreads()): number {
  return isolated ? Math.max(1, Math.min(4, cores)) : 1;
}

/** Global ORT settings, applied once per thread before the first session (ORT reads them when it initialises). */
function configureEnv(verbose: boolean): { numThreads: number; verbose: boolean } {
  if (envConfigured) {
    // Too late for ORT's global log level, but the session's own logSeverityLevel 0 still logs its placement.
    if (verbose) logCapture ??= captureConsole();
    return envConfigured;
  }
  const numThreads = wasmThreadCount();
  ort.env.wasm.numThreads = numThreads;
  ort.env.wasm.simd = true;
  // We already are in a worker: no extra proxy worker.
  ort.env.wasm.proxy = false;
  if (verbose) {
    logCapture = captureConsole();
    ort.env.logLevel = 'verbose';
  } else {
    ort.env.logLevel = 'warning';
  }
  envConfigured = { numThreads, verbose };
  return envConfigured;
}

/** Console lines captured by verbose mode in this thread (empty when verbose was never on). */
export function capturedLog(): string[] {
  return logCapture?.lines() ?? [];
}

let gpuPromise: Promise<{ device: GpuDeviceLike; info: WebGpuInfo } | { reason: string }> | undefined;
/** Why a device was lost, per device (sessions created on it check theirs before every tile). */
const lostReasons = new WeakMap<object, string>();
let currentDeviceLost = false;

/**
 * One WebGPU device per thread (shared by the sessions created here), with the adapter's maximum buffer limits.
 * Resolves to {reason} when there is no WebGPU.
 */
export function requestWebGpuDevice(): Promise<{ device: GpuDeviceLike; info: WebGpuInfo } | { reason: string }> {
  // A lost device is replaced by a new one for sessions created from now on.
  if (gpuPromise && !currentDeviceLost) return gpuPromise;
  currentDeviceLost = false;
  gpuPromise = (async () => {
    const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
    if (!gpu) return { reason: 'WebGPU is not available in this browser (navigator.gpu is undefined)' };
    let adapter: GpuAdapterLike | null;
    try {
      adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    } catch (e) {
      return { reason: `WebGPU adapter request failed: ${e instanceof Error ? e.message : String(e)}` };
    }
    if (!adapter) return { reason: 'WebGPU has no adapter on this machine (navigator.gpu.requestAdapter() gave null)' };
    const requiredLimits: Record<string, number> = {};
    for (const k of RAISED_LIMITS) if (typeof adapter.limits[k] === 'number') requiredLimits[k] = adapter.limits[k];
    const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
    let device: GpuDeviceLike;
    try {
      device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'psoasview-inference' });
    } catch (e) {
      return { reason: `WebGPU device request failed: ${e instanceof Error ? e.message : String(e)}` };
    }
    void device.lost.then((info) => {
      lostReasons.set(device, `WebGPU device lost (${info.reason}${info.message ? `: ${info.message}` : ''})`);
      currentDeviceLost = true;
    });
    const ai = adapter.info ?? {};
    return {
      device,
      info: {
        vendor: ai.vendor,
        architecture: ai.architecture,
        description: ai.description,
        isFallbackAdapter: ai.isFallbackAdapter ?? adapter.isFallbackAdapter,
        adapterMaxBufferSize: adapter.limits.maxBufferSize,
        adapterMaxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        deviceMaxBufferSize: device.limits.maxBufferSize,
        deviceMaxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
        features: [...device.features].sort(),
      },
    };
  })();
  return gpuPromise;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function openSession(
  bytes: Uint8Array,
  backend: WebBackend,
  device: GpuDeviceLike | undefined,
  opts: WebSessionOptions,
  source: string,
): Promise<OpenedSession> {
  const verbose = !!opts.verbose;
  const mark = logCapture?.mark() ?? 0;
  const so: ort.InferenceSession.SessionOptions = {
    executionProviders:
      backend === 'onnxruntime-web/webgpu'
        ? [{ name: 'webgpu', device: device as unknown as ort.InferenceSession.WebGpuExecutionProviderOption['device'] }]
        : ['wasm'],
    graphOptimizationLevel: 'all',
    ...(verbose ? { logSeverityLevel: 0 as const, logVerbosityLevel: 0 } : {}),
  };
  let session: ort.InferenceSession;
  try {
    // ORT copies the bytes into the WASM heap; `bytes` stays ours (kept for a WASM fallback).
    session = await ort.InferenceSession.create(bytes, so);
  } catch (e) {
    throw new PsoasError('BAD_MODEL', `Could not load ONNX model ${source} with ${backend}: ${errText(e)}`, source, source);
  }
  const m = opts.manifest;
  let wrapped: ModelSession;
  try {
    wrapped = wrapOrtSession(
      session as unknown as OrtLikeSession,
      (data, dims) => new ort.Tensor('float32', data, dims),
      { backend, source },
      { inputName: m?.input.name, outputName: m?.output.name as string | undefined, outputChannels: m?.output.channels },
    );
  } catch (e) {
    await session.release().catch(() => undefined);
    // The pipeline cannot feed this model on any EP (rank, names, channels): no fallback, say it now.
    if (isPsoasError(e)) Object.assign(e, { modelFault: true });
    throw e;
  }
  const log = logCapture ? logCapture.since(mark) : [];
  return { session: wrapped, backend, placement: verbose ? parsePlacement(log) : null, log };
}

/**
 * Creates an onnxruntime-web session for `modelBytes` and returns a ModelSession (plus backend details) whose
 * predictTile plugs into pipeline `segment`. Throws PsoasError('BAD_MODEL') for a model the pipeline cannot feed
 * (e.g. input rank != 5), whichever EP was tried. The fallback policy lives in web-fallback.ts.
 */
export async function createWebSession(modelBytes: ArrayBuffer | Uint8Array, opts: WebSessionOptions): Promise<WebModelSession> {
  const bytes = modelBytes instanceof Uint8Array ? modelBytes : new Uint8Array(modelBytes);
  const source = opts.source ?? `<${bytes.byteLength} bytes of ONNX>`;
  const env = configureEnv(!!opts.verbose);

  let webgpu: WebGpuInfo | undefined;
  let device: GpuDeviceLike | undefined;
  let webgpuChoice: FallbackDeps['webgpu'] = { use: false };
  if (opts.preferred !== 'wasm') {
    const gpu = await requestWebGpuDevice();
    if ('device' in gpu) {
      webgpu = gpu.info;
      device = gpu.device;
      webgpuChoice = { use: true };
    } else webgpuChoice = { use: false, reason: gpu.reason };
  }
  const fb = await openWithFallback({
    open: (backend) => openSession(bytes, backend, backend === 'onnxruntime-web/webgpu' ? device : undefined, opts, source),
    webgpu: webgpuChoice,
    lostReason: () => (device ? lostReasons.get(device) : undefined),
  });
  const s0 = fb.current.session;
  return {
    get backend() {
      return fb.current.backend;
    },
    source,
    inputName: s0.inputName,
    outputName: s0.outputName,
    outputChannels: s0.outputChannels,
    predictTile: fb.predictTile,
    pending: () => fb.current.session.pending(),
    dispose: () => fb.dispose(),
    get fallbackReason() {
      return fb.fallbackReason;
    },
    webgpu,
    get maxBufferBytes() {
      return fb.current.backend === 'onnxruntime-web/webgpu' && webgpu
        ? Math.min(webgpu.deviceMaxStorageBufferBindingSize, webgpu.deviceMaxBufferSize)
        : undefined;
    },
    numThreads: env.numThreads,
    get createMs() {
      return fb.createMs;
    },
    get placement() {
      return fb.current.placement;
    },
    get log() {
      return fb.current.log;
    },
  };
}

/**
 * Test/diagnostic hook: destroys this thread's WebGPU device (as a driver reset or GPU process crash would) and
 * resolves once the loss is reported; the next tile then runs on a WASM session (fallbackReason says why).
 */
export async function loseWebGpuDeviceForTesting(): Promise<boolean> {
  if (!gpuPromise) return false;
  const gpu = await gpuPromise;
  if (!('device' in gpu)) return false;
  gpu.device.destroy();
  await gpu.device.lost;
  // device.lost's own handler (requestWebGpuDevice, attached first) has recorded the reason by now.
  await Promise.resolve();
  return lostReasons.has(gpu.device);
}

/** onnxruntime-web's version (for the UI's "about" and provenance). */
export function ortVersion(): string {
  return ort.env.versions.web ?? ort.env.versions.common;
}
