/**
 * Benchmark (prints figures; not a test): what running the later grid placements only near the first one's
 * foreground saves (`SegmentOptions.focusPlacements`), and a check that the masks stay the same.
 *
 *   npx tsx scripts/bench-placements.ts [--threads N] [--model DIR] [abdomen] [cap] [<eval case name> ...] [<file.nii.gz> ...]
 *
 * Each series is segmented twice with the package (onnxruntime-node): every tile of every placement, then the
 * later placements near the first one's foreground. Printed per series: tiles, seconds (whole run and inference)
 * and how many voxels of the two masks differ. `abdomen` is the sample study's phantom body (seed 20260101) on the
 * generator's default abdomen grid; `cap` the same body as a chest–abdomen–pelvis staging CT (the abdomen and chest
 * fields of view joined, 2.5 mm slices); eval case
 * names as in scripts/eval-model.ts (e.g. chest-1x3); NIfTI files, e.g. ../shared/data/real/chest-ct-1p5mm.nii.gz.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { indexToWorld, type Vec3 } from '../src/core/geometry';
import { readNifti } from '../src/core/io/nifti';
import { generatePhantom, phantomGrid, type PhantomOptions } from '../src/core/phantom';
import type { Volume } from '../src/core/volume';
import { loadNodeModel } from '../src/inference/ort-node';
import type { ModelSession } from '../src/inference/types';
import type { ModelManifest } from '../src/pipeline/manifest';
import { segment } from '../src/pipeline/run';
import { DEFAULT_MODEL, EVAL_CASES } from './eval-model';

const SAMPLE_SEED = 20260101;

/** A chest–abdomen–pelvis field of view of one phantom body: the abdomen preset's extended up over the chest preset's. */
function stagingPhantom(seed: number): PhantomOptions {
  const zs = (['abdomen', 'chest'] as const).flatMap((preset) => {
    const g = phantomGrid({ seed, preset }).geometry;
    return [indexToWorld(g, [0, 0, 0])[2], indexToWorld(g, [0, 0, g.dimensions[2] - 1])[2]];
  });
  const ab = phantomGrid({ seed, preset: 'abdomen' }).geometry;
  const c = indexToWorld(ab, ab.dimensions.map((d) => (d - 1) / 2) as Vec3);
  const z0 = Math.min(...zs), z1 = Math.max(...zs);
  return {
    seed,
    preset: 'abdomen',
    spacing: [ab.spacing[0], ab.spacing[1], 2.5],
    dims: [ab.dimensions[0], ab.dimensions[1], Math.floor((z1 - z0) / 2.5) + 1],
    center: [c[0], c[1], (z0 + z1) / 2],
  };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { threads: { type: 'string' }, model: { type: 'string' } }, allowPositionals: true });
  const series: { name: string; load: () => Volume }[] = positionals.map((a) => {
    if (a.endsWith('.nii') || a.endsWith('.nii.gz')) {
      return { name: path.basename(a), load: () => readNifti(a.endsWith('.gz') ? gunzipSync(readFileSync(a)) : readFileSync(a), a) };
    }
    const phantom = a === 'abdomen' ? { seed: SAMPLE_SEED } : a === 'cap' ? stagingPhantom(SAMPLE_SEED) : EVAL_CASES.find((c) => c.name === a)?.phantom;
    if (!phantom) throw new Error(`unknown series "${a}": expected abdomen, cap, an eval case (${EVAL_CASES.map((c) => c.name).join(', ')}) or a .nii(.gz) file`);
    return { name: a, load: () => generatePhantom(phantom).image as Volume };
  });
  if (series.length === 0) throw new Error('name at least one series (e.g. cap chest-1x3)');
  const { manifest, session } = await loadNodeModel(values.model ?? DEFAULT_MODEL, { intraOpNumThreads: Number(values.threads ?? 2) });
  try {
    for (const s of series) await benchOne(s.name, s.load(), manifest, session);
  } finally {
    await session.dispose();
  }
}

async function benchOne(name: string, image: Volume, manifest: ModelManifest, session: ModelSession): Promise<void> {
  const runs = [];
  for (const focusPlacements of [false, true]) {
    let tiles = 0;
    const t = performance.now();
    const r = await segment(image, manifest, (tile, size, signal) => (tiles++, session.predictTile(tile, size, signal)), { focusPlacements });
    runs.push({ tiles, s: (performance.now() - t) / 1000, inference: r.timings.inference / 1000, mask: r.mask.data });
  }
  const [all, near] = runs;
  let diff = 0;
  for (let v = 0; v < all.mask.length; v++) if (all.mask[v] !== near.mask[v]) diff++;
  console.log(
    `${name} ${image.geometry.dimensions.join('x')}: every tile ${all.tiles} tiles, ${all.s.toFixed(1)} s (inference ${all.inference.toFixed(1)} s); ` +
      `near the first placement's foreground ${near.tiles} tiles, ${near.s.toFixed(1)} s (inference ${near.inference.toFixed(1)} s); ` +
      `mask voxels that differ: ${diff} of ${all.mask.length}`,
  );
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
