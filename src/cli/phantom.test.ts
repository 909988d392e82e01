import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNifti } from '../core/io/nifti';
import { parseArgs, runPhantomCli } from './phantom';

const REPO = path.resolve(__dirname, '../..');

describe('phantom CLI arguments', () => {
  it('parses every option', () => {
    const a = parseArgs(['--out', 'o', '--seed', '12', '--preset', 'pelvis', '--spacing', '0.7', '0.7', '3', '--slice-order', 'feet-first', '--oblique', '--dims', '100', '90', '30', '--noise', '0', '--psoas-scale', '0.8']);
    expect(a.out).toBe('o');
    expect(a.options).toEqual({ seed: 12, preset: 'pelvis', spacing: [0.7, 0.7, 3], sliceOrder: 'feet-first', oblique: true, dims: [100, 90, 30], noiseSd: 0, psoasScale: 0.8 });
  });

  it('--oblique-tilt DEG X Y Z: an explicit tilt (axis components may be negative)', () => {
    expect(parseArgs(['--out', 'o', '--seed', '1', '--oblique-tilt', '25', '-1', '0', '0.5']).options.oblique).toEqual({ angleDeg: 25, axis: [-1, 0, 0.5] });
  });

  it.each([
    [['--seed', '1'], /--out DIR is required/],
    [['--out', 'x'], /--seed N is required/],
    [['--out', 'x', '--seed', 'abc'], /--seed: "abc" is not an integer/],
    [['--out', 'x', '--seed', '1', '--preset', 'knee'], /--preset: "knee" is not one of abdomen, chest, pelvis, truncated/],
    [['--out', 'x', '--seed', '1', '--spacing', '1', '0', '2'], /--spacing: "0" is not a positive number/],
    [['--out', 'x', '--seed', '1', '--dims', '10', '10'], /--dims needs 3 value/],
    [['--out', 'x', '--seed', '1', '--dims', '10', '10.5', '3'], /--dims: "10.5" is not a positive integer/],
    [['--out', 'x', '--seed', '1', '--slice-order', 'up'], /--slice-order: "up"/],
    [['--out', 'x', '--seed', '1', '--bogus'], /unknown argument "--bogus"/],
    [['--out', 'x', '--seed', '1', '--psoas-scale', '2'], /--psoas-scale: "2" is not a number in 0.5..1.5/],
    [['--out', 'x', '--seed', '1', '--psoas-scale'], /--psoas-scale: "undefined" is not a number/],
    [['--out', 'x', '--seed', '1', '--oblique-tilt', '20', '1', '0'], /--oblique-tilt needs 4 numbers \(DEG X Y Z\), got "20 1 0"/],
    [['--out', 'x', '--seed', '1', '--oblique-tilt', '20', '1', 'y', '0'], /--oblique-tilt needs 4 numbers/],
    [['--out', 'x', '--seed', '1', '--oblique-tilt', '60', '1', '0', '0'], /--oblique-tilt: angle "60" is not in \(0, 45\] degrees/],
    [['--out', 'x', '--seed', '1', '--oblique-tilt', '0', '1', '0', '0'], /--oblique-tilt: angle "0" is not in/],
    [['--out', 'x', '--seed', '1', '--oblique-tilt', '10', '0', '0', '0'], /--oblique-tilt: axis "0 0 0" has no direction/],
    [['--out', 'x', '--seed', '1', '--oblique', '--oblique-tilt', '10', '1', '0', '0'], /--oblique and --oblique-tilt: give one of them/],
  ])('%j → %s', (argv, msg) => {
    expect(() => parseArgs(argv as string[])).toThrow(msg as RegExp);
  });
});

describe('phantom CLI run', () => {
  it('writes dicom/, image.nii.gz, labels.nii.gz, truth.json and phantom.json', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'psoas-phantom-'));
    try {
      const rc = runPhantomCli(['--out', out, '--seed', '4', '--dims', '48', '48', '20', '--slice-order', 'feet-first']);
      expect(rc).toBe(0);
      const dcm = fs.readdirSync(path.join(out, 'dicom')).sort();
      expect(dcm.length).toBe(20);
      expect(dcm[0]).toBe('IM0001.dcm');
      const img = readNifti(fs.readFileSync(path.join(out, 'image.nii.gz')), 'image.nii.gz');
      const lab = readNifti(fs.readFileSync(path.join(out, 'labels.nii.gz')), 'labels.nii.gz');
      expect(img.geometry.dimensions).toEqual([48, 48, 20]);
      expect(img.data).toBeInstanceOf(Int16Array);
      expect(lab.units).toBe('label');
      expect(lab.data).toBeInstanceOf(Uint8Array);
      expect(lab.geometry.direction[8]).toBeCloseTo(1, 6); // feet-first: k towards the head
      const truth = JSON.parse(fs.readFileSync(path.join(out, 'truth.json'), 'utf8'));
      expect(Object.keys(truth)).toEqual(['psoas_left', 'psoas_right']);
      for (const side of ['psoas_left', 'psoas_right']) {
        expect(truth[side].volume_ml).toBeGreaterThan(50);
        expect(truth[side].length_mm).toBeGreaterThan(100);
        expect(truth[side].extent_mm).toBeGreaterThan(100);
      }
      const info = JSON.parse(fs.readFileSync(path.join(out, 'phantom.json'), 'utf8'));
      expect(info.studyInstanceUid).toMatch(/^2\.25\.\d+$/);
      expect(info.files.length).toBe(20);
      expect(info.labels['1']).toBe('psoas_left');
      expect(info.options.psoasScale).toBeUndefined();
      // the same seed with another psoas size: its own UIDs, the factor in phantom.json, a smaller muscle
      const out2 = path.join(out, 'small');
      expect(runPhantomCli(['--out', out2, '--seed', '4', '--dims', '48', '48', '20', '--slice-order', 'feet-first', '--psoas-scale', '0.7'])).toBe(0);
      const info2 = JSON.parse(fs.readFileSync(path.join(out2, 'phantom.json'), 'utf8'));
      expect(info2.options.psoasScale).toBe(0.7);
      expect(info2.studyInstanceUid).not.toBe(info.studyInstanceUid);
      const truth2 = JSON.parse(fs.readFileSync(path.join(out2, 'truth.json'), 'utf8'));
      expect(truth2.psoas_left.volume_ml).toBeLessThan(truth.psoas_left.volume_ml);
      // an explicit tilt: in phantom.json, its own UIDs, and the series direction turned by that angle
      const out3 = path.join(out, 'tilt');
      expect(runPhantomCli(['--out', out3, '--seed', '4', '--dims', '48', '48', '20', '--slice-order', 'feet-first', '--oblique-tilt', '30', '0', '1', '0'])).toBe(0);
      const info3 = JSON.parse(fs.readFileSync(path.join(out3, 'phantom.json'), 'utf8'));
      expect(info3.options.oblique).toEqual({ angleDeg: 30, axis: [0, 1, 0] });
      expect(info3.seriesInstanceUid).not.toBe(info.seriesInstanceUid);
      const lab3 = readNifti(fs.readFileSync(path.join(out3, 'labels.nii.gz')), 'labels.nii.gz');
      // feet-first k column (0, 0, 1) turned 30° about patient y: its z component is cos 30°
      expect(lab3.geometry.direction[8]).toBeCloseTo(Math.cos(Math.PI / 6), 6);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('bad arguments: non-zero exit and a clear message (real process)', () => {
    const r = spawnSync(path.join(REPO, 'node_modules', '.bin', 'tsx'), [path.join(REPO, 'src/cli/phantom.ts'), '--out', '/tmp/x', '--seed', '-3'], {
      encoding: 'utf8',
      cwd: REPO,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--seed: "-3" is not an integer/);
    expect(r.stderr).toMatch(/usage: npm run phantom/);
  });
});
