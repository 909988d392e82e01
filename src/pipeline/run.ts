/**
 * The segmentation pipeline: the ONE place that knows the order of the steps.
 *
 *   source CT (any orientation, HU)
 *   1. reorient   → permute/flip to the model's orientation (exact, no interpolation)
 *   2. resample   → trilinear to the model's spacing, same physical extent (the model grid)
 *   3. normalise  → clip to the HU window, normalise
 *   4. inference  → sliding window, Gaussian blending → class scores on the model grid
 *   5. argmax     → labels on the model grid, largest component per label → foreground bounding box
 *   6. map back   → trilinear resampling of the CLASS SCORES (not labels) from the model grid straight to the
 *                   SOURCE grid (this composes the inverse of 2 and 1 in one interpolation), only inside the
 *                   foreground's bounding box (+ margin), slab by slab, argmax per slab → labels on the source grid
 *   7. postprocess→ per label on the source grid (within the box): largest component, hole filling, min size
 *
 * Memory: full-size arrays exist only on the model grid (coarse); on the source grid only the Uint8 mask is full
 * size, the float scores exist one slab at a time within the box.
 */
import { PsoasError } from '../core/errors';
import { boundingBoxWhere, indexToWorld, orientationCode, voxelCount, voxelVolumeMm3, worldToIndex, type Vec3, type VolumeGeometry } from '../core/geometry';
import type { Volume } from '../core/volume';
import { normaliseValue, clipNormalise } from './intensity';
import { largestTensorBytesPerVoxel, type ManifestPostprocess, type ModelManifest } from './manifest';
import { extendRadiusVoxels, nearLowMask, refineByHu, thresholdForeground, tissueLevels, type TissueLevels } from './hu-refine';
import { argmax, boundingBox, keepMainComponents, postprocessLabels, type Connectivity, type PostprocessReport } from './postprocess';
import {
  cropGeometry,
  geometryForSpacing,
  OBLIQUE_MIN_DEG,
  obliqueAngleDeg,
  patientAlignedGeometry,
  resampleTrilinear,
  resampleTrilinearSlabs,
  shiftGeometry,
} from './resample';
import { applyReorient, isIdentityReorient, reorientTransform } from './reorient';
import { slidingWindowInference, tilePositions, type PredictTile } from './sliding-window';
import { mirrorPlan, runsPerTile, withMirror } from './mirror';

export type { PredictTile } from './sliding-window';

export type Stage = 'reorient' | 'resample' | 'normalise' | 'inference' | 'argmax' | 'mapBack' | 'postprocess';
export const STAGES: readonly Stage[] = ['reorient', 'resample', 'normalise', 'inference', 'argmax', 'mapBack', 'postprocess'];

/** What one step did (for provenance, the UI's "details" and debugging). Geometries in LPS mm. */
export interface StepRecord {
  step: Stage;
  /** One human-readable line. */
  summary: string;
  from?: VolumeGeometry;
  to?: VolumeGeometry;
  /** Resample step of an oblique series run upright (input.align_to_patient_axes): its tilt in degrees. */
  uprightFromTiltDeg?: number;
  [key: string]: unknown;
}

export interface SegmentProgress {
  stage: Stage;
  /** 0..1 within the stage. */
  fraction: number;
  /**
   * Inference only: tiles finished over all grid placements, and their total. The total counts each placement not
   * yet started as many tiles as the current one (an upper bound: later placements run only near the first one's
   * foreground), so it is exact from the last placement's first tile on.
   */
  tiles?: { done: number; total: number };
}

export interface SegmentOptions {
  signal?: AbortSignal;
  onProgress?: (p: SegmentProgress) => void;
  /** Device tile limit (voxels), see maxTileVoxelsForDevice(). Wins over maxBufferBytes. */
  maxTileVoxels?: number;
  /**
   * The device's largest buffer / storage binding in bytes (WebGPU: adapter.limits.maxStorageBufferBindingSize).
   * Tiles shrink so the model's largest tensor fits (see largestTensorBytesPerVoxel).
   */
  maxBufferBytes?: number;
  /** Margin (mm) added around the model-grid foreground box before mapping back. Default: 2 model voxels. */
  marginMm?: number;
  /** Hole filling in 3D (default) or per k-slice of the source grid. */
  fillHolesMode?: '3d' | 'slice';
  /** Connectivity for connected components (default 26). */
  connectivity?: Connectivity;
  /** Tile only the body's bounding box (default true; false tiles the whole model grid: tests, diagnostics). */
  cropToBody?: boolean;
  /**
   * With several grid placements, run the later ones only on the tiles near the first placement's foreground box
   * (default true; false runs every tile of every placement: tests, diagnostics). See `placementRegion`.
   */
  focusPlacements?: boolean;
  /** Max floats per map-back slab (default 16M). */
  maxSlabValues?: number;
}

export interface SegmentResult {
  /** Label map on the SOURCE grid (same geometry as the input image). */
  mask: Volume<Uint8Array>;
  /** Milliseconds per stage, plus 'total'. */
  timings: Record<Stage | 'total', number>;
  steps: StepRecord[];
  /** Output label value → structure name (project convention: 1 psoas_left, 2 psoas_right). */
  labels: Record<number, string>;
  postprocess: PostprocessReport[];
}

/** HU at or below which a voxel counts as air around the patient (body-box crop before tiling). */
export const BODY_HU = -500;

/** Bounding box (voxel index, hi exclusive) of values > threshold, or null when there are none. */
export function bodyBox(values: Float32Array, dims: Vec3, threshold: number): { lo: Vec3; hi: Vec3 } | null {
  return boundingBoxWhere(dims, (v) => values[v] > threshold);
}

/** Copies the box [lo, lo + size) of a volume (i fastest) into a new array. */
export function extractBox(values: Float32Array, dims: Vec3, lo: Vec3, size: Vec3): Float32Array {
  const [nx, ny] = dims;
  const out = new Float32Array(size[0] * size[1] * size[2]);
  for (let k = 0; k < size[2]; k++)
    for (let j = 0; j < size[1]; j++) {
      const s = lo[0] + nx * (lo[1] + j + ny * (lo[2] + k));
      out.set(values.subarray(s, s + size[0]), size[0] * (j + size[1] * k));
    }
  return out;
}

/** Channel-major scores of a box placed into the full grid; outside the box: background (channel 0) = 1. */
export function embedScores(box: Float32Array, size: Vec3, lo: Vec3, dims: Vec3, channels: number): Float32Array {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  const nb = size[0] * size[1] * size[2];
  const out = new Float32Array(channels * n);
  out.fill(1, 0, n);
  for (let k = 0; k < size[2]; k++)
    for (let j = 0; j < size[1]; j++) {
      const d = lo[0] + nx * (lo[1] + j + ny * (lo[2] + k));
      const s = size[0] * (j + size[1] * k);
      for (let c = 0; c < channels; c++) out.set(box.subarray(c * nb + s, c * nb + s + size[0]), c * n + d);
    }
  return out;
}

/** Channel-major scores of `n` voxels that are all background (channel 0 = 1). */
export function backgroundScores(channels: number, n: number): Float32Array {
  const out = new Float32Array(channels * n);
  out.fill(1, 0, n);
  return out;
}

/** Project label values for known structure names (docs/ARCHITECTURE.md). */
export const PROJECT_LABELS: Record<string, number> = { background: 0, psoas_left: 1, psoas_right: 2 };

/** Model channel → output label value: known names take the project's value, others keep their channel index. */
export function labelLookup(manifest: ModelManifest): { lut: Uint8Array; names: Record<number, string> } {
  const C = manifest.output.channels;
  const lut = new Uint8Array(C);
  const names: Record<number, string> = {};
  for (let c = 0; c < C; c++) {
    const name = manifest.output.labels[String(c)];
    const value = PROJECT_LABELS[name] ?? c;
    if (names[value] !== undefined)
      throw new PsoasError(
        'BAD_MODEL',
        `Model ${manifest.name}: output labels "${names[value]}" and "${name}" would both become label ${value}`,
        manifest.output.labels,
      );
    names[value] = name;
    lut[c] = value;
  }
  return { lut, names };
}

/**
 * postprocess.component_gap_mm as a dilation radius in voxels per axis of a grid with this spacing (mm): pieces
 * whose gap is at most 2*r voxels, i.e. at most component_gap_mm, are grouped (see keepMainComponents).
 */
export function componentGapVoxels(pp: ManifestPostprocess, spacing: Vec3): Vec3 {
  const g = pp.component_gap_mm ?? 0;
  return spacing.map((s) => Math.floor(g / (2 * s))) as Vec3;
}

function fmtGeom(g: VolumeGeometry): string {
  return `${g.dimensions.join('x')} @ ${g.spacing.map((s) => +s.toFixed(3)).join('x')} mm ${orientationCode(g)}`;
}

/**
 * Source-grid index box [lo, hi) covering the model-grid box [lo, hi) (voxel extents, i.e. ±0.5 voxel) plus
 * `marginMm`, clamped to the source. Computed from the 8 corners in LPS mm.
 */
export function mapBoxToGrid(model: VolumeGeometry, lo: Vec3, hi: Vec3, source: VolumeGeometry, marginMm: number): { lo: Vec3; hi: Vec3 } | null {
  const mLo = [0, 1, 2].map((a) => lo[a] - 0.5 - marginMm / model.spacing[a]);
  const mHi = [0, 1, 2].map((a) => hi[a] - 0.5 + marginMm / model.spacing[a]);
  const min: Vec3 = [Infinity, Infinity, Infinity];
  const max: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (let c = 0; c < 8; c++) {
    const corner: Vec3 = [c & 1 ? mHi[0] : mLo[0], c & 2 ? mHi[1] : mLo[1], c & 4 ? mHi[2] : mLo[2]];
    const s = worldToIndex(source, indexToWorld(model, corner));
    for (let a = 0; a < 3; a++) {
      min[a] = Math.min(min[a], s[a]);
      max[a] = Math.max(max[a], s[a]);
    }
  }
  const outLo = [0, 1, 2].map((a) => Math.max(0, Math.floor(min[a]))) as Vec3;
  const outHi = [0, 1, 2].map((a) => Math.min(source.dimensions[a], Math.ceil(max[a]) + 1)) as Vec3;
  for (let a = 0; a < 3; a++) if (outHi[a] <= outLo[a]) return null;
  return { lo: outLo, hi: outHi };
}

/**
 * The box (voxels of `grid`, hi exclusive) where a later grid placement must be exact: the first placement's
 * foreground box `box0` (voxels of `grid0`) plus `marginMm`; `segment` passes twice map back's margin. Why it is
 * enough: map back reads scores only within the foreground boxes plus its own margin; a later placement (half a
 * model voxel away) finds its foreground within a voxel of the first one's; and `slidingWindowInference` with a
 * region runs every tile that touches it at the full tiling's positions, so inside it the scores are the full run's
 * to the bit (outside: background). Null: nothing to run.
 */
export function placementRegion(grid0: VolumeGeometry, box0: { lo: Vec3; hi: Vec3 } | null, grid: VolumeGeometry, marginMm: number): { lo: Vec3; hi: Vec3 } | null {
  return box0 ? mapBoxToGrid(grid0, box0.lo, box0.hi, grid, marginMm) : null;
}

/** Argmax of channel-major scores, then (with largest_component) each label's main components: the model-grid labels. */
function modelGridLabels(scores: Float32Array, C: number, grid: VolumeGeometry, post: ModelManifest['postprocess'], conn: Connectivity): Uint8Array {
  const labels = argmax(scores, C, voxelCount(grid));
  if (post.largest_component) {
    const gap = componentGapVoxels(post, grid.spacing);
    for (let c = 1; c < C; c++) keepMainComponents(labels, grid.dimensions, c, gap, conn);
  }
  return labels;
}

/**
 * Segments `image` (CT in HU, any orientation) with the model described by `manifest`, whose network is
 * `predictTile` (see src/inference). Returns the label mask on the image's own grid.
 */
export async function segment(
  image: Volume,
  manifest: ModelManifest,
  predictTile: PredictTile,
  opts: SegmentOptions = {},
): Promise<SegmentResult> {
  const t0 = performance.now();
  const timings = { total: 0 } as Record<Stage | 'total', number>;
  for (const s of STAGES) timings[s] = 0;
  const steps: StepRecord[] = [];
  const src = image.geometry;
  const nSrc = voxelCount(src);
  if (image.data.length !== nSrc)
    throw new PsoasError('BAD_ARGUMENT', `segment: image has ${image.data.length} voxels, geometry ${src.dimensions.join('x')}`, image.data.length, image.meta.source);
  if (image.units !== 'HU')
    throw new PsoasError('BAD_ARGUMENT', `segment: the model expects CT in HU; this volume holds '${image.units}'`, image.units, image.meta.source);
  const { lut, names } = labelLookup(manifest);
  const C = manifest.output.channels;
  let stage: Stage = 'reorient';
  let ts = performance.now();
  const progress = (fraction: number, tiles?: SegmentProgress['tiles']) => opts.onProgress?.(tiles ? { stage, fraction, tiles } : { stage, fraction });
  // `from`/`to`: the stage's fraction at its start and end (inference runs once per grid placement, each a share).
  const begin = (s: Stage, from = 0) => {
    opts.signal?.throwIfAborted();
    stage = s;
    ts = performance.now();
    progress(from);
  };
  const end = (to = 1) => {
    timings[stage] += performance.now() - ts;
    progress(to);
  };

  // 1. Reorient (exact). When step 2 resamples anyway, the permutation is folded into it: trilinear
  //    interpolation evaluated at the same LPS points gives the same values whichever index order the source is
  //    stored in, so the series is not copied (saves a full-size copy: 157 MB for 512x512x300 Int16).
  begin('reorient');
  const transform = reorientTransform(src, manifest.input.orientation);
  const reGeom = transform.target;
  // An oblique series goes onto a grid along the patient axes when the package asks for it (the index order and
  // signs stay those of the reoriented grid, so the manifest's orientation holds); otherwise the grid keeps its tilt.
  const tiltDeg = obliqueAngleDeg(reGeom);
  const aligned = manifest.input.align_to_patient_axes === true && tiltDeg >= OBLIQUE_MIN_DEG;
  const modelGrid = aligned
    ? patientAlignedGeometry(reGeom, manifest.input.target_spacing_mm)
    : geometryForSpacing(reGeom, manifest.input.target_spacing_mm, 'exact-extent');
  const needResample = aligned || !(
    modelGrid.dimensions.every((d, a) => d === reGeom.dimensions[a]) &&
    modelGrid.spacing.every((s, a) => Math.abs(s - reGeom.spacing[a]) < 1e-6)
  );
  const identity = isIdentityReorient(transform);
  const reData = identity || needResample ? undefined : applyReorient(image.data, transform);
  steps.push({
    step: 'reorient',
    summary: identity
      ? `already ${transform.toCode}, nothing moved`
      : `${transform.fromCode} → ${transform.toCode}: axes [${transform.perm.join(',')}], flips [${transform.flip.map(Number).join(',')}]` +
        (needResample ? ' (applied within the resampling, no copy)' : ''),
    from: src,
    to: reGeom,
    perm: transform.perm,
    flip: transform.flip,
  });
  end();

  // 2–4 run once per placement of the model grid (sliding_window.grid_shifts: sub-voxel translation test-time
  // augmentation; one placement at [0, 0, 0] by default). Each placement keeps its class scores on its own model
  // grid (coarse, C floats per model voxel) until map back averages them on the source grid.
  const sw = manifest.sliding_window;
  const shifts: Vec3[] = sw.grid_shifts?.length ? sw.grid_shifts.map((v) => [...v] as Vec3) : [[0, 0, 0]];
  const placements: { grid: VolumeGeometry; scores: Float32Array; shift: Vec3 }[] = [];
  let huModel0: Float32Array | undefined;
  const intensity = manifest.input.intensity;
  let tiles = 0;
  let tilesBefore = 0; // tiles run by the earlier placements
  let tileSize: Vec3 = manifest.input.patch_size;
  const net: PredictTile = sw.mirror_lr ? withMirror(predictTile, mirrorPlan(manifest)) : predictTile;
  const predict: PredictTile = (tile, size, signal) => {
    tileSize = size;
    return net(tile, size, signal);
  };
  const conn = opts.connectivity ?? 26;
  const marginMm = opts.marginMm ?? 2 * Math.max(...manifest.input.target_spacing_mm);
  // The first placement's model-grid labels and foreground box, for the later placements' regions and step 5.
  let labels0: Uint8Array | undefined;
  let box0: { lo: Vec3; hi: Vec3 } | null = null;
  const focus = opts.focusPlacements !== false && shifts.length > 1;
  for (const [p, shift] of shifts.entries()) {
    const shifted = shift.some((x) => x !== 0);
    const grid = shifted ? shiftGeometry(modelGrid, shift) : modelGrid;
    const which = shifts.length > 1 ? ` [placement ${p + 1}/${shifts.length}, shifted ${shift.join(',')} model voxels]` : '';
    const resampleHere = needResample || shifted;

    // 2. Resample to the model spacing (trilinear). 'exact-extent' = PyTorch interpolate(align_corners=False) as in training.
    begin('resample');
    // On a patient-aligned grid the corners outside the tilted series hold the HU window's low bound (the sliding
    // window's pad value), or with outside_fill 'edge' the series' nearest voxel (edge-clamped), with 'reflect' its
    // mirror image about the edge.
    const outside = manifest.input.outside_fill ?? 'clip_low';
    const fill = aligned && outside === 'clip_low' ? intensity.clip[0] : undefined;
    let modelInput: Float32Array | undefined = resampleHere
      ? resampleTrilinear({ geometry: src, data: image.data }, grid, { signal: opts.signal, fill, reflect: aligned && outside === 'reflect' })
      : Float32Array.from(reData ?? image.data);
    steps.push({
      step: 'resample',
      summary:
        (resampleHere ? `trilinear ${fmtGeom(reGeom)} → ${fmtGeom(grid)}` : `already at ${fmtGeom(grid)}`) +
        (aligned ? ` (oblique series, tilted ${tiltDeg.toFixed(1)}°: model grid along the patient axes)` : '') +
        which,
      from: reGeom,
      to: grid,
      uprightFromTiltDeg: aligned ? tiltDeg : undefined,
      inverse: 'class scores resampled trilinearly from the model grid to the source grid (map back)',
    });
    end();

    // The first placement's model-grid HU, kept (one model-grid volume) for the tissue levels of hu_refine's
    // partial_volume_low, which need the network's mask (step 5).
    if (p === 0 && manifest.postprocess.hu_refine?.partial_volume_low) huModel0 = Float32Array.from(modelInput);

    // 3. Clip + normalise (in place).
    begin('normalise');
    clipNormalise(modelInput, intensity, modelInput);
    steps.push({
      step: 'normalise',
      summary: `clip [${intensity.clip.join(', ')}] HU, ${intensity.normalise === 'minmax' ? 'min-max to [0, 1]' : `(x - ${intensity.normalise.mean}) / ${intensity.normalise.std}`}` + which,
    });
    end();

    // 4. Sliding-window inference.
    begin('inference', p / shifts.length);
    // Only the body's bounding box is tiled: voxels of <= BODY_HU (air around the patient) clip to the model's lowest
    // input value, which is also the sliding window's pad value, so the network sees the same numbers either way;
    // outside the box the scores are "background, p = 1". Saves a third to half of the tiles on a typical CT.
    const body = bodyBox(modelInput, grid.dimensions, normaliseValue(Math.max(BODY_HU, intensity.clip[0]), intensity));
    const md = grid.dimensions;
    const cropped = opts.cropToBody !== false && body && body.hi.some((h, a) => h - body.lo[a] < md[a]);
    const swDims: Vec3 = cropped ? [body.hi[0] - body.lo[0], body.hi[1] - body.lo[1], body.hi[2] - body.lo[2]] : md;
    // A later placement: only the tiles near the first one's foreground (placementRegion), in the tiled box's
    // coordinates. The region's margin is twice map back's, so map back never reads a score outside it.
    let region: { lo: Vec3; hi: Vec3 } | null | undefined;
    if (focus && p > 0) {
      const r = placementRegion(placements[0].grid, box0, grid, 2 * marginMm);
      const off: Vec3 = cropped ? body.lo : [0, 0, 0];
      const lo = r?.lo.map((x, a) => Math.max(0, x - off[a])) as Vec3 | undefined;
      const hi = r?.hi.map((x, a) => Math.min(swDims[a], x - off[a])) as Vec3 | undefined;
      region = lo && hi && lo.every((l, a) => l < hi[a]) ? { lo, hi } : null;
    }
    const swInput = cropped ? extractBox(modelInput, md, body.lo, swDims) : modelInput;
    const swScores = region === null ? backgroundScores(C, swDims[0] * swDims[1] * swDims[2]) : await slidingWindowInference(swInput, swDims, {
      region,
      patchSize: manifest.input.patch_size,
      overlap: sw.overlap,
      blending: sw.blending,
      sigmaScale: sw.sigma_scale,
      outChannels: C,
      predict,
      padValue: normaliseValue(intensity.clip[0], intensity),
      maxTileVoxels:
        opts.maxTileVoxels ?? (opts.maxBufferBytes ? Math.floor(opts.maxBufferBytes / largestTensorBytesPerVoxel(manifest)) : undefined),
      sizeMultiple: manifest.input.size_multiple,
      signal: opts.signal,
      onProgress: (done, total) => {
        tiles = total;
        progress((p + done / total) / shifts.length, { done: tilesBefore + done, total: tilesBefore + total * (shifts.length - p) });
      },
    });
    if (region === null) tiles = 0;
    tilesBefore += tiles;
    const fullTiles = region ? tilePositions(swDims, tileSize, sw.overlap).length : tiles;
    placements.push({ grid, shift, scores: cropped ? embedScores(swScores, swDims, body.lo, md, C) : swScores });
    if (focus && p === 0) {
      labels0 = modelGridLabels(placements[0].scores, C, grid, manifest.postprocess, conn);
      box0 = boundingBox(labels0, grid.dimensions);
    }
    // The normalised input is not needed any more: drop the async frame's reference so it can be collected
    // before the next placement and map back (a local of an async function stays alive until the function returns).
    // eslint-disable-next-line no-useless-assignment
    modelInput = undefined;
    steps.push({
      step: 'inference',
      summary:
        `${tiles} tile(s) of ${tileSize.join('x')}, overlap ${sw.overlap}, ${sw.blending} blending` +
        (runsPerTile(sw) === 2 ? ', each also mirrored left–right (2 runs per tile)' : '') +
        (cropped ? `, over the body box ${body.lo.join(',')}..${body.hi.join(',')} (HU > ${Math.max(BODY_HU, intensity.clip[0])}) of ${md.join('x')}` : '') +
        (region ? `; ${tiles} of ${fullTiles} tiles run, those within ${+(2 * marginMm).toFixed(1)} mm of placement 1's foreground box` : '') +
        (region === null ? '; not run: placement 1 found no foreground' : '') +
        which,
      focusRegion: region ?? undefined,
      bodyBox: cropped ? body : undefined,
      tiles,
      tileSize,
    });
    end((p + 1) / shifts.length);
  }

  // 5. Argmax on each model grid → foreground box (after keeping each label's largest component, so a stray
  //    false positive far away does not blow up the box); with several placements, the union of their boxes on
  //    the source grid.
  begin('argmax');
  let srcBox: { lo: Vec3; hi: Vec3 } | null = null;
  const boxes: string[] = [];
  let levels: TissueLevels | undefined;
  for (const pl of placements) {
    const modelLabels = pl === placements[0] && labels0 ? labels0 : modelGridLabels(pl.scores, C, pl.grid, manifest.postprocess, conn);
    if (huModel0 && pl === placements[0]) {
      const fg = new Uint8Array(modelLabels.length);
      for (let v = 0; v < fg.length; v++) fg[v] = modelLabels[v] !== 0 ? 1 : 0;
      levels = tissueLevels(huModel0, fg, pl.grid.dimensions, manifest.postprocess.hu_refine!.window[0]);
      huModel0 = undefined;
    }
    const box = boundingBox(modelLabels, pl.grid.dimensions);
    boxes.push(box ? `${box.lo.join(',')}..${box.hi.join(',')}` : 'none');
    const b = box ? mapBoxToGrid(pl.grid, box.lo, box.hi, src, marginMm) : null;
    if (b)
      srcBox = srcBox
        ? { lo: srcBox.lo.map((x, a) => Math.min(x, b.lo[a])) as Vec3, hi: srcBox.hi.map((x, a) => Math.max(x, b.hi[a])) as Vec3 }
        : b;
  }
  steps.push({
    step: 'argmax',
    summary: srcBox ? `foreground box ${boxes.join(' | ')} (model grid${placements.length > 1 ? 's' : ''})` : 'no foreground',
    box: srcBox ? boxes : undefined,
  });
  end();

  const mask = new Uint8Array(nSrc);
  const maskVolume: Volume<Uint8Array> = {
    geometry: { ...src, dimensions: [...src.dimensions] as Vec3 },
    data: mask,
    units: 'label',
    meta: {
      ...image.meta,
      labels: names,
      model: { name: manifest.name, version: manifest.version },
      warnings: [...(image.meta.warnings ?? [])],
    },
  };
  let reports: PostprocessReport[] = [];
  if (!srcBox) {
    steps.push({ step: 'mapBack', summary: 'no foreground: empty mask' });
    steps.push({ step: 'postprocess', summary: 'nothing to do' });
  } else {
    // 6. Map back: scores → source grid within the box, slab by slab, argmax per slab.
    begin('mapBack');
    const crop = cropGeometry(src, srcBox.lo, srcBox.hi);
    const [cx, cy, cz] = crop.dimensions;
    const cropLabels = new Uint8Array(cx * cy * cz);
    const plane = cx * cy;
    const declared = manifest.postprocess.hu_refine;
    // The window's low bound of this series (partial_volume_low), else as declared.
    const huRefine = declared && levels ? { ...declared, window: [levels.low, declared.window[1]] as [number, number] } : declared;
    const fgThreshold = manifest.postprocess.foreground_threshold;
    const refined = { removed: 0, added: 0 };
    let thresholded = 0;
    const [first, ...others] = placements;
    resampleTrilinearSlabs(
      { geometry: first.grid, data: first.scores, channels: C },
      crop,
      (k0, k1, values) => {
        const slabN = plane * (k1 - k0);
        if (others.length > 0) {
          // Average of all placements' scores at these source voxels (the same slab of the crop from each grid).
          const slab = cropGeometry(crop, [0, 0, k0], [cx, cy, k1]);
          for (const pl of others) {
            const v = resampleTrilinear({ geometry: pl.grid, data: pl.scores, channels: C }, slab);
            for (let q = 0; q < v.length; q++) values[q] += v[q];
          }
          const w = 1 / placements.length;
          for (let q = 0; q < values.length; q++) values[q] *= w;
        }
        const slabLabels = cropLabels.subarray(k0 * plane, k1 * plane);
        argmax(values, C, slabN, slabLabels);
        if (fgThreshold !== undefined) thresholded += thresholdForeground(values, slabN, slabLabels, fgThreshold);
        if (huRefine) {
          // slab voxel v = i + cx (j + cy (k - k0)) of the crop → source index (the crop starts at srcBox.lo)
          const [nx, ny] = src.dimensions;
          const hu = (v: number) => {
            const i = v % cx, j = Math.floor(v / cx) % cy, k = k0 + Math.floor(v / plane);
            return image.data[srcBox.lo[0] + i + nx * (srcBox.lo[1] + j + ny * (srcBox.lo[2] + k))];
          };
          const extendAt = huRefine.extend_within_mm !== undefined
            ? nearLowMask(hu, [cx, cy, k1 - k0], huRefine.window[0], extendRadiusVoxels(huRefine.extend_within_mm, src.spacing))
            : undefined;
          const r = refineByHu(values, C, slabN, slabLabels, hu, huRefine, extendAt);
          refined.removed += r.removed;
          refined.added += r.added;
        }
        progress(k1 / cz);
      },
      { maxSlabValues: opts.maxSlabValues, signal: opts.signal },
    );
    for (let v = 0; v < cropLabels.length; v++) cropLabels[v] = lut[cropLabels[v]];
    steps.push({
      step: 'mapBack',
      summary: `class scores trilinear${placements.length > 1 ? ` (mean of ${placements.length} placements)` : ''} → source grid box ${srcBox.lo.join(',')}..${srcBox.hi.join(',')} (${cx}x${cy}x${cz} of ${src.dimensions.join('x')}), argmax` +
        (fgThreshold !== undefined ? `; foreground p >= ${fgThreshold}: -${thresholded}` : '') +
        (huRefine
          ? `; HU window [${huRefine.window.map((x) => +x.toFixed(1)).join(', ')}] refinement: -${refined.removed} outside, +${refined.added} inside with p >= ${huRefine.min_probability}` +
            (huRefine.extend_within_mm !== undefined ? ` within ${huRefine.extend_within_mm} mm of HU < ${+huRefine.window[0].toFixed(1)}` : '') +
            (levels
              ? ` (low bound half-way between muscle ${levels.muscle.toFixed(0)} and fat ${levels.fat.toFixed(0)} HU${levels.note ? `; ${levels.note}` : ''})`
              : '')
          : ''),
      huRefine: huRefine ? { ...huRefine, ...refined, ...(levels ? { levels } : {}) } : undefined,
      foregroundThreshold: fgThreshold !== undefined ? { threshold: fgThreshold, removed: thresholded } : undefined,
      from: first.grid,
      to: crop,
      box: srcBox,
    });
    end();

    // 7. Post-process on the source grid (within the box: everything outside is background already).
    begin('postprocess');
    const pp = manifest.postprocess;
    const minSizeVoxels = Math.ceil((pp.min_size_ml * 1000) / voxelVolumeMm3(src));
    const values = Object.keys(names)
      .map(Number)
      .filter((v) => v !== 0)
      .sort((a, b) => a - b);
    reports = postprocessLabels(cropLabels, crop.dimensions, {
      labels: values,
      largestComponent: pp.largest_component,
      componentGapVoxels: componentGapVoxels(pp, src.spacing),
      fillHoles: pp.fill_holes,
      fillHolesMode: opts.fillHolesMode ?? '3d',
      minSizeVoxels,
      connectivity: conn,
    });
    // Paste the box into the full mask.
    const [nx, ny] = src.dimensions;
    for (let k = 0; k < cz; k++)
      for (let j = 0; j < cy; j++) {
        const s = cx * (j + cy * k);
        mask.set(cropLabels.subarray(s, s + cx), srcBox.lo[0] + nx * (srcBox.lo[1] + j + ny * (srcBox.lo[2] + k)));
      }
    steps.push({
      step: 'postprocess',
      summary: reports
        .map(
          (r) =>
            `${names[r.label]}: ${r.finalVoxels} voxels (-${r.removedByLargestComponent} other components, +${r.filledHoles} holes, -${r.removedSmall} small)`,
        )
        .join('; '),
      minSizeVoxels,
      fillHolesMode: opts.fillHolesMode ?? '3d',
      reports,
    });
    end();
  }
  timings.total = performance.now() - t0;
  return { mask: maskVolume, timings, steps, labels: names, postprocess: reports };
}
