/**
 * Synthetic test inputs for the pipeline (pure, deterministic): a "CT" with two vertical cylinders standing in
 * for the psoas muscles, on any geometry, with its ground-truth label map; and a pure TypeScript model that
 * computes exactly what src/inference/fixtures/tiny-conv3d-softmax.onnx computes.
 * Used by the pipeline and inference tests; not a phantom for training (see src/core/phantom for that).
 */
import { indexToWorld, type Vec3, type VolumeGeometry } from '../core/geometry';
import type { Volume } from '../core/volume';
import { exampleManifest, type ModelManifest } from './manifest';
import type { PredictTile } from './sliding-window';

export interface CylinderPhantom {
  ct: Volume<Int16Array>;
  /** Ground truth: 1 = left cylinder (patient's left, +x LPS), 2 = right cylinder. */
  truth: Uint8Array;
}

/**
 * HU values: air outside an elliptic body of fat; left "psoas" 50 HU, right 350 HU (the tiny model tells them
 * apart by HU). With tinyManifest's normalisation ((HU - 50) / 250: fat -0.6, left 0, right 1.2) each cylinder's
 * edge (midway between its value and fat's) falls exactly on a class threshold of the tiny model (-0.3, +0.3),
 * so the model neither grows nor shrinks them.
 */
export const PHANTOM_HU = { air: -1000, fat: -100, left: 50, right: 350 };

/**
 * Body: ellipse |x/110|^2 + |y/90|^2 <= 1 (LPS mm, any z). Cylinders along z for |z| <= 50 mm, radius 16 mm,
 * centred at x = ±45 mm (left = +x), y = +30 mm (posterior).
 */
export function cylinderPhantom(g: VolumeGeometry): CylinderPhantom {
  const [nx, ny, nz] = g.dimensions;
  const data = new Int16Array(nx * ny * nz);
  const truth = new Uint8Array(nx * ny * nz);
  let v = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, v++) {
        const [x, y, z] = indexToWorld(g, [i, j, k]);
        let hu = (x / 110) ** 2 + (y / 90) ** 2 <= 1 ? PHANTOM_HU.fat : PHANTOM_HU.air;
        if (Math.abs(z) <= 50) {
          if ((x - 45) ** 2 + (y - 30) ** 2 <= 16 ** 2) {
            hu = PHANTOM_HU.left;
            truth[v] = 1;
          } else if ((x + 45) ** 2 + (y - 30) ** 2 <= 16 ** 2) {
            hu = PHANTOM_HU.right;
            truth[v] = 2;
          }
        }
        data[v] = hu;
      }
  return { ct: { geometry: g, data, units: 'HU', meta: { source: 'synthetic cylinders' } }, truth };
}

/** Logit slopes/biases of the tiny model (see make-tiny-model.py): logit_c = SLOPE[c] * boxmean + BIAS[c]. */
export const TINY_SLOPES = [-10, 0, 10];
export const TINY_BIASES = [0, 3, 0];

/**
 * Pure TS twin of tiny-conv3d-softmax.onnx: 3x3x3 box mean with zero padding at the tile border, linear
 * logits per class, softmax over the 3 classes. Output channel-major [3, z, y, x].
 */
export const tinyModelReference: PredictTile = async (tile: Float32Array, size: Vec3) => {
  const [px, py, pz] = size;
  const P = px * py * pz;
  const out = new Float32Array(3 * P);
  for (let z = 0, v = 0; z < pz; z++)
    for (let y = 0; y < py; y++)
      for (let x = 0; x < px; x++, v++) {
        let s = 0;
        for (let dz = -1; dz <= 1; dz++) {
          const zz = z + dz;
          if (zz < 0 || zz >= pz) continue;
          for (let dy = -1; dy <= 1; dy++) {
            const yy = y + dy;
            if (yy < 0 || yy >= py) continue;
            for (let dx = -1; dx <= 1; dx++) {
              const xx = x + dx;
              if (xx >= 0 && xx < px) s += tile[xx + px * (yy + py * zz)];
            }
          }
        }
        const m = s / 27;
        const l = TINY_SLOPES.map((a, c) => a * m + TINY_BIASES[c]);
        const mx = Math.max(...l);
        const e = l.map((x) => Math.exp(x - mx));
        const sum = e[0] + e[1] + e[2];
        for (let c = 0; c < 3; c++) out[c * P + v] = e[c] / sum;
      }
  return out;
};

/** Manifest matching the tiny model and the phantom: LPS, 3 mm, 32^3 tiles, window [-200, 400], (HU - 50) / 250. */
export function tinyManifest(overrides: Partial<ModelManifest['input']> = {}): ModelManifest {
  const m = exampleManifest();
  m.name = 'tiny-conv3d-softmax';
  m.version = 'test';
  m.onnx = 'tiny-conv3d-softmax.onnx';
  m.input = {
    ...m.input,
    patch_size: [32, 32, 32],
    target_spacing_mm: [3, 3, 3],
    intensity: { clip: [-200, 400], normalise: { mean: 50, std: 250 } },
    ...overrides,
  };
  m.postprocess = { largest_component: true, fill_holes: true, min_size_ml: 1 };
  return m;
}

/** Dice coefficient of label `value` between two label maps. */
export function dice(a: ArrayLike<number>, b: ArrayLike<number>, value: number): number {
  let inter = 0;
  let na = 0;
  let nb = 0;
  for (let v = 0; v < a.length; v++) {
    const x = a[v] === value;
    const y = b[v] === value;
    if (x) na++;
    if (y) nb++;
    if (x && y) inter++;
  }
  return na + nb === 0 ? 1 : (2 * inter) / (na + nb);
}
