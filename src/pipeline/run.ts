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
import { indexToWorld, orientationCode, voxelCount, voxelVolumeMm3, worldToIndex, type Vec3, type VolumeGeometry } from '../core/geometry';
import type { Volume } from '../core/volume';
import { normaliseValue, clipNormalise } from './intensity';
import { largestTensorBytesPerVoxel, type ModelManifest } from './manifest';
import { argmax, boundingBox, keepLargestComponent, postprocessLabels, type Connectivity, type PostprocessReport } from './postprocess';
import { cropGeometry, geometryForSpacing, resampleTrilinear, resampleTrilinearSlabs } from './resample';
import { applyReorient, isIdentityReorient, reorientTransform } from './reorient';
import { slidingWindowInference, type PredictTile } from './sliding-window';

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
  [key: string]: unknown;
}

export interface SegmentProgress {
  stage: Stage;
  /** 0..1 within the stage. */
  fraction: number;
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
  const progress = (fraction: number) => opts.onProgress?.({ stage, fraction });
  const begin = (s: Stage) => {
    opts.signal?.throwIfAborted();
    stage = s;
    ts = performance.now();
    progress(0);
  };
  const end = () => {
    timings[stage] += performance.now() - ts;
    progress(1);
  };

  // 1. Reorient (exact). When step 2 resamples anyway, the permutation is folded into it: trilinear
  //    interpolation evaluated at the same LPS points gives the same values whichever index order the source is
  //    stored in, so the series is not copied (saves a full-size copy: 157 MB for 512x512x300 Int16).
  begin('reorient');
  const transform = reorientTransform(src, manifest.input.orientation);
  const reGeom = transform.target;
  const modelGrid = geometryForSpacing(reGeom, manifest.input.target_spacing_mm, 'exact-extent');
  const needResample = !(
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

  // 2. Resample to the model spacing (trilinear). 'exact-extent' = PyTorch interpolate(align_corners=False) as in training.
  begin('resample');
  let modelInput: Float32Array | undefined = needResample
    ? resampleTrilinear({ geometry: src, data: image.data }, modelGrid, { signal: opts.signal })
    : Float32Array.from(reData ?? image.data);
  steps.push({
    step: 'resample',
    summary: needResample ? `trilinear ${fmtGeom(reGeom)} → ${fmtGeom(modelGrid)}` : `already at ${fmtGeom(modelGrid)}`,
    from: reGeom,
    to: modelGrid,
    inverse: 'class scores resampled trilinearly from the model grid to the source grid (map back)',
  });
  end();

  // 3. Clip + normalise (in place).
  begin('normalise');
  const intensity = manifest.input.intensity;
  clipNormalise(modelInput, intensity, modelInput);
  steps.push({
    step: 'normalise',
    summary: `clip [${intensity.clip.join(', ')}] HU, ${intensity.normalise === 'minmax' ? 'min-max to [0, 1]' : `(x - ${intensity.normalise.mean}) / ${intensity.normalise.std}`}`,
  });
  end();

  // 4. Sliding-window inference.
  begin('inference');
  const sw = manifest.sliding_window;
  let tiles = 0;
  let tileSize: Vec3 = manifest.input.patch_size;
  const predict: PredictTile = (tile, size, signal) => {
    tileSize = size;
    return predictTile(tile, size, signal);
  };
  const scores = await slidingWindowInference(modelInput, modelGrid.dimensions, {
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
      progress(done / total);
    },
  });
  // The normalised input is not needed any more: drop the async frame's reference so it can be collected
  // before map back (a local of an async function stays alive until the function returns).
  // eslint-disable-next-line no-useless-assignment
  modelInput = undefined;
  steps.push({
    step: 'inference',
    summary: `${tiles} tile(s) of ${tileSize.join('x')}, overlap ${sw.overlap}, ${sw.blending} blending`,
    tiles,
    tileSize,
  });
  end();

  // 5. Argmax on the model grid → foreground box (after keeping each label's largest component, so a stray
  //    false positive far away does not blow up the box).
  begin('argmax');
  const nModel = voxelCount(modelGrid);
  const modelLabels = argmax(scores, C, nModel);
  const conn = opts.connectivity ?? 26;
  if (manifest.postprocess.largest_component)
    for (let c = 1; c < C; c++) keepLargestComponent(modelLabels, modelGrid.dimensions, c, conn);
  const box = boundingBox(modelLabels, modelGrid.dimensions);
  steps.push({ step: 'argmax', summary: box ? `foreground box ${box.lo.join(',')}..${box.hi.join(',')} (model grid)` : 'no foreground', box });
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
  const marginMm = opts.marginMm ?? 2 * Math.max(...manifest.input.target_spacing_mm);
  const srcBox = box ? mapBoxToGrid(modelGrid, box.lo, box.hi, src, marginMm) : null;
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
    resampleTrilinearSlabs(
      { geometry: modelGrid, data: scores, channels: C },
      crop,
      (k0, k1, values) => {
        const slabN = plane * (k1 - k0);
        argmax(values, C, slabN, cropLabels.subarray(k0 * plane, k1 * plane));
        progress(k1 / cz);
      },
      { maxSlabValues: opts.maxSlabValues, signal: opts.signal },
    );
    for (let v = 0; v < cropLabels.length; v++) cropLabels[v] = lut[cropLabels[v]];
    steps.push({
      step: 'mapBack',
      summary: `class scores trilinear → source grid box ${srcBox.lo.join(',')}..${srcBox.hi.join(',')} (${cx}x${cy}x${cz} of ${src.dimensions.join('x')}), argmax`,
      from: modelGrid,
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
