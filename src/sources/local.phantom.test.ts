/**
 * Acceptance: "Local DICOM folder and the NIfTI of the same phantom give the same HU at the same patient
 * coordinates". A small phantom (axial head-first, feet-first, oblique) is written with the project's DICOM and
 * NIfTI writers, both are read back through the local source, and HU are compared at many voxel centres
 * (mapped DICOM index → patient LPS mm → NIfTI index, which must land on a voxel centre: no interpolation).
 */
import { describe, it, expect } from 'vitest';
import { generatePhantom, type PhantomOptions } from '../core/phantom';
import { indexToWorld, worldToIndex, orientationCode, type Vec3 } from '../core/geometry';
import type { Volume } from '../core/volume';
import { createLocalSource, type LocalFile } from './local';
import { writeTestDicom } from '../core/io/decode-testkit';
import { writeDicomSeries } from '../core/io/dicom-write';
import { writeNifti } from '../core/io/nifti';

const variants: Array<{ name: string; opts: Partial<PhantomOptions>; code?: string }> = [
  { name: 'axial head-first', opts: { sliceOrder: 'head-first' } },
  { name: 'feet-first', opts: { sliceOrder: 'feet-first' } },
  { name: 'oblique', opts: { oblique: true } },
];

describe('acceptance: DICOM folder and NIfTI of one phantom agree in patient space', () => {
  it.each(variants)('$name', async ({ opts }) => {
    const { image } = generatePhantom({ seed: 11, dims: [48, 40, 16], spacing: [7, 7, 12], noiseSd: 12, ...opts });
    const dicom = writeDicomSeries(image, { uidSeed: 'acceptance' });
    const nii = writeNifti(image);
    const files: LocalFile[] = [
      ...dicom.map((f) => ({ name: `phantom/${f.name}`, bytes: async () => f.bytes })),
      // writeNifti may gzip already; name the file by what it is.
      { name: nii[0] === 0x1f && nii[1] === 0x8b ? 'phantom.nii.gz' : 'phantom.nii', bytes: async () => nii },
    ];
    const src = createLocalSource(files);
    const studies = await src.searchStudies();
    expect(studies).toHaveLength(2);
    const vols: Volume[] = [];
    for (const st of studies) {
      const [se] = await src.listSeries(st.studyInstanceUid);
      vols.push(await src.loadSeries(st.studyInstanceUid, se.seriesInstanceUid));
    }
    const dv = vols.find((v) => v.meta.seriesInstanceUid)!;
    const nv = vols.find((v) => v !== dv)!;
    expect(dv.geometry.dimensions).toEqual(image.geometry.dimensions);
    // Both readers must put every voxel centre at the same patient position as the phantom.
    let compared = 0;
    const [nx, ny, nz] = dv.geometry.dimensions;
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < ny; j += 3) {
        for (let i = (k + j) % 4; i < nx; i += 4) {
          const p = indexToWorld(dv.geometry, [i, j, k]);
          const q = worldToIndex(nv.geometry, p);
          const r = q.map(Math.round) as Vec3;
          for (let a = 0; a < 3; a++) expect(Math.abs(q[a] - r[a])).toBeLessThan(1e-3);
          const dvVal = dv.data[i + nx * (j + ny * k)];
          const nDims = nv.geometry.dimensions;
          const nvVal = nv.data[r[0] + nDims[0] * (r[1] + nDims[1] * r[2])];
          if (dvVal !== nvVal) throw new Error(`voxel (${i},${j},${k}) at LPS ${p.map((v) => v.toFixed(2))}: DICOM ${dvVal} HU, NIfTI ${nvVal} HU`);
          // And the same as the phantom itself at that position.
          const o = worldToIndex(image.geometry, p).map(Math.round) as Vec3;
          const d = image.geometry.dimensions;
          expect(dvVal).toBe(image.data[o[0] + d[0] * (o[1] + d[1] * o[2])]);
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(1000);
    console.log(`${orientationCode(dv.geometry)} DICOM vs ${orientationCode(nv.geometry)} NIfTI: ${compared} voxel centres equal`);
  });
});

/** Slice files of a volume written with the test kit's minimal writer (independent of the project's writer). */
function sliceFiles(image: Volume<Int16Array>): LocalFile[] {
  const g = image.geometry;
  const [nx, ny, nz] = g.dimensions;
  const d = g.direction;
  return Array.from({ length: nz }, (_, k) => {
    const bytes = writeTestDicom({
      rows: ny,
      columns: nx,
      stored: image.data.slice(k * nx * ny, (k + 1) * nx * ny),
      ipp: indexToWorld(g, [0, 0, k]),
      iop: [d[0], d[1], d[2], d[3], d[4], d[5]],
      pixelSpacing: [g.spacing[1], g.spacing[0]],
      instanceNumber: nz - k,
    });
    return { name: `s/${String((k * 7) % nz).padStart(3, '0')}-${k}.dcm`, bytes: async () => bytes };
  });
}

describe('phantom DICOM slices (test-kit writer) load back at the same patient coordinates', () => {
  it.each(variants)('$name', async ({ opts }) => {
    const { image } = generatePhantom({ seed: 5, dims: [40, 32, 12], spacing: [8, 8, 14], noiseSd: 12, ...opts });
    const src = createLocalSource(sliceFiles(image));
    const [st] = await src.searchStudies();
    const [se] = await src.listSeries(st.studyInstanceUid);
    const vol = await src.loadSeries(st.studyInstanceUid, se.seriesInstanceUid);
    expect(vol.meta.warnings).toEqual([]);
    const [nx, ny, nz] = vol.geometry.dimensions;
    expect([nx, ny, nz]).toEqual(image.geometry.dimensions);
    let compared = 0;
    for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j += 2) for (let i = k % 3; i < nx; i += 3) {
      const p = indexToWorld(vol.geometry, [i, j, k]);
      const q = worldToIndex(image.geometry, p);
      const r = q.map(Math.round) as Vec3;
      for (let a = 0; a < 3; a++) expect(Math.abs(q[a] - r[a])).toBeLessThan(1e-3);
      expect(vol.data[i + nx * (j + ny * k)]).toBe(image.data[r[0] + nx * (r[1] + ny * r[2])]);
      compared++;
    }
    expect(compared).toBeGreaterThan(1500);
  });
});
