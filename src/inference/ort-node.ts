/**
 * onnxruntime-node entry point: THE only Node file that imports onnxruntime (the browser counterpart will be
 * ort-web.ts with onnxruntime-web). CPU execution provider; the binaries ship in the npm package.
 *
 * Sessions are created once per model (cached by resolved path, or by `cacheKey` for in-memory bytes) and every
 * run goes through the session's queue, so concurrent callers are serialised.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { PsoasError, isPsoasError } from '../core/errors';
import { validateManifest, type ModelManifest } from '../pipeline/manifest';
import { wrapOrtSession } from './session-common';
import type { ModelSession, OrtLikeSession } from './types';

export interface NodeSessionOptions {
  /** Check names/channels against this manifest (input.name, output.name, output.channels). */
  manifest?: ModelManifest;
  /** CPU threads for one run (default: onnxruntime's choice). */
  intraOpNumThreads?: number;
  /** Cache key for in-memory model bytes (paths are cached by their resolved path automatically). */
  cacheKey?: string;
}

const cache = new Map<string, Promise<ModelSession>>();

/**
 * Loads an ONNX model (file path or bytes) into an onnxruntime-node CPU session and returns a ModelSession
 * whose `predictTile` plugs into pipeline `segment`. Same path (or cacheKey) → the same session.
 */
export function createNodeSession(model: string | Uint8Array, opts: NodeSessionOptions = {}): Promise<ModelSession> {
  const key = typeof model === 'string' ? `path:${path.resolve(model)}` : opts.cacheKey ? `key:${opts.cacheKey}` : undefined;
  if (key) {
    const hit = cache.get(key);
    if (hit) return hit;
  }
  const created = openSession(model, opts).then((s) => {
    if (!key) return s;
    // Disposing removes it from the cache so the next create loads afresh.
    const dispose = s.dispose;
    return { ...s, dispose: async () => { cache.delete(key); await dispose(); } } as ModelSession;
  });
  if (key) {
    cache.set(key, created);
    created.catch(() => cache.delete(key));
  }
  return created;
}

async function openSession(model: string | Uint8Array, opts: NodeSessionOptions): Promise<ModelSession> {
  const source = typeof model === 'string' ? model : opts.cacheKey ?? `<${model.byteLength} bytes of ONNX>`;
  let session: ort.InferenceSession;
  try {
    const so: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
    if (opts.intraOpNumThreads) so.intraOpNumThreads = opts.intraOpNumThreads;
    session = typeof model === 'string' ? await ort.InferenceSession.create(model, so) : await ort.InferenceSession.create(model, so);
  } catch (e) {
    throw new PsoasError(
      'BAD_MODEL',
      `Could not load ONNX model ${source}: ${e instanceof Error ? e.message : String(e)}`,
      source,
      source,
    );
  }
  const m = opts.manifest;
  try {
    return wrapOrtSession(
      session as unknown as OrtLikeSession,
      (data, dims) => new ort.Tensor('float32', data, dims),
      { backend: 'onnxruntime-node/cpu', source },
      { inputName: m?.input.name, outputName: m?.output.name as string | undefined, outputChannels: m?.output.channels },
    );
  } catch (e) {
    await session.release();
    throw e;
  }
}

/**
 * Loads models/<name>/ (manifest.json + the ONNX file it names): validates the manifest, checks the ONNX's
 * sha256 when the manifest gives one, and creates the (cached) session.
 */
export async function loadNodeModel(dir: string, opts: Omit<NodeSessionOptions, 'manifest' | 'cacheKey'> = {}): Promise<{ manifest: ModelManifest; session: ModelSession }> {
  const manifestPath = path.join(dir, 'manifest.json');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (e) {
    throw new PsoasError('BAD_MODEL', `Could not read model manifest ${manifestPath}: ${e instanceof Error ? e.message : String(e)}`, manifestPath, manifestPath);
  }
  const manifest = validateManifest(json, manifestPath);
  const onnxPath = path.join(dir, manifest.onnx ?? 'model.onnx');
  if (manifest.sha256) {
    let bytes: Buffer;
    try {
      bytes = await readFile(onnxPath);
    } catch (e) {
      throw new PsoasError('BAD_MODEL', `Could not read ONNX model ${onnxPath}: ${e instanceof Error ? e.message : String(e)}`, onnxPath, onnxPath);
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== manifest.sha256.toLowerCase())
      throw new PsoasError('BAD_MODEL', `ONNX model ${onnxPath} has sha256 ${sha}, manifest ${manifestPath} says ${manifest.sha256}`, sha, onnxPath);
  }
  try {
    const session = await createNodeSession(onnxPath, { ...opts, manifest });
    return { manifest, session };
  } catch (e) {
    if (isPsoasError(e)) throw e;
    throw new PsoasError('BAD_MODEL', `Could not load model ${dir}: ${String(e)}`, dir, dir);
  }
}
