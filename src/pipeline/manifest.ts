/**
 * Model manifest (models/<name>/manifest.json): what the segmentation pipeline needs to know about an ONNX model.
 *
 * Axis mapping between the model grid and the ONNX tensor — the one rule every part must follow:
 *   The model grid is a VolumeGeometry (voxel index i, j, k; i fastest) whose axes point towards
 *   `input.orientation` (e.g. 'LPS': i → patient Left, j → Posterior, k → Superior) at `target_spacing_mm`.
 *   The ONNX input is NCDHW = [1, 1, D, H, W] with D = k (slices), H = j (rows), W = i (columns).
 *   Row-major NCDHW therefore has W (= i) fastest, which is exactly our linear index i + nx*(j + ny*k):
 *   a tile's Float32Array is passed to the runtime as-is, no transposition.
 *   `patch_size` and `target_spacing_mm` are given as [x, y, z] = along [i, j, k] = [W, H, D].
 *   The output is [1, C, D, H, W], channel-major: channel c of voxel n is at c*N + n.
 *
 * Orientation letters follow geometry.ts `orientationCode`: each letter is the patient direction an axis points
 * TOWARDS. So a nibabel-canonical ("RAS+") model has orientation 'RAS' (i → Right, j → Anterior, k → Superior).
 */
import type { HuRefine } from './hu-refine';
import { PsoasError } from '../core/errors';
import type { Vec3 } from '../core/geometry';

export type Normalise = { mean: number; std: number } | 'minmax';

export interface ManifestInput {
  /** ONNX input name; when absent the session's first input is used. */
  name?: string;
  channels: 1;
  dtype: 'float32';
  /** Tile size in voxels along [i, j, k] of the model grid (= [W, H, D] of the ONNX input). */
  patch_size: Vec3;
  /** Spatial sizes the network accepts must be multiples of this (2**depth for a U-Net). Default 1. */
  size_multiple?: number;
  /** Model grid spacing in mm along [i, j, k]. */
  target_spacing_mm: Vec3;
  /** Three letters, one per axis i, j, k: the patient direction each axis points towards (e.g. 'LPS', 'RAS'). */
  orientation: string;
  /**
   * Oblique series (an axis tilted ≥ OBLIQUE_MIN_DEG from the patient axes, e.g. gantry tilt): true = resample onto a
   * model grid along the patient axes (resample.ts patientAlignedGeometry; the network sees the body upright, as in
   * axial training data); false or absent = the model grid keeps the series' tilt. Series that are not oblique are
   * resampled the same way either way.
   */
  align_to_patient_axes?: boolean;
  /**
   * With align_to_patient_axes, what the model grid holds where it lies outside the tilted series (its corners):
   * 'clip_low' (default) = the HU window's low bound, as if the body ended there; 'edge' = the nearest voxel of the
   * series repeated outwards, so the anatomy seems to go on and the edge of the series does not look like the edge of
   * the body; 'reflect' = the series mirrored about its edge, continuing the anatomy without repeating one slice.
   * Only the series' own voxels are mapped back in every case.
   */
  outside_fill?: 'clip_low' | 'edge' | 'reflect';
  intensity: {
    /** HU window [lo, hi] applied before normalisation. */
    clip: [number, number];
    /** z-score with a fixed mean/std (in HU, after clipping), or 'minmax' = (x - lo) / (hi - lo) → [0, 1]. */
    normalise: Normalise;
  };
  [key: string]: unknown;
}

export interface ManifestOutput {
  /** ONNX output name; when absent the session's first output is used. */
  name?: string;
  channels: number;
  /** 'softmax'/'sigmoid': the network already applied it (outputs are probabilities); 'none': raw logits. */
  activation: 'softmax' | 'sigmoid' | 'none';
  /** Channel index (as a string) → structure name; "0" must be background. */
  labels: Record<string, string>;
  [key: string]: unknown;
}

export interface ManifestPostprocess {
  /** Keep only the largest connected component of each label. */
  largest_component: boolean;
  /**
   * Optional, with largest_component: pieces of a label separated from the main piece by at most this many mm of
   * background (along each patient axis of the grid) are kept with it, so a muscle the network split across a thin
   * gap stays whole. 0 or absent = the largest piece only.
   */
  component_gap_mm?: number;
  /** Fill holes of each label (background enclosed by the label). */
  fill_holes: boolean;
  /** Labels with less than this volume (mL) after the other steps are removed. 0 = keep all. */
  min_size_ml: number;
  /** Optional map-back refinement by the tissue's HU window on the source grid (see hu-refine.ts). */
  hu_refine?: HuRefine;
  /** Optional: a foreground label needs at least this probability on the source grid, [0.5, 1) (see hu-refine.ts). */
  foreground_threshold?: number;
}

export interface ManifestSlidingWindow {
  /** Fraction of the patch shared by neighbouring tiles, 0 <= overlap < 1 (nnU-Net uses 0.5). */
  overlap: number;
  blending: 'gaussian' | 'constant';
  /** Gaussian sigma as a fraction of the patch size (nnU-Net: 1/8). */
  sigma_scale: number;
  /**
   * Left–right mirror test-time augmentation (mirror.ts): every tile is also predicted mirrored, with *_left and
   * *_right outputs swapped back, and the two are averaged. Twice the network runs.
   */
  mirror_lr?: boolean;
  /**
   * Sub-voxel translation test-time augmentation: the model grid is placed at each of these offsets (fractions of a
   * model voxel along the model grid's x, y, z; each in (-1, 1)), resampled, run, and the class scores of all
   * placements are averaged on the SOURCE grid in map back. One network pass over the volume per placement.
   * Absent = one placement at [0, 0, 0]. Why: the 2 × 2 × 3 mm grid quantises the muscle's surface; placements
   * half a voxel apart sample it at different phases, and their average locates it between grid points.
   */
  grid_shifts?: [number, number, number][];
}

export interface ModelManifest {
  name: string;
  version: string;
  /** ONNX file name relative to the manifest's folder (default 'model.onnx'). */
  onnx?: string;
  sha256?: string;
  input: ManifestInput;
  output: ManifestOutput;
  postprocess: ManifestPostprocess;
  sliding_window: ManifestSlidingWindow;
  [key: string]: unknown;
}

const AXIS_LETTERS = ['RL', 'AP', 'IS'];

/** Is `code` a valid 3-letter orientation (one letter per patient axis, any order)? */
export function isOrientationCode(code: unknown): code is string {
  if (typeof code !== 'string' || code.length !== 3) return false;
  const seen = new Set<number>();
  for (const ch of code.toUpperCase()) {
    const axis = AXIS_LETTERS.findIndex((l) => l.includes(ch));
    if (axis < 0 || seen.has(axis)) return false;
    seen.add(axis);
  }
  return true;
}

/**
 * Checks a parsed manifest.json and returns it typed. Throws PsoasError('BAD_MODEL') naming the file and the
 * offending field/value. `source` = the manifest's path or URL, used in messages.
 */
export function validateManifest(json: unknown, source = 'manifest.json'): ModelManifest {
  const fail = (field: string, what: string, value: unknown): never => {
    throw new PsoasError('BAD_MODEL', `Model manifest ${source}: ${field} ${what} (got ${show(value)})`, value, source);
  };
  const obj = (v: unknown, field: string): Record<string, unknown> => {
    if (v === undefined) fail(field, 'is missing', v);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(field, 'must be an object', v);
    return v as Record<string, unknown>;
  };
  const num = (v: unknown, field: string, check?: (x: number) => boolean, rule = ''): number => {
    if (v === undefined) fail(field, 'is missing', v);
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(field, 'must be a finite number', v);
    if (check && !check(v as number)) fail(field, `must be ${rule}`, v);
    return v as number;
  };
  const str = (v: unknown, field: string): string => {
    if (v === undefined) fail(field, 'is missing', v);
    if (typeof v !== 'string' || v.length === 0) fail(field, 'must be a non-empty string', v);
    return v as string;
  };
  const vec3 = (v: unknown, field: string, check: (x: number) => boolean, rule: string): Vec3 => {
    if (v === undefined) fail(field, 'is missing', v);
    if (!Array.isArray(v)) fail(field, 'must be an array of 3 numbers [x, y, z] (i, j, k of the model grid)', v);
    const a = v as unknown[];
    if (a.length !== 3)
      fail(
        field,
        `has rank ${a.length}; the model is 3D (ONNX input [1, 1, D, H, W]) and needs 3 numbers [x, y, z] = [W, H, D]`,
        v,
      );
    return a.map((x, i) => num(x, `${field}[${i}]`, check, rule)) as Vec3;
  };

  const root = obj(json, '(root)');
  const name = str(root.name, 'name');
  const version = str(String(root.version ?? '') || undefined, 'version');
  if (root.onnx !== undefined) str(root.onnx, 'onnx');

  const input = obj(root.input, 'input');
  if (input.name !== undefined) str(input.name, 'input.name');
  if (input.channels !== 1) fail('input.channels', 'must be 1 (a single CT channel)', input.channels);
  if (input.dtype !== 'float32') fail('input.dtype', "must be 'float32'", input.dtype);
  if (Array.isArray(input.shape)) {
    // Optional full ONNX shape, e.g. [1, 1, 64, 64, 64] or with symbolic dims; it must be rank 5 (NCDHW).
    if (input.shape.length !== 5)
      fail('input.shape', `has rank ${input.shape.length}; expected rank 5 [N, C, D, H, W]`, input.shape);
  }
  const patch = vec3(input.patch_size, 'input.patch_size', (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1');
  const multiple =
    input.size_multiple === undefined
      ? undefined
      : num(input.size_multiple, 'input.size_multiple', (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1');
  if (multiple !== undefined)
    patch.forEach((p, a) => {
      if (p % multiple !== 0) fail(`input.patch_size[${a}]`, `must be a multiple of input.size_multiple=${multiple}`, p);
    });
  vec3(input.target_spacing_mm, 'input.target_spacing_mm', (x) => x > 0, '> 0 mm');
  if (!isOrientationCode(input.orientation))
    fail('input.orientation', "must be 3 letters, one of R/L, A/P, I/S each (e.g. 'LPS' or 'RAS')", input.orientation);
  input.orientation = (input.orientation as string).toUpperCase();
  if (input.align_to_patient_axes !== undefined && typeof input.align_to_patient_axes !== 'boolean')
    fail('input.align_to_patient_axes', 'must be true or false', input.align_to_patient_axes);
  if (input.outside_fill !== undefined && !['clip_low', 'edge', 'reflect'].includes(input.outside_fill as string))
    fail('input.outside_fill', "must be 'clip_low', 'edge' or 'reflect'", input.outside_fill);
  const intensity = obj(input.intensity, 'input.intensity');
  const clip = intensity.clip;
  if (!Array.isArray(clip) || clip.length !== 2) fail('input.intensity.clip', 'must be [lo, hi] in HU', clip);
  const [lo, hi] = (clip as unknown[]).map((x, i) => num(x, `input.intensity.clip[${i}]`));
  if (!(lo < hi)) fail('input.intensity.clip', 'must have lo < hi', clip);
  const norm = intensity.normalise;
  if (norm !== 'minmax') {
    const n = obj(norm, "input.intensity.normalise (an object {mean, std} or 'minmax')");
    num(n.mean, 'input.intensity.normalise.mean');
    num(n.std, 'input.intensity.normalise.std', (x) => x > 0, '> 0');
  }

  const output = obj(root.output, 'output');
  if (output.name !== undefined) str(output.name, 'output.name');
  const channels = num(output.channels, 'output.channels', (x) => Number.isInteger(x) && x >= 2 && x <= 255, 'an integer 2..255');
  if (!['softmax', 'sigmoid', 'none'].includes(output.activation as string))
    fail('output.activation', "must be 'softmax', 'sigmoid' or 'none'", output.activation);
  const labels = obj(output.labels, 'output.labels');
  for (let c = 0; c < channels; c++)
    if (typeof labels[String(c)] !== 'string') fail(`output.labels["${c}"]`, `is missing (output.channels=${channels})`, labels);
  for (const key of Object.keys(labels)) {
    const c = Number(key);
    if (!Number.isInteger(c) || c < 0 || c >= channels)
      fail(`output.labels["${key}"]`, `is not a channel index 0..${channels - 1}`, labels[key]);
  }
  if (labels['0'] !== 'background') fail('output.labels["0"]', "must be 'background'", labels['0']);

  const post = obj(root.postprocess, 'postprocess');
  if (typeof post.largest_component !== 'boolean')
    fail('postprocess.largest_component', 'must be true or false', post.largest_component);
  if (typeof post.fill_holes !== 'boolean') fail('postprocess.fill_holes', 'must be true or false', post.fill_holes);
  num(post.min_size_ml, 'postprocess.min_size_ml', (x) => x >= 0, '>= 0 mL');
  if (post.component_gap_mm !== undefined) num(post.component_gap_mm, 'postprocess.component_gap_mm', (x) => x >= 0 && x <= 50, 'in [0, 50] mm');
  if (post.hu_refine !== undefined) {
    const hr = obj(post.hu_refine, 'postprocess.hu_refine');
    const w = hr.window;
    if (!Array.isArray(w) || w.length !== 2 || !w.every((x) => typeof x === 'number' && Number.isFinite(x)) || !(w[0] < w[1]))
      fail('postprocess.hu_refine.window', 'must be [low, high] HU with low < high', w);
    num(hr.min_probability, 'postprocess.hu_refine.min_probability', (x) => x > 0 && x <= 0.5, 'in (0, 0.5]');
    if (hr.partial_volume_low !== undefined && typeof hr.partial_volume_low !== 'boolean')
      fail('postprocess.hu_refine.partial_volume_low', 'must be true or false', hr.partial_volume_low);
    if (hr.extend_within_mm !== undefined)
      num(hr.extend_within_mm, 'postprocess.hu_refine.extend_within_mm', (x) => x > 0 && x <= 50, 'in (0, 50] mm');
  }
  if (post.foreground_threshold !== undefined)
    num(post.foreground_threshold, 'postprocess.foreground_threshold', (x) => x >= 0.5 && x < 1, 'in [0.5, 1)');

  const sw = obj(root.sliding_window, 'sliding_window');
  num(sw.overlap, 'sliding_window.overlap', (x) => x >= 0 && x < 1, 'in [0, 1)');
  if (sw.blending !== 'gaussian' && sw.blending !== 'constant')
    fail('sliding_window.blending', "must be 'gaussian' or 'constant'", sw.blending);
  num(sw.sigma_scale, 'sliding_window.sigma_scale', (x) => x > 0 && x <= 1, 'in (0, 1]');
  if (sw.mirror_lr !== undefined && typeof sw.mirror_lr !== 'boolean') fail('sliding_window.mirror_lr', 'must be true or false', sw.mirror_lr);
  if (sw.grid_shifts !== undefined) {
    const gs = sw.grid_shifts;
    if (!Array.isArray(gs) || gs.length === 0 || gs.length > 8)
      fail('sliding_window.grid_shifts', 'must be a list of 1 to 8 offsets [x, y, z] (model voxels)', gs);
    for (const [i, v] of (gs as unknown[]).entries())
      if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && x > -1 && x < 1))
        fail(`sliding_window.grid_shifts[${i}]`, 'must be [x, y, z] with each in (-1, 1) model voxels', v);
  }

  return { ...(root as object), name, version } as ModelManifest;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  try {
    const s = JSON.stringify(v);
    return s.length > 80 ? s.slice(0, 77) + '...' : s;
  } catch {
    return String(v);
  }
}

/**
 * Bytes per tile voxel of the model's largest tensor (its widest full-resolution feature map), used to size tiles
 * to a device's buffer limit. Taken from the optional `webgpu.max_storage_buffer_binding_bytes` (the training
 * script writes 4 bytes x widest channels x patch voxels) divided by the patch's voxel count; when the manifest
 * does not say, assumes fp32 with 32 channels (4 * 32 = 128 bytes), a conservative guess for small U-Nets.
 */
export function largestTensorBytesPerVoxel(m: ModelManifest): number {
  const declared = (m.webgpu as { max_storage_buffer_binding_bytes?: unknown } | undefined)?.max_storage_buffer_binding_bytes;
  const [x, y, z] = m.input.patch_size;
  if (typeof declared === 'number' && declared > 0) return declared / (x * y * z);
  return 4 * 32;
}

/** Example manifest with every required field (used by tests and as documentation). */
export function exampleManifest(): ModelManifest {
  return {
    name: 'example',
    version: '0.0.0',
    onnx: 'model.onnx',
    input: {
      name: 'image',
      channels: 1,
      dtype: 'float32',
      patch_size: [64, 64, 64],
      size_multiple: 8,
      target_spacing_mm: [3, 3, 3],
      orientation: 'LPS',
      intensity: { clip: [-200, 300], normalise: { mean: 50, std: 250 } },
    },
    output: {
      name: 'probabilities',
      channels: 3,
      activation: 'softmax',
      labels: { '0': 'background', '1': 'psoas_left', '2': 'psoas_right' },
    },
    postprocess: { largest_component: true, fill_holes: true, min_size_ml: 5 },
    sliding_window: { overlap: 0.5, blending: 'gaussian', sigma_scale: 0.125 },
  };
}
