import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../core/geometry';
import {
  argmax,
  boundingBox,
  connectedComponents,
  dilateBox,
  fillHoles,
  keepLargestComponent,
  keepMainComponents,
  postprocessLabels,
  removeSmallComponents,
} from './postprocess';

/** Builds a label volume from k-slices written as strings ('.' = 0, digits = labels), rows top to bottom = j. */
function vol(...slices: string[][]): { labels: Uint8Array; dims: Vec3 } {
  const nz = slices.length;
  const ny = slices[0].length;
  const nx = slices[0][0].length;
  const labels = new Uint8Array(nx * ny * nz);
  slices.forEach((rows, k) =>
    rows.forEach((row, j) => [...row].forEach((ch, i) => (labels[i + nx * (j + ny * k)] = ch === '.' ? 0 : Number(ch)))),
  );
  return { labels, dims: [nx, ny, nz] };
}

function show(labels: Uint8Array, dims: Vec3): string[][] {
  const [nx, ny, nz] = dims;
  const out: string[][] = [];
  for (let k = 0; k < nz; k++) {
    const rows: string[] = [];
    for (let j = 0; j < ny; j++) {
      let r = '';
      for (let i = 0; i < nx; i++) {
        const v = labels[i + nx * (j + ny * k)];
        r += v === 0 ? '.' : String(v);
      }
      rows.push(r);
    }
    out.push(rows);
  }
  return out;
}

describe('argmax', () => {
  it('picks the largest channel, ties to the lowest', () => {
    // 4 voxels x 3 channels, channel-major
    const s = Float32Array.from([0.5, 0.1, 0.3, 0.2, /**/ 0.3, 0.8, 0.3, 0.2, /**/ 0.2, 0.1, 0.4, 0.6]);
    expect(Array.from(argmax(s, 3, 4))).toEqual([0, 1, 2, 2]);
    expect(Array.from(argmax(Float32Array.from([1, 1]), 2, 1))).toEqual([0]);
  });
});

describe('connectedComponents', () => {
  const diag = vol(['1..', '.1.', '..1'], ['...', '...', '..1']);
  it.each([
    [6, 3, [1, 1, 2]],
    [26, 1, [4]],
  ])('diagonal chain with %i-connectivity → %i components', (conn, count, sizes) => {
    const cc = connectedComponents(diag.labels, diag.dims, 1, conn as 6 | 26);
    expect(cc.count).toBe(count);
    expect(Array.from(cc.sizes.slice(1)).sort()).toEqual(sizes.sort());
  });
  it('U-shape merges two provisional labels (union-find), other labels ignored', () => {
    const u = vol(['1.1.2', '1.1.2', '111.2']);
    const cc = connectedComponents(u.labels, u.dims, 1, 6);
    expect(cc.count).toBe(1);
    expect(cc.sizes[1]).toBe(7);
    expect(connectedComponents(u.labels, u.dims, 2, 6).count).toBe(1);
  });
  it('spiral with many merges, and 3D corner connectivity (26 only)', () => {
    const s = vol(['11111', '1...1', '1.1.1', '1.111'], ['.....', '.....', '.....', '.....'], ['.....', '.....', '.....', '....1']);
    expect(connectedComponents(s.labels, s.dims, 1, 6).count).toBe(2);
    const corner = vol(['1.', '..'], ['..', '.1']);
    expect(connectedComponents(corner.labels, corner.dims, 1, 6).count).toBe(2);
    expect(connectedComponents(corner.labels, corner.dims, 1, 26).count).toBe(1);
  });
  it('a 64^3 checkerboard (worst case for union-find) gives N/2 components with 6-connectivity', () => {
    const n = 64;
    const labels = new Uint8Array(n ** 3);
    for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) labels[i + n * (j + n * k)] = (i + j + k) % 2;
    const t = performance.now();
    expect(connectedComponents(labels, [n, n, n], 1, 6).count).toBe(n ** 3 / 2);
    expect(connectedComponents(labels, [n, n, n], 1, 26).count).toBe(1); // 18-neighbours join them all
    expect(performance.now() - t).toBeLessThan(2000);
  });
});

describe('largest component, small components', () => {
  it('keeps the largest per label, leaves other labels alone', () => {
    const v = vol(['11.1.22', '11...2.', '.....2.']);
    expect(keepLargestComponent(v.labels, v.dims, 1)).toBe(1);
    expect(keepLargestComponent(v.labels, v.dims, 2)).toBe(0);
    expect(show(v.labels, v.dims)).toEqual([['11...22', '11...2.', '.....2.']]);
  });
  it('removes components smaller than the minimum', () => {
    const v = vol(['111.1', '.....', '11...']);
    expect(removeSmallComponents(v.labels, v.dims, 1, 3)).toBe(3);
    expect(show(v.labels, v.dims)).toEqual([['111..', '.....', '.....']]);
  });
});

describe('dilateBox / keepMainComponents (gap-tolerant largest component)', () => {
  it('box dilation equals a brute-force Chebyshev neighbourhood per axis radius', () => {
    const dims: Vec3 = [9, 7, 5];
    const mask = new Uint8Array(9 * 7 * 5);
    let s = 7;
    for (let v = 0; v < mask.length; v++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      mask[v] = s % 23 === 0 ? 1 : 0;
    }
    for (const r of [[1, 0, 0], [0, 2, 0], [0, 0, 1], [2, 1, 1], [0, 0, 0]] as Vec3[]) {
      const got = dilateBox(mask, dims, r);
      const want = new Uint8Array(mask.length);
      for (let k = 0; k < 5; k++)
        for (let j = 0; j < 7; j++)
          for (let i = 0; i < 9; i++) {
            let hit = 0;
            for (let c = Math.max(0, k - r[2]); c <= Math.min(4, k + r[2]) && !hit; c++)
              for (let b = Math.max(0, j - r[1]); b <= Math.min(6, j + r[1]) && !hit; b++)
                for (let a = Math.max(0, i - r[0]); a <= Math.min(8, i + r[0]) && !hit; a++) hit = mask[a + 9 * (b + 7 * c)];
            want[i + 9 * (j + 7 * k)] = hit;
          }
      expect(Array.from(got)).toEqual(Array.from(want));
    }
    expect(mask.some((x) => x === 1)).toBe(true);
  });
  it.each([
    // gap (voxels per axis), rows → expected: a 1-voxel gap joins at r=1 (gap <= 2r), a 3-voxel gap needs r=2
    [[0, 0, 0], ['1111.11...111'], ['1111.........'], 5],
    [[1, 0, 0], ['1111.11...111'], ['1111.11......'], 3],
    [[2, 0, 0], ['1111.11...111'], ['1111.11...111'], 0],
    // the group with the most voxels wins even when its largest single piece is smaller
    [[0, 0, 0], ['11111...111.111'], ['11111..........'], 6],
    [[1, 0, 0], ['11111...111.111'], ['........111.111'], 5],
    [[2, 0, 0], ['11111...111.111'], ['11111...111.111'], 0],
  ] as [Vec3, string[], string[], number][])('gap %j: %j → %j', (gap, rows, want, removed) => {
    const v = vol(rows);
    expect(keepMainComponents(v.labels, v.dims, 1, gap)).toBe(removed);
    expect(show(v.labels, v.dims)).toEqual([want]);
  });
  it('counts the gap per axis (anisotropic): a 2-slice gap in z joins only when the z radius allows it', () => {
    const mk = () => vol(['11', '11'], ['..', '..'], ['..', '..'], ['1.', '..']);
    const a = mk();
    expect(keepMainComponents(a.labels, a.dims, 1, [3, 3, 0])).toBe(1);
    const b = mk();
    expect(keepMainComponents(b.labels, b.dims, 1, [0, 0, 1])).toBe(0);
    expect(b.labels.reduce((x, y) => x + y, 0)).toBe(5);
  });
  it('leaves other labels alone; at gap 0 only the largest piece stays', () => {
    const a = vol(['11.1.22', '11...2.', '2....2.']);
    expect(keepMainComponents(a.labels, a.dims, 1, [0, 0, 0])).toBe(1);
    expect(show(a.labels, a.dims)).toEqual([['11...22', '11...2.', '2....2.']]);
    const c = vol(['11.1.22', '11...2.', '2....2.']);
    keepMainComponents(c.labels, c.dims, 1, [1, 1, 0]);
    expect(show(c.labels, c.dims)).toEqual([['11.1.22', '11...2.', '2....2.']]);
  });
});

describe('fillHoles', () => {
  it('3D: fills an enclosed cavity, not a tunnel open to the border', () => {
    // 5x5x5 cube shell of 1s with a 1-voxel cavity at the centre → filled.
    const n = 5;
    const labels = new Uint8Array(n ** 3);
    for (let k = 1; k < 4; k++) for (let j = 1; j < 4; j++) for (let i = 1; i < 4; i++) labels[i + n * (j + n * k)] = 1;
    labels[2 + n * (2 + n * 2)] = 0;
    const closed = labels.slice();
    expect(fillHoles(closed, [n, n, n], 1, '3d')).toBe(1);
    expect(closed[62]).toBe(1);
    // open a tunnel along k through the cube's centre → no longer a hole in 3D, but a hole in every k-slice
    labels[2 + n * (2 + n * 1)] = 0;
    labels[2 + n * (2 + n * 3)] = 0;
    const tunnel = labels.slice();
    expect(fillHoles(tunnel, [n, n, n], 1, '3d')).toBe(0);
    expect(fillHoles(labels, [n, n, n], 1, 'slice')).toBe(3);
    expect(labels[2 + n * (2 + n * 1)]).toBe(1);
  });
  it('per slice: a ring fills; a C-shape open to the slice border does not; other labels are kept', () => {
    const v = vol(['.....', '.111.', '.1.1.', '.111.', '.....'], ['.....', '.111.', '.121.', '.111.', '.....'], ['.....', '.1.1.', '.1.1.', '.111.', '.....']);
    expect(fillHoles(v.labels, v.dims, 1, 'slice')).toBe(1);
    expect(show(v.labels, v.dims)).toEqual([
      ['.....', '.111.', '.111.', '.111.', '.....'],
      ['.....', '.111.', '.121.', '.111.', '.....'],
      ['.....', '.1.1.', '.1.1.', '.111.', '.....'],
    ]);
  });
  it('diagonal gaps do not leak in 2D (4-connected background)', () => {
    const v = vol(['.1.', '1.1', '.1.']);
    expect(fillHoles(v.labels, v.dims, 1, 'slice')).toBe(1);
  });
});

describe('boundingBox / postprocessLabels', () => {
  it('bounding box (hi exclusive), null when empty', () => {
    const v = vol(['.....', '..1..'], ['.2...', '.....']);
    expect(boundingBox(v.labels, v.dims)).toEqual({ lo: [1, 0, 0], hi: [3, 2, 2] });
    expect(boundingBox(new Uint8Array(8), [2, 2, 2])).toBeNull();
  });
  it('runs largest component → fill → min size per label and reports counts', () => {
    const v = vol(['111..2', '1.1..2', '111...', '.....1']);
    const r = postprocessLabels(v.labels, v.dims, { labels: [1, 2], largestComponent: true, fillHoles: true, fillHolesMode: 'slice', minSizeVoxels: 3 });
    expect(r).toEqual([
      { label: 1, removedByLargestComponent: 1, filledHoles: 1, removedSmall: 0, finalVoxels: 9 },
      { label: 2, removedByLargestComponent: 0, filledHoles: 0, removedSmall: 2, finalVoxels: 0 },
    ]);
  });
});
