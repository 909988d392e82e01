/**
 * In-process tests of the CLI's pure helpers: DICOMweb URL splitting, --map parsing, grid comparison and mask
 * alignment, default model discovery.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { IDENTITY, type VolumeGeometry } from '../core/geometry';
import type { Volume } from '../core/volume';
import { parseHeight, parseLabelMap } from './commands/common';
import { alignMaskToImage, isReorderedGrid, maxCornerOffsetMm, sameGrid } from './commands/grid';
import { parseDicomWebUrl } from './commands/input';
import { findDefaultModel } from './commands/model';

describe('parseDicomWebUrl', () => {
  it.each([
    [
      'http://127.0.0.1:8042/dicom-web/studies/1.2.3/series/4.5.6',
      { baseUrl: 'http://127.0.0.1:8042/dicom-web', studyInstanceUid: '1.2.3', seriesInstanceUid: '4.5.6' },
    ],
    [
      'https://pacs.example.org/wado/rs/studies/1.2.840.1/series/1.2.840.2/metadata?x=1#y',
      { baseUrl: 'https://pacs.example.org/wado/rs', studyInstanceUid: '1.2.840.1', seriesInstanceUid: '1.2.840.2' },
    ],
    ['http://host/studies/2.25.7', { baseUrl: 'http://host', studyInstanceUid: '2.25.7', seriesInstanceUid: undefined }],
    ['http://host:80/dicom-web/studies/2.25.7/', { baseUrl: 'http://host/dicom-web', studyInstanceUid: '2.25.7', seriesInstanceUid: undefined }],
  ])('%s', (url, want) => {
    expect(parseDicomWebUrl(url)).toEqual(want);
  });

  it.each([
    ['http://host/dicom-web/series/1.2', 'names no study'],
    ['http://host/dicom-web/studies/', 'names no study'],
    ['http://host/dicom-web/studies/abc/series/1.2', '"abc" is not a DICOM UID'],
    ['http://host/dicom-web/studies/1.2/series/x.y', 'series UID "x.y" is not a DICOM UID'],
    ['ftp://host/studies/1.2', 'protocol must be http or https, got ftp:'],
    ['http//broken', 'is not a valid URL'],
  ])('rejects %s', (url, message) => {
    expect(() => parseDicomWebUrl(url)).toThrow(message);
  });
});

describe('parseLabelMap', () => {
  it.each([
    ['psoas_left=1,psoas_right=2', { psoas_left: 1, psoas_right: 2 }],
    [' psoas_left = 88 , psoas_right=255 ', { psoas_left: 88, psoas_right: 255 }],
    ['iliopsoas-left=3', { 'iliopsoas-left': 3 }],
  ])('%s', (text, want) => {
    expect(parseLabelMap(text)).toEqual(want);
  });
  it.each([
    ['', 'expected name=value pairs'],
    ['psoas_left=1,', 'expected name=value pairs'],
    ['psoas_left=256', 'must be an integer 1..255 (0 is background), got "256"'],
    ['psoas_left=1.5', 'got "1.5"'],
    ['psoas_left=-1', 'got "-1"'],
    ['1=psoas_left', '"1=psoas_left" is not name=value'],
    ['psoas_left=1,psoas_left=2', 'psoas_left is given twice'],
    ['a=4,b=4', 'a and b both use label 4'],
  ])('rejects "%s"', (text, message) => {
    expect(() => parseLabelMap(text)).toThrow(message);
  });
});

describe('parseHeight', () => {
  it('takes metres, rejects cm with a hint', () => {
    expect(parseHeight('1.68')).toBe(1.68);
    expect(parseHeight(undefined)).toBeUndefined();
    expect(() => parseHeight('168')).toThrow('(in cm? use --height 1.68)');
    expect(() => parseHeight('tall')).toThrow('--height must be a number in metres, got "tall"');
  });
});

const G: VolumeGeometry = { dimensions: [10, 8, 6], spacing: [1, 1, 2], origin: [0, 0, 0], direction: [...IDENTITY] };
const vol = (g: VolumeGeometry, fill: (i: number, j: number, k: number) => number): Volume<Uint8Array> => {
  const [nx, ny, nz] = g.dimensions;
  const d = new Uint8Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) d[i + nx * (j + ny * k)] = fill(i, j, k);
  return { geometry: g, data: d, units: 'label', meta: {} };
};

describe('grid comparison and mask alignment', () => {
  it('measures corner offsets in mm (origin shift, spacing change, axis flip)', () => {
    expect(maxCornerOffsetMm(G, G)).toBe(0);
    expect(maxCornerOffsetMm(G, { ...G, origin: [0, 0, 0.0004] })).toBeCloseTo(0.0004, 12);
    expect(sameGrid(G, { ...G, origin: [0, 0, 0.0004] })).toBe(true);
    expect(sameGrid(G, { ...G, origin: [0, 0, 0.002] })).toBe(false);
    // spacing 2 → 2.001 along k: the last slice (k = 5) moves 0.005 mm.
    expect(maxCornerOffsetMm(G, { ...G, spacing: [1, 1, 2.001] })).toBeCloseTo(0.005, 9);
    // i flipped about the grid centre: corners 9 mm apart.
    expect(maxCornerOffsetMm(G, { ...G, origin: [9, 0, 0], direction: [-1, 0, 0, 0, 1, 0, 0, 0, 1] })).toBeCloseTo(9, 9);
  });

  it('keeps a mask on the same grid as is', () => {
    const image = { ...vol(G, () => 0), units: 'HU' as const };
    const mask = vol(G, (i) => (i === 3 ? 1 : 0));
    const a = alignMaskToImage(image, mask, 'm', 'img');
    expect(a.resampled).toBe(false);
    expect(a.mask).toBe(mask);
    expect(a.warnings).toEqual([]);
  });

  it('reorders exactly a grid holding the same voxels in another order (i reversed, or k and j swapped)', () => {
    const image = { ...vol(G, () => 0), units: 'HU' as const };
    // Same voxels stored with i reversed: mask voxel i' = 9 - i.
    const gFlip: VolumeGeometry = { ...G, origin: [9, 0, 0], direction: [-1, 0, 0, 0, 1, 0, 0, 0, 1] };
    expect(isReorderedGrid(G, gFlip)).toBe(true);
    const mask = vol(gFlip, (i, j, k) => (i === 9 - 3 && j === 2 && k === 4 ? 2 : 0));
    const a = alignMaskToImage(image, mask, 'flipped.nii', 'img');
    expect(a).toMatchObject({ resampled: false, reordered: true });
    expect(a.mask.geometry).toEqual(G);
    expect([...a.mask.data.keys()].filter((v) => a.mask.data[v] !== 0)).toEqual([3 + 10 * (2 + 8 * 4)]);
    expect(a.warnings).toEqual(["Mask flipped.nii holds the image's voxels in another order (RPS vs LPS); reordered exactly onto the image grid, no interpolation"]);
    // j and k swapped (dims and spacing swap with them).
    const gSwap: VolumeGeometry = { dimensions: [10, 6, 8], spacing: [1, 2, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 0, 1, 0, 1, 0] };
    expect(isReorderedGrid(G, gSwap)).toBe(true);
    // Not a reordering: shifted by half a voxel, or one voxel, or another spacing.
    expect(isReorderedGrid(G, { ...G, origin: [0.5, 0, 0] })).toBe(false);
    expect(isReorderedGrid(G, { ...G, origin: [0, 0, 2] })).toBe(false);
    expect(isReorderedGrid(G, { ...G, spacing: [1, 1, 2.5] })).toBe(false);
  });

  it('resamples nearest-neighbour a grid of the same size shifted by half a voxel, with a warning', () => {
    const image = { ...vol(G, () => 0), units: 'HU' as const };
    const mask = vol({ ...G, origin: [0.5, 0, 0] }, (i, j, k) => (i >= 2 && i <= 4 && j === 3 && k === 2 ? 1 : 0));
    const a = alignMaskToImage(image, mask, 'shifted.nii', 'img');
    expect(a).toMatchObject({ resampled: true, reordered: false });
    // Mask voxel i' has its centre at x = i' + 0.5 mm; image voxel i (x = i) lies midway between mask voxels i - 1
    // and i, and the tie goes to the higher index: image i = 2, 3, 4 take mask voxels 2, 3, 4.
    expect([...a.mask.data.keys()].filter((v) => a.mask.data[v] !== 0)).toEqual([2, 3, 4].map((i) => i + 10 * (3 + 8 * 2)));
    expect(a.warnings[0]).toContain("Mask shifted.nii has the image's dimensions but another position/orientation (corners up to 0.500 mm apart)");
    expect(a.warnings[0]).toContain('labelled volume 0.01 mL → 0.01 mL');
  });

  it('rejects labels outside the image and an empty mask on another grid', () => {
    const image = { ...vol(G, () => 0), units: 'HU' as const };
    const shifted = vol({ ...G, origin: [0, 0, 20] }, (_i, _j, k) => (k === 0 ? 1 : 0)); // k = 0 at z = 20 mm; image ends at z = 11 mm
    expect(() => alignMaskToImage(image, shifted, 'far.nii', 'img')).toThrow("labels reach 9.0 mm outside the image's field of view");
    const empty = vol({ ...G, dimensions: [5, 5, 5] }, () => 0);
    expect(() => alignMaskToImage(image, empty, 'empty.nii', 'img')).toThrow('Mask empty.nii is on another grid and holds no labelled voxel');
  });
});

describe('findDefaultModel', () => {
  it('picks the first folder (by name) holding a manifest.json; says where it looked when there is none', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'psoasview-models-'));
    try {
      await expect(findDefaultModel(root)).rejects.toThrow(`No model package in ${root}`);
      await expect(findDefaultModel(path.join(root, 'absent'))).rejects.toMatchObject({ code: 'BAD_MODEL' });
      for (const n of ['c-model', 'a-empty', 'b-model']) mkdirSync(path.join(root, n));
      writeFileSync(path.join(root, 'b-model', 'manifest.json'), '{}');
      writeFileSync(path.join(root, 'c-model', 'manifest.json'), '{}');
      expect(await findDefaultModel(root)).toBe(path.join(root, 'b-model'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
