import { describe, expect, it } from 'vitest';
import { isPsoasError } from '../core/errors';
import { exampleManifest, isOrientationCode, validateManifest } from './manifest';

/** Deep-clones the example and applies an edit. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form JSON edits
type Json = Record<string, any>;

function edited(edit: (m: Json) => void): unknown {
  const m = JSON.parse(JSON.stringify(exampleManifest()));
  edit(m);
  return m;
}

function errorOf(json: unknown): { code: string; message: string } {
  try {
    validateManifest(json, 'models/x/manifest.json');
  } catch (e) {
    if (isPsoasError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected validateManifest to throw');
}

describe('validateManifest', () => {
  it('accepts the example and the training script layout (extra fields kept)', () => {
    const m = edited((m) => {
      m.sha256 = 'ab'.repeat(32);
      m.input.layout = 'NCDHW (D=k, H=j, W=i of the model grid)';
      m.webgpu = { max_storage_buffer_binding_bytes: 33554432 };
      m.provenance = { seed: 1 };
      m.input.orientation = 'ras';
    });
    const v = validateManifest(m);
    expect(v.input.patch_size).toEqual([64, 64, 64]);
    expect(v.input.orientation).toBe('RAS');
    expect((v as Json).webgpu.max_storage_buffer_binding_bytes).toBe(33554432);
  });

  it('accepts minmax normalisation and a numeric version', () => {
    const v = validateManifest(
      edited((m) => {
        m.input.intensity.normalise = 'minmax';
        m.version = 3;
      }),
    );
    expect(v.version).toBe('3');
  });

  const bad: Array<[string, (m: Json) => void, RegExp]> = [
    ['missing name', (m) => delete m.name, /name is missing/],
    ['missing input', (m) => delete m.input, /input is missing/],
    ['2D patch (wrong rank)', (m) => (m.input.patch_size = [64, 64]), /input\.patch_size has rank 2.*\[1, 1, D, H, W\]/],
    ['rank-4 input shape', (m) => (m.input.shape = [1, 1, 64, 64]), /input\.shape has rank 4/],
    ['non-integer patch', (m) => (m.input.patch_size = [64, 64.5, 64]), /input\.patch_size\[1\] must be an integer/],
    ['patch not a multiple', (m) => (m.input.patch_size = [64, 60, 64]), /patch_size\[1\] must be a multiple of input\.size_multiple=8/],
    ['zero spacing', (m) => (m.input.target_spacing_mm = [3, 0, 3]), /target_spacing_mm\[1\] must be > 0 mm/],
    ['2 input channels', (m) => (m.input.channels = 2), /input\.channels must be 1/],
    ['float16', (m) => (m.input.dtype = 'float16'), /input\.dtype must be 'float32'/],
    ['bad orientation', (m) => (m.input.orientation = 'LLS'), /input\.orientation must be 3 letters/],
    ['clip reversed', (m) => (m.input.intensity.clip = [300, -200]), /clip must have lo < hi/],
    ['std 0', (m) => (m.input.intensity.normalise = { mean: 0, std: 0 }), /normalise\.std must be > 0/],
    ['missing label', (m) => delete m.output.labels['2'], /output\.labels\["2"\] is missing/],
    ['label 0 not background', (m) => (m.output.labels['0'] = 'air'), /must be 'background'/],
    ['extra label', (m) => (m.output.labels['5'] = 'liver'), /output\.labels\["5"\] is not a channel index 0\.\.2/],
    ['bad activation', (m) => (m.output.activation = 'relu'), /output\.activation/],
    ['missing postprocess', (m) => delete m.postprocess, /postprocess is missing/],
    ['negative min size', (m) => (m.postprocess.min_size_ml = -1), /min_size_ml must be >= 0 mL/],
    ['negative component gap', (m) => (m.postprocess.component_gap_mm = -2), /component_gap_mm must be in \[0, 50\] mm/],
    ['hu_refine window reversed', (m) => (m.postprocess.hu_refine = { window: [150, -29], min_probability: 0.3 }), /hu_refine\.window must be \[low, high\]/],
    ['hu_refine p above 0.5', (m) => (m.postprocess.hu_refine = { window: [-29, 150], min_probability: 0.7 }), /min_probability must be in \(0, 0\.5\]/],
    ['hu_refine extend_within_mm not positive', (m) => (m.postprocess.hu_refine = { window: [-29, 150], min_probability: 0.4, extend_within_mm: 0 }), /hu_refine\.extend_within_mm .*in \(0, 50\] mm/],
    ['hu_refine partial_volume_low not a boolean', (m) => (m.postprocess.hu_refine = { window: [-29, 150], min_probability: 0.4, partial_volume_low: 'yes' }), /hu_refine\.partial_volume_low must be true or false/],
    ['foreground_threshold below 0.5', (m) => (m.postprocess.foreground_threshold = 0.4), /foreground_threshold must be in \[0\.5, 1\)/],
    ['foreground_threshold 1', (m) => (m.postprocess.foreground_threshold = 1), /foreground_threshold must be in \[0\.5, 1\)/],
    ['overlap 1', (m) => (m.sliding_window.overlap = 1), /overlap must be in \[0, 1\)/],
    ['blending', (m) => (m.sliding_window.blending = 'median'), /blending/],
    ['align_to_patient_axes not a boolean', (m) => (m.input.align_to_patient_axes = 1), /input\.align_to_patient_axes must be true or false/],
    ['outside_fill not a known fill', (m) => ((m.input as { outside_fill?: unknown }).outside_fill = 'air'), /input\.outside_fill must be 'clip_low', 'edge' or 'reflect'/],
    ['mirror_lr not a boolean', (m) => (m.sliding_window.mirror_lr = 'yes'), /sliding_window\.mirror_lr must be true or false/],
    ['grid_shifts empty', (m) => (m.sliding_window.grid_shifts = []), /sliding_window\.grid_shifts must be a list of 1 to 8 offsets/],
    ['grid_shifts of two numbers', (m) => (m.sliding_window.grid_shifts = [[0, 0, 0], [0.5, 0.5]]), /grid_shifts\[1\] must be \[x, y, z\]/],
    ['grid_shifts of a whole voxel', (m) => (m.sliding_window.grid_shifts = [[1, 0, 0]]), /grid_shifts\[0\] must be \[x, y, z\] with each in \(-1, 1\)/],
  ];
  it.each(bad)('rejects %s with BAD_MODEL naming the file and field', (_name, edit, re) => {
    const err = errorOf(edited(edit));
    expect(err.code).toBe('BAD_MODEL');
    expect(err.message).toMatch(re);
    expect(err.message).toContain('models/x/manifest.json');
  });

  it('rejects a non-object', () => {
    expect(errorOf([1, 2]).message).toMatch(/\(root\) must be an object/);
  });
});

describe('isOrientationCode', () => {
  it.each([
    ['LPS', true],
    ['RAS', true],
    ['SAR', true],
    ['ail', true],
    ['LPL', false],
    ['LP', false],
    ['XYZ', false],
  ])('%s → %s', (code, ok) => expect(isOrientationCode(code)).toBe(ok));
});
