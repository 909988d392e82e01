/**
 * What the benchmarks share: the cached bench phantom (raw Int16 + geometry JSON in .cache/bench/, gitignored) and
 * the median of per-tile times. Used by scripts/bench.ts, scripts/bench-browser.ts and scripts/bench-webgpu-node.ts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Vec3, VolumeGeometry } from '../src/core/geometry';
import type { Volume } from '../src/core/volume';

/** Path of a cached phantom without its extension (`.i16` voxels x fastest, `.json` geometry and timing). */
export function benchPhantomBase(cacheDir: string, seed: number, dims: Vec3): string {
  return path.join(cacheDir, `phantom-seed${seed}-${dims.join('x')}`);
}

/** Generates the phantom (seconds to minutes for 512x512x300) and writes the cache files. */
export async function writeBenchPhantom(base: string, seed: number, dims: Vec3): Promise<void> {
  const { generatePhantom } = await import('../src/core/phantom');
  const t = performance.now();
  const r = generatePhantom({ seed, dims });
  mkdirSync(path.dirname(base), { recursive: true });
  writeFileSync(`${base}.i16`, new Uint8Array(r.image.data.buffer, r.image.data.byteOffset, r.image.data.byteLength));
  writeFileSync(`${base}.json`, JSON.stringify({ geometry: r.image.geometry, generate_ms: Math.round(performance.now() - t) }));
}

export function hasBenchPhantom(base: string): boolean {
  return existsSync(`${base}.json`) && existsSync(`${base}.i16`);
}

/** Reads a cached phantom (HU, Int16 view over the file's bytes). */
export function readBenchPhantom(base: string, seed: number): { image: Volume<Int16Array>; generateMs: number } {
  const meta = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as { geometry: VolumeGeometry; generate_ms: number };
  const buf = readFileSync(`${base}.i16`);
  const data = new Int16Array(buf.buffer, buf.byteOffset, buf.byteLength / 2);
  return { image: { geometry: meta.geometry, data, units: 'HU', meta: { source: `phantom seed ${seed}` } }, generateMs: meta.generate_ms };
}

/** Median (mean of the two middle values for an even count); 0 for none. */
export function median(a: readonly number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
