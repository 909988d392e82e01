import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PsoasError } from '../../core/errors';
import { assignCaseIds, caseFromError, caseIds, reusableReport, formatBatchTable, parseInputList, summaryCsv, type BatchCase } from './batch';

describe('parseInputList', () => {
  it('one input per line: blank lines and # comments skipped, line numbers kept for messages', () => {
    const e = parseInputList('# cohort A\n/data/p1/ct.nii.gz\n\n  http://pacs/dicom-web/studies/1.2/series/3.4  \r\n#/data/p9\n/data/p2 dicom\n', 'l.txt');
    expect(e).toEqual([
      { input: '/data/p1/ct.nii.gz', from: 'l.txt:2' },
      { input: 'http://pacs/dicom-web/studies/1.2/series/3.4', from: 'l.txt:4' },
      { input: '/data/p2 dicom', from: 'l.txt:6' },
    ]);
  });

  it('a CSV with a header: per-case level, height and series; empty cells are absent', () => {
    const e = parseInputList('\uFEFFinput,level_z_mm,height_m,series\na.nii.gz,-120.5,1.72,\nb,,,1.2.3\nc,30\n', 'c.csv');
    expect(e).toEqual([
      { input: 'a.nii.gz', levelZmm: -120.5, heightM: 1.72, series: undefined, from: 'c.csv:2' },
      { input: 'b', levelZmm: undefined, heightM: undefined, series: '1.2.3', from: 'c.csv:3' },
      { input: 'c', levelZmm: 30, heightM: undefined, series: undefined, from: 'c.csv:4' },
    ]);
    expect(parseInputList('case,input\nS-001,/d/x\n,/d/y\n', 'c.csv').map((e) => e.caseId)).toEqual(['S-001', undefined]);
    // Column names in any case (a spreadsheet's "Input").
    expect(parseInputList('Input,Level_Z_mm\nx,5\n', 'c.csv')[0]).toMatchObject({ input: 'x', levelZmm: 5 });
    // Columns in any order.
    expect(parseInputList('height_m,level_z_mm,input\n1.6,10,x\n', 'c.csv')[0]).toMatchObject({ input: 'x', levelZmm: 10, heightM: 1.6 });
  });

  it.each([
    ['', 'names no input'],
    ['# only a comment\n', 'names no input'],
    ['input,level_z_mm\n', 'has a header but no case below it'],
    ['input,age\nx,3\n', 'c.csv:1: unknown column "age"'],
    ['input,input\nx,y\n', 'column "input" is given twice'],
    ['input,level_z_mm\nx,1,2\n', 'c.csv:2: 3 fields for 2 columns'],
    ['input,level_z_mm\n,5\n', 'c.csv:2: the input column is empty'],
    ['input,level_z_mm\nx,L3\n', 'c.csv:2: level_z_mm must be a number in mm (patient z), got "L3"'],
    ['input,level_z_mm,height_m\nx,0,175\n', 'c.csv:2: height_m must be the patient\'s height in metres'],
    ['input,height_m\nx,1.7\n', 'c.csv:2: height_m needs level_z_mm'],
    ['case,input\n../up,x\n', 'c.csv:2: case "../up" is not a folder name'],
    ['case,input\n.hidden,x\n', 'c.csv:2: case ".hidden" is not a folder name'],
    ['case,input\nSummary.CSV,x\n', 'c.csv:2: case "Summary.CSV" is the name of the batch\'s own table'],
    // a header gone wrong is not taken for an input
    ['"input","case"\nx,y\n', 'c.csv:1: ""input","case"" is neither an input nor a CSV header with an "input" column'],
    ['input;level_z_mm\nx;3\n', 'c.csv:1: "input;level_z_mm" is neither an input'],
    ['imput,case\nx,y\n', 'is neither an input nor a CSV header'],
    ['input,height_m,level_z_mm\nx,180,0\n', 'c.csv:2: height_m must be the patient\'s height in metres (0.4..2.8), got 180 (in cm? use height_m 1.80)'],
  ])('%j → usage error naming the file and line: %s', (text, message) => {
    let err: unknown;
    try {
      parseInputList(text, 'c.csv');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PsoasError);
    expect((err as PsoasError).code).toBe('BAD_ARGUMENT');
    expect((err as Error).message).toContain('--list c.csv');
    expect((err as Error).message).toContain(message);
  });
});

describe('parseInputList for measure', () => {
  it('needs an image and a mask per row', () => {
    expect(parseInputList('image,mask,level_z_mm\n/d/ct.nii.gz,/d/seg.nii.gz,-80\n', 'p.csv', 'measure')).toEqual([
      { input: '/d/ct.nii.gz', mask: '/d/seg.nii.gz', levelZmm: -80, heightM: undefined, series: undefined, from: 'p.csv:2' },
    ]);
    expect(() => parseInputList('/d/ct.nii.gz\n', 'p.csv', 'measure')).toThrow('--list p.csv:1: the header lacks column(s) image, mask');
    expect(() => parseInputList('image,mask\n/d/ct.nii.gz,\n', 'p.csv', 'measure')).toThrow('--list p.csv:2: the mask column is empty');
    expect(() => parseInputList('input,mask\nx,y\n', 'p.csv', 'measure')).toThrow('the header lacks column(s) image');
    expect(() => parseInputList('image,mask,input\nx,y,z\n', 'p.csv', 'measure')).toThrow('unknown column "input"');
  });
});

describe('caseIds', () => {
  it.each([
    [['/d/a.nii.gz', '/d/b.nii', '/d/dicom/'], ['a', 'b', 'dicom']],
    // same file name in patient folders: parents prepended until they differ, for those only
    [['/d/P001/CT/ct.nii.gz', '/d/P002/CT/ct.nii.gz', '/d/x.nii.gz'], ['P001_CT_ct', 'P002_CT_ct', 'x']],
    [['/d/P001/series', '/e/P001/series'], ['d_P001_series', 'e_P001_series']],
    // the same input twice
    [['/d/a.nii.gz', '/d/a.nii.gz'], ['a', 'a-2']],
    // DICOMweb: the last UID of the URL (series, else study)
    [['http://h/dicom-web/studies/1.2.3/series/4.5.6', 'https://h/dicom-web/studies/7.8?x=1'], ['4.5.6', '7.8']],
    // characters outside [A-Za-z0-9._-], leading dots and dashes, the batch's own file names
    [['/d/pat ient#1.nii.gz', '/d/.hidden.nii', '/d/--x.nii', '/d/summary.csv'], ['pat_ient_1', 'hidden', 'x', 'case_summary.csv']],
    // names that differ only in case are one folder on macOS and Windows
    [['/d/P1/CT', '/d/P2/ct'], ['P1_CT', 'P2_ct']],
  ])('%j → %j', (inputs, ids) => {
    expect(caseIds(inputs)).toEqual(ids);
  });

  it('gives distinct, filesystem-safe names for 200 inputs with colliding parts', () => {
    const inputs = Array.from({ length: 200 }, (_, i) => path.join('/cohort', `site${i % 3}`, `p${i % 50}`, 'ct.nii.gz'));
    const ids = caseIds(inputs);
    expect(new Set(ids).size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
    // (site, p) repeats with period 150: input i + 150 is input i again, and only those take a suffix.
    expect(ids.filter((id) => /-2$/.test(id))).toHaveLength(50);
    expect(ids[150]).toBe(`${ids[0]}-2`);
    expect(ids[0]).toBe('site0_p0_ct');
  });
});

describe('assignCaseIds', () => {
  it('takes the case column where given, derives the rest, and refuses a name given to two inputs', () => {
    const e = (input: string, caseId?: string, from = 'l.csv:2') => ({ input, caseId, from });
    expect(assignCaseIds([e('/d/P1/ct.nii.gz', 'S-1'), e('/d/P2/ct.nii.gz'), e('/d/P3/ct.nii.gz')])).toEqual(['S-1', 'P2_ct', 'P3_ct']);
    expect(() => assignCaseIds([e('/d/a.nii.gz', 'b', 'l.csv:2'), e('/d/b.nii.gz', undefined, 'l.csv:3')])).toThrow(
      'case "b" is given to two inputs: /d/a.nii.gz (l.csv:2) and /d/b.nii.gz (l.csv:3)',
    );
    expect(() => assignCaseIds([e('/d/a.nii.gz', 'S1', 'l.csv:2'), e('/d/b.nii.gz', 's1', 'l.csv:3')])).toThrow(
      'case "s1" (and "S1", the same folder where case is ignored) is given to two inputs',
    );
  });
});

describe('summaryCsv', () => {
  const ok: BatchCase = {
    case: 'p1',
    input: '/d/p1, "baseline".nii.gz',
    status: 'ok',
    dir: 'p1',
    seconds: 12.3,
    level_z_mm: -100,
    height_m: 1.7,
    structures: {
      psoas_left: { present: true, volume_ml: 210.5, length_mm: 251.25, extent_mm: 240, max_csa_mm2: 1500, max_csa_z_mm: -150, mean_hu: 41.2, csa_at_level_mm2: 1200, truncated: false },
      psoas_right: { present: false },
    },
    tpa_cm2: 12,
    pmi_cm2_per_m2: 12 / 2.89,
    warnings: ['psoas_right: the model found nothing', 'x'],
  };
  it('one header and one row per case; quotes where needed; empty cells for what does not exist', () => {
    const failed = caseFromError('p2', { input: '/d/p2', from: 'argument 2' }, new PsoasError('NOT_CT', '/d/p2 is modality MR, not CT', 'MR', '/d/p2'), 0.04);
    const csv = summaryCsv([ok, failed], ['psoas_left', 'psoas_right']);
    const lines = csv.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const head = lines[0].split(',');
    expect(head.slice(0, 9)).toEqual(['case', 'status', 'reused', 'input', 'error_code', 'error', 'seconds', 'level_z_mm', 'height_m']);
    expect(head).toContain('psoas_left_volume_ml');
    expect(head).toContain('psoas_right_truncated');
    expect(head.at(-1)).toBe('warnings');
    expect(lines[1]).toBe(
      'p1,ok,false,"/d/p1, ""baseline"".nii.gz",,,12.3,-100,1.7,true,210.5,251.25,240,1500,-150,41.2,1200,false,false,,,,,,,,,12,4.152249135,psoas_right: the model found nothing | x',
    );
    expect(lines[2]).toBe(`p2,error,false,/d/p2,NOT_CT,"/d/p2 is modality MR, not CT",0,${','.repeat(2 + 2 * 9 + 2)}`);
    expect(lines.every((l) => l.match(/(?:^|,)(?:"(?:[^"]|"")*"|[^,]*)/g)?.length === head.length)).toBe(true);
  });

  it('the stdout table shows volume and length per side, absent sides and errors', () => {
    const failed = caseFromError('p2', { input: '/d/p2', from: 'argument 2' }, new Error('boom'), 1);
    const t = formatBatchTable([ok, failed], ['psoas_left', 'psoas_right']).split('\n');
    expect(t[0]).toMatch(/^case\s+status\s+left mL\s+left mm\s+right mL\s+right mm\s+seconds$/);
    expect(t[2]).toMatch(/^p1\s+ok\s+210\.50\s+251\.3\s+absent\s+–\s+12\.3$/);
    expect(t[3]).toMatch(/^p2\s+error ERROR\s+–\s+–\s+–\s+–\s+1\.0$/);
  });
});

describe('reusableReport (--resume)', () => {
  it('keeps a result only for the same model, input, level, height and reference, with its mask file present', async () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'psoasview-resume-'));
    try {
      const json = path.join(d, 'measurements.json');
      const mask = path.join(d, 'psoas-mask.nii.gz');
      const tool = { version: '1.2.3', formatVersion: 1 };
      const report = {
        format_version: 1,
        tool: { command: 'segment', version: '1.2.3' },
        model: { sha256: 'abc' },
        input: { source: '/d/ct.nii.gz' },
        options: { level_z_mm: -100, series: '1.2.3.4' },
        reference: { file: path.resolve('/d/ref.nii.gz') },
        structures: {},
      };
      writeFileSync(json, JSON.stringify(report));
      const entry = { input: '/d/ct.nii.gz', levelZmm: -100, ref: '/d/ref.nii.gz', series: '1.2.3.4', from: 'x' };
      expect(await reusableReport(json, mask, entry, 'abc', undefined, tool)).toBeUndefined(); // no mask file yet
      writeFileSync(mask, 'x');
      expect(await reusableReport(json, mask, entry, 'abc', undefined, tool)).toMatchObject({ model: { sha256: 'abc' } });
      // another psoasview (its measurements may differ) or another report format
      expect(await reusableReport(json, mask, entry, 'abc', undefined, { version: '1.2.4', formatVersion: 1 })).toBeUndefined();
      expect(await reusableReport(json, mask, entry, 'abc', undefined, { version: '1.2.3', formatVersion: 2 })).toBeUndefined();
      for (const changed of [
        { ...entry, input: '/d/other.nii.gz' },
        { ...entry, levelZmm: -90 },
        { ...entry, heightM: 1.7 },
        { ...entry, ref: undefined },
        { ...entry, ref: '/d/ref2.nii.gz' },
        { ...entry, series: '1.2.3.5' },
        { ...entry, series: undefined },
      ])
        expect(await reusableReport(json, mask, changed, 'abc', undefined, tool), JSON.stringify(changed)).toBeUndefined();
      expect(await reusableReport(json, mask, entry, 'def', undefined, tool)).toBeUndefined(); // another model
      // The reference's label values (--ref-map) are part of it too.
      writeFileSync(json, JSON.stringify({ ...report, reference: { ...report.reference, labels: { psoas_left: 1, psoas_right: 2 } } }));
      expect(await reusableReport(json, mask, entry, 'abc', { psoas_left: 1, psoas_right: 2 }, tool)).toBeDefined();
      expect(await reusableReport(json, mask, entry, 'abc', { psoas_left: 7, psoas_right: 9 }, tool)).toBeUndefined();
      writeFileSync(json, '{ not json');
      expect(await reusableReport(json, mask, entry, 'abc', undefined, tool)).toBeUndefined();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
