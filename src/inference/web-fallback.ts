/**
 * The WebGPU → WASM fallback of ort-web.ts, without onnxruntime (the EP-specific session opener is injected), so
 * the policy is unit-tested in Node with fake sessions:
 *
 * - creation: WebGPU wanted and a device exists → try it; a failure that is not the model's fault (the model is
 *   fine on WASM) → WASM with `fallbackReason`. A model the pipeline cannot feed (BAD_MODEL from the shared
 *   wrapper: wrong rank, names, channels) is rethrown at once: WASM would refuse it too.
 * - run: a WebGPU run that fails (INFERENCE_FAILED: device lost, out of memory, an op error) → the session is
 *   recreated on WASM once, the same tile re-run, `fallbackReason` set; later tiles run on WASM. Cancels
 *   (AbortError) and input errors (BAD_ARGUMENT) are passed through, never a reason to fall back.
 * - device lost between runs (reported through `lostReason()`) → switch before the next tile.
 */
import { isPsoasError } from '../core/errors';
import type { ModelSession } from './types';
import type { NodePlacement } from './web-log';

export type WebBackend = 'onnxruntime-web/webgpu' | 'onnxruntime-web/wasm';

/** A session opened on one EP (what ort-web.ts's opener returns). */
export interface OpenedSession {
  session: ModelSession;
  backend: WebBackend;
  placement: NodePlacement[] | null;
  log: string[];
}

export interface FallbackDeps {
  /** Opens the model on `backend`. Throws PsoasError BAD_MODEL for a model the pipeline cannot feed. */
  open(backend: WebBackend): Promise<OpenedSession>;
  /** Whether to try WebGPU first; `reason` says why not when false and WebGPU was asked for. */
  webgpu: { use: true } | { use: false; reason?: string };
  /** A device-lost reason once the GPU device is gone (checked before every tile). */
  lostReason?: () => string | undefined;
}

export interface FallbackSession {
  readonly current: OpenedSession;
  readonly fallbackReason: string | undefined;
  /** Milliseconds spent opening sessions (WASM fallback included). */
  readonly createMs: number;
  predictTile: ModelSession['predictTile'];
  dispose(): Promise<void>;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Errors that say nothing about WebGPU: never a reason to fall back. */
export function isNonGpuError(e: unknown): boolean {
  if ((e as { name?: string } | null)?.name === 'AbortError') return true;
  return isPsoasError(e) && e.code !== 'INFERENCE_FAILED';
}

/** A creation error that is the model's own fault (tagged by the opener with `modelFault`) or rejects on any EP. */
function isModelFault(e: unknown): boolean {
  return isPsoasError(e) && e.code === 'BAD_MODEL' && (e as { modelFault?: boolean }).modelFault === true;
}

export async function openWithFallback(deps: FallbackDeps): Promise<FallbackSession> {
  const t0 = performance.now();
  let current: OpenedSession | undefined;
  let fallbackReason: string | undefined;
  if (deps.webgpu.use) {
    try {
      current = await deps.open('onnxruntime-web/webgpu');
    } catch (e) {
      if (isModelFault(e)) throw e;
      fallbackReason = `WebGPU session creation failed, using WASM: ${errText(e)}`;
    }
  } else fallbackReason = deps.webgpu.reason;
  current ??= await deps.open('onnxruntime-web/wasm');
  let createMs = performance.now() - t0;

  let switching: Promise<void> | undefined;
  const switchToWasm = (reason: string): Promise<void> => {
    if (switching) return switching;
    if (current!.backend === 'onnxruntime-web/wasm') return Promise.resolve();
    switching = (async () => {
      const t = performance.now();
      const old = current!;
      current = await deps.open('onnxruntime-web/wasm');
      fallbackReason = reason;
      createMs += performance.now() - t;
      void old.session.dispose().catch(() => undefined);
    })().finally(() => {
      switching = undefined;
    });
    return switching;
  };

  const predictTile: ModelSession['predictTile'] = async (tile, size, signal) => {
    if (switching) await switching;
    const lost = deps.lostReason?.();
    if (lost && current!.backend === 'onnxruntime-web/webgpu') await switchToWasm(`${lost}; re-created the session on WASM`);
    const s = current!;
    try {
      return await s.session.predictTile(tile, size, signal);
    } catch (e) {
      if (s.backend !== 'onnxruntime-web/webgpu' || isNonGpuError(e)) throw e;
      const why = deps.lostReason?.() ?? errText(e);
      await switchToWasm(`WebGPU failed during a run (${why}); re-ran on WASM`);
      return current!.session.predictTile(tile, size, signal);
    }
  };

  return {
    get current() {
      return current!;
    },
    get fallbackReason() {
      return fallbackReason;
    },
    get createMs() {
      return createMs;
    },
    predictTile,
    dispose: async () => {
      if (switching) await switching.catch(() => undefined);
      await current!.session.dispose();
    },
  };
}
