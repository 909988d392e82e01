/**
 * Backend-neutral inference interfaces, shared by the Node wrapper (ort-node.ts, onnxruntime-node) and the
 * browser/worker wrapper to come (onnxruntime-web, WASM or WebGPU). Nothing here imports onnxruntime.
 *
 * Tensor layout (see src/pipeline/manifest.ts): input [1, 1, D, H, W] with D = k, H = j, W = i of the model grid,
 * so a tile's Float32Array (i fastest) is the row-major NCDHW buffer as-is; output [1, C, D, H, W] likewise.
 */
import type { PredictTile } from '../pipeline/sliding-window';

export type { PredictTile } from '../pipeline/sliding-window';

/** One loaded model, ready to run tiles. Created once per model; runs are queued (one at a time). */
export interface ModelSession {
  /** e.g. 'onnxruntime-node/cpu', 'onnxruntime-web/wasm', 'onnxruntime-web/webgpu'. */
  readonly backend: string;
  /** Where the model came from (path, URL or 'bytes'); used in error messages. */
  readonly source: string;
  readonly inputName: string;
  readonly outputName: string;
  /** Number of output channels when the model declares it (else from the manifest, else undefined). */
  readonly outputChannels?: number;
  /** Runs one tile; concurrent calls are serialised by the session's queue. Pass this to pipeline `segment`. */
  readonly predictTile: PredictTile;
  /** Runs queued or in progress. */
  pending(): number;
  /** Releases the native/GPU resources; later predictTile calls reject. */
  dispose(): Promise<void>;
}

/** The subset of an onnxruntime (node or web) InferenceSession that the shared wrapper uses. */
export interface OrtLikeSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata?: readonly OrtValueMetadata[];
  readonly outputMetadata?: readonly OrtValueMetadata[];
  run(feeds: Record<string, unknown>): Promise<Record<string, OrtLikeTensor>>;
  release(): Promise<void>;
}

export interface OrtValueMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: string;
  readonly shape?: ReadonlyArray<number | string>;
}

export interface OrtLikeTensor {
  readonly dims: readonly number[];
  readonly type: string;
  readonly data: unknown;
  dispose?(): void;
}

/** Builds a float32 tensor of the backend (e.g. `(d, dims) => new ort.Tensor('float32', d, dims)`). */
export type TensorFactory = (data: Float32Array, dims: number[]) => unknown;

export interface SessionOptionsCommon {
  /** Manifest input/output names and channel count to check the model against (optional). */
  inputName?: string;
  outputName?: string;
  outputChannels?: number;
}
