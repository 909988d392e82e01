/**
 * Cheap summaries of a label map (Uint8Array, linear index i + nx*(j + ny*k)) for the test hook and the panel:
 * voxels per label, and a run-length encoding that lets a test compare whole masks without moving every voxel.
 */

/** Voxel count per label value present (background 0 included). */
export function labelCounts(data: Uint8Array): Record<number, number> {
  const counts = new Float64Array(256);
  for (let v = 0; v < data.length; v++) counts[data[v]]++;
  const out: Record<number, number> = {};
  for (let l = 0; l < 256; l++) if (counts[l] > 0) out[l] = counts[l];
  return out;
}

/**
 * Run-length encoding in linear voxel order: [value, count, value, count, …], consecutive runs of different values.
 * A psoas mask of a 384x384x175 CT has a few ten thousand runs instead of 25.8 M voxels.
 */
export function runLengths(data: Uint8Array): number[] {
  const out: number[] = [];
  if (data.length === 0) return out;
  let value = data[0];
  let count = 0;
  for (let v = 0; v < data.length; v++) {
    if (data[v] === value) count++;
    else {
      out.push(value, count);
      value = data[v];
      count = 1;
    }
  }
  out.push(value, count);
  return out;
}

/** Inverse of runLengths. */
export function decodeRunLengths(runs: readonly number[]): Uint8Array {
  let n = 0;
  for (let r = 1; r < runs.length; r += 2) n += runs[r];
  const out = new Uint8Array(n);
  let o = 0;
  for (let r = 0; r < runs.length; r += 2) {
    out.fill(runs[r], o, o + runs[r + 1]);
    o += runs[r + 1];
  }
  return out;
}
