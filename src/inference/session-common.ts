/**
 * Backend-neutral wrapper around an onnxruntime InferenceSession (node or web): checks the model's declared
 * input/output against the pipeline's tensor contract, queues runs, and turns tiles into tensors and back.
 * The backend files (ort-node.ts, later ort-web.ts) only construct the session and the tensor factory.
 */
import { PsoasError, isPsoasError } from '../core/errors';
import type { Vec3 } from '../core/geometry';
import { createSerialQueue } from './queue';
import type { ModelSession, OrtLikeSession, SessionOptionsCommon, TensorFactory } from './types';

function shapeText(shape: ReadonlyArray<number | string>): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Wraps `session` into a ModelSession. Throws PsoasError('BAD_MODEL') when the model's input is not rank 5
 * ([N, C, D, H, W]), has C != 1, or names/channels disagree with `opts` (from the manifest).
 */
export function wrapOrtSession(
  session: OrtLikeSession,
  makeTensor: TensorFactory,
  meta: { backend: string; source: string },
  opts: SessionOptionsCommon = {},
): ModelSession {
  const { backend, source } = meta;
  const bad = (message: string, value: unknown): never => {
    throw new PsoasError('BAD_MODEL', `Model ${source}: ${message}`, value, source);
  };
  const inputName = opts.inputName ?? session.inputNames[0];
  const outputName = opts.outputName ?? session.outputNames[0];
  if (!inputName || !session.inputNames.includes(inputName))
    bad(`has no input named "${inputName}" (inputs: ${session.inputNames.join(', ') || 'none'})`, inputName);
  if (!outputName || !session.outputNames.includes(outputName))
    bad(`has no output named "${outputName}" (outputs: ${session.outputNames.join(', ') || 'none'})`, outputName);
  const inMeta = session.inputMetadata?.find((m) => m.name === inputName);
  if (inMeta?.shape && inMeta.shape.length > 0) {
    if (inMeta.shape.length !== 5)
      bad(
        `input "${inputName}" has rank ${inMeta.shape.length} ${shapeText(inMeta.shape)}; the pipeline feeds rank 5 [1, 1, D, H, W] (D = k, H = j, W = i)`,
        inMeta.shape,
      );
    if (typeof inMeta.shape[1] === 'number' && inMeta.shape[1] !== 1)
      bad(`input "${inputName}" has ${inMeta.shape[1]} channels ${shapeText(inMeta.shape)}; the pipeline feeds 1 (CT)`, inMeta.shape);
  }
  if (inMeta?.type && inMeta.type !== 'float32') bad(`input "${inputName}" is ${inMeta.type}; the pipeline feeds float32`, inMeta.type);
  const outMeta = session.outputMetadata?.find((m) => m.name === outputName);
  let outputChannels = opts.outputChannels;
  if (outMeta?.shape && outMeta.shape.length > 0) {
    if (outMeta.shape.length !== 5)
      bad(`output "${outputName}" has rank ${outMeta.shape.length} ${shapeText(outMeta.shape)}; expected [1, C, D, H, W]`, outMeta.shape);
    const c = outMeta.shape[1];
    if (typeof c === 'number') {
      if (outputChannels !== undefined && c !== outputChannels)
        bad(`output "${outputName}" has ${c} channels ${shapeText(outMeta.shape)} but the manifest says output.channels=${outputChannels}`, c);
      outputChannels = c;
    }
  }

  const queue = createSerialQueue();
  let disposed = false;
  const predictTile = (tile: Float32Array, size: Vec3, signal?: AbortSignal): Promise<Float32Array> =>
    queue(async () => {
      signal?.throwIfAborted();
      if (disposed) throw new PsoasError('INFERENCE_FAILED', `Model ${source}: session was disposed`, undefined, source);
      const [x, y, z] = size;
      const P = x * y * z;
      if (tile.length !== P)
        throw new PsoasError('BAD_ARGUMENT', `predictTile: tile has ${tile.length} values, size ${size.join('x')} = ${P}`, tile.length, source);
      let result: Record<string, { dims: readonly number[]; type: string; data: unknown }>;
      try {
        result = await session.run({ [inputName]: makeTensor(tile, [1, 1, z, y, x]) });
      } catch (e) {
        if (isPsoasError(e)) throw e;
        throw new PsoasError(
          'INFERENCE_FAILED',
          `Model ${source} (${backend}) failed on a tile of ${x}x${y}x${z} voxels (input [1, 1, ${z}, ${y}, ${x}]): ${e instanceof Error ? e.message : String(e)}`,
          size,
          source,
        );
      }
      const out = result[outputName];
      const dims = out?.dims ?? [];
      const ok = dims.length === 5 && dims[0] === 1 && dims[2] === z && dims[3] === y && dims[4] === x;
      if (!ok || !(out.data instanceof Float32Array))
        throw new PsoasError(
          'INFERENCE_FAILED',
          `Model ${source}: output "${outputName}" is ${out ? `${out.type} [${dims.join(', ')}]` : 'missing'}; expected float32 [1, C, ${z}, ${y}, ${x}]`,
          dims,
          source,
        );
      if (outputChannels !== undefined && dims[1] !== outputChannels)
        throw new PsoasError('INFERENCE_FAILED', `Model ${source}: output has ${dims[1]} channels, expected ${outputChannels}`, dims, source);
      return out.data;
    });

  return {
    backend,
    source,
    inputName,
    outputName,
    outputChannels,
    predictTile,
    pending: () => queue.size,
    dispose: async () => {
      if (disposed) return;
      disposed = true;
      // Let queued runs finish (or fail) before the native session goes away.
      await queue(async () => undefined);
      await session.release();
    },
  };
}
