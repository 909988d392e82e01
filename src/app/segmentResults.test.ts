import { describe, expect, it } from 'vitest';
import { IDENTITY, indexToWorld, type Mat3, type VolumeGeometry } from '../core/geometry';
import type { Volume } from '../core/volume';
import { DEFAULT_HU_WINDOW, HEIGHT_RANGE_M, measureAll } from '../measure';
import { STAGES } from '../pipeline/run';
import { measurementWarnings, reportOptions } from '../cli/commands/report';
import {
  ABSENT_NOTE,
  MASK_FILE,
  RESULT_ROWS,
  axialLevelZ,
  backendLine,
  buildReport,
  doneNote,
  formatDuration,
  formatFigure,
  inputKindOf,
  labelMapOf,
  maskDescription,
  measureOptionsFor,
  overallFraction,
  packageProgressText,
  parseHeightText,
  pickPackageFiles,
  progressLine,
  rowText,
  shortSha,
  stagePosition,
  truncationText,
} from './segmentResults';

/** 20 x 20 x 10 voxels at 2 x 2 x 5 mm, axial head-first stack; a box of label 1 and of label 2 (2 slices). */
function fixture(): { ct: Volume<Int16Array>; mask: Volume<Uint8Array>; g: VolumeGeometry } {
  const g: VolumeGeometry = { dimensions: [20, 20, 10], spacing: [2, 2, 5], origin: [-19, -19, -100], direction: [...IDENTITY] as Mat3 };
  const n = 20 * 20 * 10;
  const ct: Volume<Int16Array> = { geometry: g, data: new Int16Array(n).fill(-1000), units: 'HU', meta: { source: 'fixture', warnings: ['uneven spacing'] } };
  const mask: Volume<Uint8Array> = { geometry: g, data: new Uint8Array(n), units: 'label', meta: {} };
  for (let k = 3; k <= 6; k++)
    for (let j = 8; j < 12; j++)
      for (let i = 2; i < 6; i++) {
        mask.data[i + 20 * (j + 20 * k)] = 2; // patient right = low x (LPS: +x = left)
        ct.data[i + 20 * (j + 20 * k)] = 50;
        mask.data[14 + (i - 2) + 20 * (j + 20 * k)] = 1;
        ct.data[14 + (i - 2) + 20 * (j + 20 * k)] = 30;
      }
  return { ct, mask, g };
}

describe('labels and measurement options (the CLI’s)', () => {
  it('labelMapOf drops the background and inverts value → name', () => {
    expect(labelMapOf({ 0: 'background', 1: 'psoas_left', 2: 'psoas_right' })).toEqual({ psoas_left: 1, psoas_right: 2 });
    expect(labelMapOf({ 0: 'background' })).toEqual({});
  });
  it('maskDescription is the CLI’s NIfTI description, at most 79 characters', () => {
    expect(maskDescription({ name: 'psoas-unet3d', version: '0.1.0' }, { psoas_left: 1, psoas_right: 2 })).toBe('psoasview psoas-unet3d 0.1.0: 1=psoas_left 2=psoas_right');
    expect(maskDescription({ name: 'x'.repeat(100), version: '1' }, {}).length).toBe(79);
  });
  it('measureOptionsFor passes level and height like `segment --level --height`; no height without a level', () => {
    expect(measureOptionsFor(-120.5, 1.75)).toEqual({ levelZmm: -120.5, heightM: 1.75, source: MASK_FILE });
    expect(measureOptionsFor(null, 1.75)).toEqual({ levelZmm: undefined, heightM: undefined, source: MASK_FILE });
    expect(measureOptionsFor(null, null)).toEqual({ levelZmm: undefined, heightM: undefined, source: MASK_FILE });
  });
  it('inputKindOf maps viewer sources to the CLI input kinds', () => {
    expect(inputKindOf('dicomweb', 'https://pacs/x')).toBe('dicomweb');
    expect(inputKindOf('sample', 'Sample study')).toBe('dicom-folder');
    expect(inputKindOf('local', 'ct.nii.gz')).toBe('nifti');
    expect(inputKindOf('local', 'folder/IM1.dcm')).toBe('dicom-folder');
  });
});

describe('buildReport: measurements.json as `psoasview segment` writes it', () => {
  it('holds measureAll’s structures verbatim, the CLI options, totals and warnings', () => {
    const { ct, mask } = fixture();
    const opts = measureOptionsFor(-80, 1.8);
    const all = measureAll(ct, mask, { psoas_left: 1, psoas_right: 2 }, opts);
    const r = buildReport({
      ct,
      source: 'fixture',
      sourceKind: 'local',
      run: {
        model: { name: 'm', version: '1', sha256: 'ab'.repeat(32), source: '/models/m/manifest.json' },
        backend: 'onnxruntime-web/wasm',
        labels: { psoas_left: 1, psoas_right: 2 },
        timings: { inference: 12.5 },
        steps: ['inference: 1 tile'],
      },
      all,
      levelZmm: -80,
      heightM: 1.8,
      toolVersion: '0.1.0',
      created: new Date('2026-01-02T03:04:05Z'),
    });
    expect(r.format_version).toBe(1);
    expect(r.tool).toEqual({ name: 'psoasview', version: '0.1.0', command: 'segment', runtime: 'browser' });
    expect(r.created).toBe('2026-01-02T03:04:05.000Z');
    expect(r.model).toEqual({ name: 'm', version: '1', sha256: 'ab'.repeat(32), path: '/models/m/manifest.json' });
    expect(r.mask).toEqual({ file: MASK_FILE, labels: { psoas_left: 1, psoas_right: 2 } });
    expect(r.options).toEqual(reportOptions(-80, 1.8));
    expect(r.options).toEqual({ level_z_mm: -80, height_m: 1.8, hu_window: DEFAULT_HU_WINDOW });
    expect(r.structures).toBe(all.structures);
    expect(r.input).toMatchObject({ kind: 'dicom-folder', dimensions: [20, 20, 10], orientation: 'LPS', z_range_mm: [-100, -55] });
    // 4 slices x 4 x 4 voxels of 2 x 2 x 5 mm = 1280 mm³ per side; level -80 mm = slice k 4 (inside both boxes),
    // 16 voxels x 4 mm² = 64 mm² per side there.
    expect(all.structures.psoas_left.volume_mm3).toBeCloseTo(1280, 6);
    expect(r.tpa_mm2).toBeCloseTo(2 * 16 * 4, 6);
    expect(r.pmi_cm2_per_m2).toBeCloseTo(1.28 / (1.8 * 1.8), 9);
    // Input warnings first, then the measurement engine's, with the CLI's note for an absent structure.
    expect(r.warnings[0]).toBe('uneven spacing');
    expect(r.warnings).toEqual(['uneven spacing', ...measurementWarnings(all, ABSENT_NOTE)]);
    expect(r.backend).toBe('onnxruntime-web/wasm');
    expect(r.fallback_reason).toBeUndefined();
  });
  it('without a level: no level options, no TPA/PMI; a structure the model did not find gets the CLI’s note', () => {
    const { ct, mask } = fixture();
    const all = measureAll(ct, mask, { psoas_left: 1, psoas_right: 2, psoas_extra: 3 }, measureOptionsFor(null, 1.8));
    const run = { model: { name: 'm', version: '1', sha256: 'cd'.repeat(32), source: 'a + b' }, backend: 'onnxruntime-web/webgpu', labels: {}, timings: {}, steps: [] };
    const r = buildReport({ ct, source: 'x', sourceKind: 'dicomweb', run, all, levelZmm: null, heightM: 1.8, toolVersion: '0', created: new Date(0), fallbackReason: 'no adapter' });
    expect(r.options).toEqual({ hu_window: DEFAULT_HU_WINDOW });
    expect(r.tpa_cm2).toBeUndefined();
    expect(r.pmi_cm2_per_m2).toBeUndefined();
    expect(r.input.kind).toBe('dicomweb');
    expect(r.fallback_reason).toBe('no adapter');
    expect(r.warnings).toContain(`psoas_extra: ${ABSENT_NOTE}`);
    expect(r.warnings).toEqual(['uneven spacing', ...measurementWarnings(all, ABSENT_NOTE)]);
  });
});

describe('result table', () => {
  it('rows carry units; text follows the row’s decimals; absent structures show a dash', () => {
    const { ct, mask } = fixture();
    const all = measureAll(ct, mask, { psoas_left: 1, psoas_right: 2 }, measureOptionsFor(-80, null));
    for (const r of RESULT_ROWS) expect(r.unit.length).toBeGreaterThan(0);
    const vol = RESULT_ROWS.find((r) => r.id === 'volume')!;
    expect(rowText(vol, all.structures.psoas_left)).toBe('1.28');
    const hu = RESULT_ROWS.find((r) => r.id === 'mean-hu')!;
    expect(rowText(hu, all.structures.psoas_left)).toBe('30.0');
    expect(rowText(hu, all.structures.psoas_right)).toBe('50.0');
    const csa = RESULT_ROWS.find((r) => r.id === 'csa-level')!;
    expect(csa.atLevel).toBe(true);
    expect(rowText(csa, all.structures.psoas_left)).toBe('64');
    const absent = measureAll(ct, { geometry: mask.geometry, data: new Uint8Array(ct.data.length) }, { psoas_left: 1 });
    expect(rowText(vol, absent.structures.psoas_left)).toBe('–');
    expect(rowText(vol, undefined)).toBe('–');
  });
  it('truncation: empty when complete, the reasons when the mask touches the scan’s edge', () => {
    const { ct, mask } = fixture();
    const all = measureAll(ct, mask, { psoas_left: 1 });
    expect(truncationText(all.structures.psoas_left)).toBe('');
    const edge = mask.data.slice();
    for (let j = 8; j < 12; j++) for (let i = 14; i < 18; i++) edge[i + 20 * j] = 1; // slice k = 0
    const cut = measureAll(ct, { geometry: mask.geometry, data: edge }, { psoas_left: 1 });
    expect(truncationText(cut.structures.psoas_left)).toMatch(/^yes \(.*first slice.*\)$/);
  });
  it('formatFigure', () => {
    expect(formatFigure(1.005, 1)).toBe('1.0');
    expect(formatFigure(null, 1)).toBe('–');
    expect(formatFigure(undefined, 1)).toBe('–');
    expect(formatFigure(NaN, 2)).toBe('–');
    expect(formatFigure(-896.17431, 1)).toBe('-896.2');
  });
});

describe('progress and backend lines', () => {
  it('progressLine names the stage, and the tile during inference', () => {
    expect(progressLine({ stage: 'inference', tile: { done: 3, total: 12 } })).toBe('inference: tile 3/12');
    expect(progressLine({ stage: 'resample' })).toBe('resample');
    expect(progressLine({ stage: 'mapBack' })).toBe('map back to the CT grid');
    expect(progressLine({ stage: 'something-new' })).toBe('something-new');
  });
  it('stagePosition is 1-based among the pipeline stages', () => {
    expect(stagePosition(STAGES[0])).toEqual({ step: 1, steps: STAGES.length });
    expect(stagePosition('inference').step).toBe(STAGES.indexOf('inference') + 1);
    expect(stagePosition('measure')).toEqual({ steps: STAGES.length });
  });
  it('overallFraction rises monotonically from 0 to 1 over all stages', () => {
    let last = -1;
    for (const s of STAGES)
      for (const f of [0, 0.5, 1]) {
        const x = overallFraction(s, f);
        expect(x).toBeGreaterThanOrEqual(last);
        last = x;
      }
    expect(overallFraction(STAGES[0], 0)).toBe(0);
    expect(overallFraction(STAGES[STAGES.length - 1], 1)).toBeCloseTo(1, 12);
    expect(overallFraction('inference', 0.5)).toBeGreaterThan(0.3);
    expect(overallFraction('unknown', 0.5)).toBe(0);
    expect(overallFraction('inference', NaN)).toBe(overallFraction('inference', 0));
  });
  it('backendLine adds threads for WASM only', () => {
    expect(backendLine('onnxruntime-web/wasm', 4)).toBe('onnxruntime-web/wasm · 4 threads');
    expect(backendLine('onnxruntime-web/wasm', 1)).toBe('onnxruntime-web/wasm · 1 thread');
    expect(backendLine('onnxruntime-web/webgpu', 4)).toBe('onnxruntime-web/webgpu');
  });
  it('shortSha, formatDuration, packageProgressText', () => {
    expect(shortSha('d490c5298858540104e3c2cf0a824c77bc9714d46cef92a1e5a97f25c51da069')).toBe('d490c5298858…');
    expect(shortSha('abc')).toBe('abc');
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(8240)).toBe('8.2 s');
    expect(formatDuration(125_000)).toBe('2 min 05 s');
    expect(formatDuration(-1)).toBe('–');
    expect(packageProgressText({ stage: 'onnx', loaded: 1_200_000, total: 1_620_713 })).toBe('reading the model 1.2/1.6 MB');
    expect(packageProgressText({ stage: 'verify' })).toBe('verifying sha256');
  });
  it('doneNote names the grid placements and an upright oblique run when the pipeline did them', () => {
    const inf = { step: 'inference', summary: '24 tile(s) of 96x96x48' };
    expect(doneNote(8240, 24, [{ step: 'resample', summary: 'trilinear a → b' }, inf])).toBe('Done in 8.2 s (24 tiles)');
    expect(doneNote(119_200, 48, [{ step: 'resample', summary: 'trilinear a → b' }, inf, inf])).toBe('Done in 1 min 59 s (48 tiles, 2 grid placements)');
    const oblique = { step: 'resample', summary: 'trilinear a → b', uprightFromTiltDeg: 15.6 };
    expect(doneNote(30_000, 60, [oblique, inf, oblique, inf])).toBe('Done in 30.0 s (60 tiles, 2 grid placements, oblique series run upright)');
  });
});

describe('height field (the CLI’s --height rule)', () => {
  it('accepts metres in range, also with a decimal comma; empty = none', () => {
    expect(parseHeightText('1.75')).toEqual({ heightM: 1.75, error: null });
    expect(parseHeightText(' 1,8 ')).toEqual({ heightM: 1.8, error: null });
    expect(parseHeightText('')).toEqual({ heightM: null, error: null });
    expect(parseHeightText(String(HEIGHT_RANGE_M[0]))).toEqual({ heightM: HEIGHT_RANGE_M[0], error: null });
  });
  it('refuses other values, saying why (and the metres value for centimetres)', () => {
    expect(parseHeightText('abc').error).toMatch(/number in metres/);
    expect(parseHeightText('175').error).toMatch(/in cm\? that is 1\.75 m/);
    expect(parseHeightText('3.5').heightM).toBeNull();
    expect(parseHeightText('0.1').error).toMatch(/metres/);
  });
});

describe('axialLevelZ: the measurement level of the axial view’s slice', () => {
  const g: VolumeGeometry = { dimensions: [8, 8, 11], spacing: [1, 1, 2.5], origin: [0, 0, -100], direction: [...IDENTITY] as Mat3 };
  it('snaps to the nearest slice centre on an axial stack (patient z, mm)', () => {
    expect(axialLevelZ(g, -100)).toEqual({ zMm: -100, slice: 0 });
    expect(axialLevelZ(g, -92.6)).toEqual({ zMm: -92.5, slice: 3 });
    expect(axialLevelZ(g, -92.5 + 1e-9).zMm).toBe(-92.5);
    // clamped to the first/last slice
    expect(axialLevelZ(g, -200)).toEqual({ zMm: -100, slice: 0 });
    expect(axialLevelZ(g, 0)).toEqual({ zMm: -75, slice: 10 });
  });
  it('feet-first stacks (k towards the feet) snap too', () => {
    const ff: VolumeGeometry = { ...g, origin: [0, 0, -75], direction: [1, 0, 0, 0, 1, 0, 0, 0, -1] };
    expect(axialLevelZ(ff, -80.1)).toEqual({ zMm: -80, slice: 2 });
    expect(indexToWorld(ff, [0, 0, 2])[2]).toBe(-80);
  });
  it('tilted grids keep the focal z (clamped to the volume’s z range)', () => {
    const c = Math.cos(0.2);
    const s = Math.sin(0.2);
    const tilted: VolumeGeometry = { ...g, direction: [1, 0, 0, 0, c, s, 0, -s, c] };
    const r = axialLevelZ(tilted, -90.3);
    expect(r.zMm).toBe(-90.3);
    expect(r.slice).toBeUndefined();
  });
});

describe('pickPackageFiles', () => {
  it('finds the manifest and the ONNX file in either order', () => {
    const m = { name: 'manifest.json' };
    const o = { name: 'model.ONNX' };
    expect(pickPackageFiles([o, m])).toEqual({ manifest: m, onnx: o });
  });
  it('refuses anything but one of each, naming the files', () => {
    expect(() => pickPackageFiles([{ name: 'model.onnx' }])).toThrow(/two files.*got model\.onnx/);
    expect(() => pickPackageFiles([])).toThrow(/no file/);
    expect(() => pickPackageFiles([{ name: 'a.json' }, { name: 'b.json' }, { name: 'm.onnx' }])).toThrow(/a\.json, b\.json, m\.onnx/);
  });
});
