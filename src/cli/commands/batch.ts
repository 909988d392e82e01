/**
 * Batches for `psoasview segment` (several inputs and/or `--list <file>`, one model session) and `psoasview measure
 * --list` (image + mask pairs): one sub-folder per case and a cohort table.
 *
 *   <out>/<case>/psoas-mask.nii.gz (segment), <out>/<case>/measurements.json   as for one input
 *   <out>/summary.csv, <out>/summary.json        one row per case, rewritten after every case
 *
 * Why a mode of its own rather than a shell loop: the model is loaded and its checksum verified once; a case that
 * fails (unreadable folder, not CT, PACS down) is recorded with its error code and the run goes on, so one bad series
 * in a cohort does not lose the others; the table is what a researcher loads into R or pandas; and `--resume` keeps
 * the cases already done by the same model after an interruption.
 *
 * Units in the table as in measurements.json: mL, mm (patient LPS z for levels), mm², cm² (TPA), cm²/m² (PMI), HU.
 */
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describeError, isPsoasError, PsoasError } from '../../core/errors';
import type { StructureMeasurements } from '../../measure';
import { parseLevelAndHeight, round, UsageError, type CliIO } from './common';
import { isUrl, parseDicomWebUrl } from './input';
import { toolVersion } from './model';
import { formatTable, REPORT_FORMAT_VERSION, type MeasurementsReport, type ReportModel } from './report';

/** One case of a batch: the input and its own options (a level and a height belong to one patient). */
export interface BatchEntry {
  /** The CT (segment: `input` column; measure: `image`). */
  input: string;
  /** measure: the label map to measure on that CT. */
  mask?: string;
  /** A reference label map to compare the mask with (--ref, or the list's `ref` column). */
  ref?: string;
  levelZmm?: number;
  heightM?: number;
  series?: string;
  /** The case's folder name from the list's `case` column (e.g. a study ID), instead of one derived from the input. */
  caseId?: string;
  /** Where it was given, for messages: `list.csv:4` or `argument 2`. */
  from: string;
}

export type BatchCommand = 'segment' | 'measure';

/** Columns a `--list` CSV may have (header row), per command; the first one(s) are required (REQUIRED_COLUMNS). */
export const LIST_COLUMNS = {
  segment: ['input', 'case', 'level_z_mm', 'height_m', 'series', 'ref'],
  measure: ['image', 'mask', 'case', 'level_z_mm', 'height_m', 'series', 'ref'],
} as const;
const REQUIRED_COLUMNS: Record<BatchCommand, string[]> = { segment: ['input'], measure: ['image', 'mask'] };
type Column = (typeof LIST_COLUMNS)[BatchCommand][number];

/** A case folder name: letters, digits, '.', '_' and '-', not starting with '.', '_' or '-'. */
const CASE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Names in the batch's folder that are not cases (compared lower-cased). */
const RESERVED_NAMES = ['summary.csv', 'summary.json'];

/**
 * Parses a `--list` file. Two forms:
 * - segment only: one input per line (path or DICOMweb URL);
 * - a CSV whose first line is a header naming the required columns (segment: `input`; measure: `image` and `mask`)
 *   and any of case, level_z_mm, height_m, series, ref (comma-separated, no quoting: a path holding a comma cannot
 *   be given this way).
 * Blank lines and lines starting with '#' are skipped in both. Errors name the file and the line.
 */
export function parseInputList(text: string, file: string, command: BatchCommand = 'segment'): BatchEntry[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const rows: Array<{ line: number; text: string }> = [];
  lines.forEach((t, i) => {
    const s = t.trim();
    if (s !== '' && !s.startsWith('#')) rows.push({ line: i + 1, text: s });
  });
  const required = REQUIRED_COLUMNS[command];
  const columns: readonly string[] = LIST_COLUMNS[command];
  const expected =
    command === 'segment'
      ? 'one path or DICOMweb URL per line, or a CSV with an "input" column'
      : 'a CSV whose header names "image" and "mask" (one row per image and its label map)';
  if (rows.length === 0) throw new UsageError(`--list ${file} names no input (${expected})`, file);
  const header = rows[0].text.split(',').map((h) => h.trim().toLowerCase());
  const missing = required.filter((c) => !header.includes(c));
  if (command === 'segment' && missing.length) {
    // A plain list of inputs. A first line with CSV punctuation is a header gone wrong (quoted, ';'-separated, a
    // misspelt column), not an input: say so now rather than fail every row after the model has loaded.
    if (/[,;"\t]/.test(rows[0].text))
      throw new UsageError(
        `--list ${file}:${rows[0].line}: "${rows[0].text}" is neither an input nor a CSV header with an "input" column ` +
          `(columns: ${columns.join(', ')}; comma-separated, no quotes). A list of inputs has one path or URL per line.`,
        rows[0].text,
      );
    return rows.map((r) => ({ input: r.text, from: `${file}:${r.line}` }));
  }
  if (missing.length)
    throw new UsageError(`--list ${file}:${rows[0].line}: the header lacks column(s) ${missing.join(', ')} (expected ${expected}; got "${rows[0].text}")`, rows[0].text);

  for (const h of header)
    if (!columns.includes(h))
      throw new UsageError(`--list ${file}:${rows[0].line}: unknown column "${h}" (columns: ${columns.join(', ')}; required: ${required.join(', ')})`, h);
  const dup = header.find((h, i) => header.indexOf(h) !== i);
  if (dup) throw new UsageError(`--list ${file}:${rows[0].line}: column "${dup}" is given twice`, dup);
  const out: BatchEntry[] = [];
  for (const r of rows.slice(1)) {
    const where = `${file}:${r.line}`;
    const cells = r.text.split(',').map((c) => c.trim());
    if (cells.length > header.length)
      throw new UsageError(`--list ${where}: ${cells.length} fields for ${header.length} columns (${header.join(', ')}); inputs with commas cannot be listed`, r.text);
    const cell = (name: Column) => {
      const c = header.indexOf(name);
      return c >= 0 && cells[c] !== undefined && cells[c] !== '' ? cells[c] : undefined;
    };
    for (const c of required) if (!cell(c as Column)) throw new UsageError(`--list ${where}: the ${c} column is empty`, r.text);
    const entry: BatchEntry = { input: cell(required[0] as Column) as string, from: where };
    if (command === 'measure') entry.mask = cell('mask');
    try {
      Object.assign(entry, parseLevelAndHeight({ level: cell('level_z_mm'), height: cell('height_m') }));
    } catch (e) {
      // The command line's rules and messages, in the list's column names.
      const msg = (e as Error).message.replace(/--level( <z mm>)?/g, 'level_z_mm').replace(/--height/g, 'height_m');
      throw new UsageError(`--list ${where}: ${msg}`, r.text);
    }
    entry.series = cell('series');
    entry.ref = cell('ref');
    const id = cell('case');
    if (id !== undefined) {
      if (!CASE_ID.test(id) || id.length > 120)
        throw new UsageError(`--list ${where}: case "${id}" is not a folder name (letters, digits, '.', '_', '-'; up to 120; not starting with '.', '_' or '-')`, id);
      if (RESERVED_NAMES.includes(id.toLowerCase())) throw new UsageError(`--list ${where}: case "${id}" is the name of the batch's own table; choose another`, id);
      entry.caseId = id;
    }
    out.push(entry);
  }
  if (out.length === 0) throw new UsageError(`--list ${file} has a header but no case below it`, file);
  return out;
}

/** Path components (or, for a DICOMweb URL, its series or else study UID) that name a case, most specific last. */
function nameParts(input: string): string[] {
  if (isUrl(input)) {
    try {
      const ref = parseDicomWebUrl(input);
      return [ref.seriesInstanceUid ?? ref.studyInstanceUid];
    } catch {
      return [input]; // the case will fail with parseDicomWebUrl's message; it still needs a folder name
    }
  }
  const parts = path.resolve(input).split(path.sep).filter(Boolean);
  if (parts.length) parts[parts.length - 1] = parts[parts.length - 1].replace(/\.nii(\.gz)?$/i, '');
  return parts;
}

const sanitize = (s: string) => {
  const n = s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '') || 'case';
  return RESERVED_NAMES.includes(n.toLowerCase()) ? `case_${n}` : n;
};

/**
 * A folder name per input: the file name without .nii(.gz), the folder's name, or the DICOMweb URL's last UID.
 * Where two inputs share it (…/P001/CT and …/P002/CT), parent folders are prepended until the names differ
 * (P001_CT, P002_CT); the same input given twice gets -2, -3. Only [A-Za-z0-9._-] are kept. Names are compared
 * lower-cased: on macOS and Windows CT and ct are one folder.
 */
export function caseIds(inputs: string[]): string[] {
  // Names are found for the distinct inputs; a repeated input then takes -2, -3 (it must not lengthen the others).
  const keyOf = (i: string) => nameParts(i).join('\u0000');
  const distinct = [...new Map(inputs.map((i) => [keyOf(i), nameParts(i)])).entries()];
  const parts = distinct.map(([, p]) => p);
  const depth = parts.map(() => 1);
  const name = (i: number) => sanitize(parts[i].slice(-depth[i]).join('_'));
  for (;;) {
    const groups = new Map<string, number[]>();
    parts.forEach((_, i) => {
      const key = name(i).toLowerCase();
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    let grew = false;
    for (const g of groups.values())
      if (g.length > 1)
        for (const i of g)
          if (depth[i] < parts[i].length) {
            depth[i]++;
            grew = true;
          }
    if (!grew) break;
  }
  const byKey = new Map(distinct.map(([k], i) => [k, name(i)]));
  const seen = new Map<string, number>();
  return inputs.map((input) => {
    const n = byKey.get(keyOf(input)) as string;
    const k = (seen.get(n.toLowerCase()) ?? 0) + 1;
    seen.set(n.toLowerCase(), k);
    return k === 1 ? n : `${n}-${k}`;
  });
}

/**
 * The folder of each case: the list's `case` column where given, else caseIds over the other inputs. A name used
 * twice (compared lower-cased) is a usage error naming both places (two cases must never write into one folder).
 */
export function assignCaseIds(entries: BatchEntry[]): string[] {
  const derived = caseIds(entries.filter((e) => e.caseId === undefined).map((e) => e.input));
  let d = 0;
  const ids = entries.map((e) => e.caseId ?? derived[d++]);
  const first = new Map<string, number>();
  ids.forEach((id, i) => {
    const j = first.get(id.toLowerCase());
    if (j !== undefined)
      throw new UsageError(
        `case "${id}"${ids[j] !== id ? ` (and "${ids[j]}", the same folder where case is ignored)` : ''} is given to two inputs: ` +
          `${entries[j].input} (${entries[j].from}) and ${entries[i].input} (${entries[i].from}); each case needs its own name`,
        id,
      );
    first.set(id.toLowerCase(), i);
  });
  return ids;
}

/** The per-side figures of the table (a subset of StructureMeasurements). */
export const SIDE_FIELDS = ['volume_ml', 'length_mm', 'extent_mm', 'max_csa_mm2', 'max_csa_z_mm', 'mean_hu', 'csa_at_level_mm2', 'truncated'] as const;
type SideField = (typeof SIDE_FIELDS)[number];
export type SideFigures = { present: boolean } & Partial<Record<SideField, number | boolean | null>>;

export interface BatchCase {
  case: string;
  input: string;
  status: 'ok' | 'error';
  /** True when --resume kept an earlier result of the same model, input and options instead of running again. */
  reused?: boolean;
  /** Sub-folder of the case (relative to the batch's --out). */
  dir: string;
  seconds: number;
  error?: { code: string; message: string };
  level_z_mm?: number;
  height_m?: number;
  structures?: Record<string, SideFigures>;
  tpa_cm2?: number;
  pmi_cm2_per_m2?: number;
  /** With a reference: per structure, the agreement figures of the table (AGREEMENT_FIELDS). */
  agreement?: Record<string, Partial<Record<AgreementField, number | null>>>;
  warnings?: string[];
}

/** The agreement figures of the table (a subset of measure/agreement.ts StructureAgreement). */
export const AGREEMENT_FIELDS = ['dice', 'volume_diff_percent', 'assd_mm', 'hd95_mm'] as const;
type AgreementField = (typeof AGREEMENT_FIELDS)[number];

export interface BatchSummary {
  format_version: 1;
  tool: { name: 'psoasview'; version: string; command: BatchCommand };
  created: string;
  /** segment: the model package that ran. */
  model?: ReportModel;
  /** segment: the inference backend; null for measure. */
  backend: string | null;
  /** segment: loading and verifying the model, once for the whole batch. */
  model_load_ms?: number;
  cases: BatchCase[];
  counts: { ok: number; error: number; reused: number; pending: number };
}

export const SUMMARY_CSV = 'summary.csv';
export const SUMMARY_JSON = 'summary.json';

function sideFigures(s: StructureMeasurements): SideFigures {
  const f: SideFigures = { present: s.present };
  if (!s.present) return f;
  for (const k of SIDE_FIELDS) {
    const v = (s as unknown as Record<string, unknown>)[k];
    if (typeof v === 'number' || typeof v === 'boolean' || v === null) f[k] = v;
  }
  return f;
}

/** The table row of a case that ran (or was kept), from its measurements.json. */
export function caseFromReport(id: string, entry: BatchEntry, report: MeasurementsReport, seconds: number, reused = false): BatchCase {
  const c: BatchCase = { case: id, input: entry.input, status: 'ok', dir: id, seconds: round(seconds, 1) };
  if (reused) c.reused = true;
  if (report.options.level_z_mm !== undefined) c.level_z_mm = report.options.level_z_mm;
  if (report.options.height_m !== undefined) c.height_m = report.options.height_m;
  c.structures = Object.fromEntries(Object.entries(report.structures).map(([n, s]) => [n, sideFigures(s)]));
  if (report.tpa_cm2 !== undefined) c.tpa_cm2 = report.tpa_cm2;
  if (report.pmi_cm2_per_m2 !== undefined) c.pmi_cm2_per_m2 = report.pmi_cm2_per_m2;
  if (report.agreement)
    c.agreement = Object.fromEntries(Object.entries(report.agreement).map(([n, a]) => [n, Object.fromEntries(AGREEMENT_FIELDS.map((f) => [f, a[f]]))]));
  c.warnings = report.warnings;
  return c;
}

export function caseFromError(id: string, entry: BatchEntry, e: unknown, seconds: number): BatchCase {
  const message = isPsoasError(e) && e.source && e.message.includes(e.source) ? e.message : describeError(e);
  return { case: id, input: entry.input, status: 'error', dir: id, seconds: round(seconds, 1), error: { code: isPsoasError(e) ? e.code : 'ERROR', message } };
}

const csvCell = (v: unknown): string => {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'number' ? String(+v.toPrecision(10)) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/**
 * summary.csv: one row per case, structures in `structureNames` order as `<name>_<field>` columns (e.g.
 * psoas_left_volume_ml); when any case was compared with a reference, `<name>_dice` etc. (AGREEMENT_FIELDS) follow.
 * Empty cells where a figure does not exist (failed case, absent structure, no level, no reference).
 */
export function summaryCsv(cases: BatchCase[], structureNames: string[]): string {
  const withRef = cases.some((c) => c.agreement);
  const head = ['case', 'status', 'reused', 'input', 'error_code', 'error', 'seconds', 'level_z_mm', 'height_m'];
  for (const n of structureNames) head.push(`${n}_present`, ...SIDE_FIELDS.map((f) => `${n}_${f}`));
  if (withRef) for (const n of structureNames) head.push(...AGREEMENT_FIELDS.map((f) => `${n}_${f}`));
  head.push('tpa_cm2', 'pmi_cm2_per_m2', 'warnings');
  const rows = cases.map((c) => {
    const row: unknown[] = [c.case, c.status, !!c.reused, c.input, c.error?.code, c.error?.message, c.seconds, c.level_z_mm, c.height_m];
    for (const n of structureNames) {
      const s = c.structures?.[n];
      row.push(s ? s.present : undefined, ...SIDE_FIELDS.map((f) => s?.[f]));
    }
    if (withRef) for (const n of structureNames) row.push(...AGREEMENT_FIELDS.map((f) => c.agreement?.[n]?.[f]));
    row.push(c.tpa_cm2, c.pmi_cm2_per_m2, c.warnings?.join(' | '));
    return row.map(csvCell).join(',');
  });
  return [head.join(','), ...rows].join('\n') + '\n';
}

/** Writes through a temporary file and a rename, so an interrupted run never leaves half a table. */
export async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

const sameLabels = (a: Record<string, number> | undefined, b: Record<string, number>) =>
  !!a && Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v);

/**
 * For --resume: the measurements.json of an earlier run of this case, when it was made by the same psoasview version
 * and model (sha256) from the same input and series, with the same level, height and reference (file and labels),
 * and its mask file is there; else undefined (the case runs again).
 */
export async function reusableReport(
  file: string,
  maskFile: string,
  entry: BatchEntry,
  sha256: string,
  refLabels?: Record<string, number>,
  tool?: { version: string; formatVersion: number },
): Promise<MeasurementsReport | undefined> {
  const current = tool ?? { version: await toolVersion(), formatVersion: REPORT_FORMAT_VERSION };
  let r: MeasurementsReport;
  try {
    r = JSON.parse(await readFile(file, 'utf8')) as MeasurementsReport;
    if (!(await stat(maskFile)).isFile()) return undefined;
  } catch {
    return undefined;
  }
  const same =
    r?.tool?.command === 'segment' &&
    r.tool.version === current.version &&
    r.format_version === current.formatVersion &&
    r.options?.series === entry.series &&
    r.model?.sha256 === sha256 &&
    r.input?.source === entry.input &&
    r.options?.level_z_mm === entry.levelZmm &&
    r.options?.height_m === entry.heightM &&
    r.reference?.file === (entry.ref === undefined ? undefined : path.resolve(entry.ref)) &&
    (entry.ref === undefined || refLabels === undefined || sameLabels(r.reference?.labels, refLabels)) &&
    !!r.structures;
  return same ? r : undefined;
}

const absolute = (p: string) => (isUrl(p) ? p : path.resolve(p));

/** The inputs of a batch from the command line: positionals first, then the --list file's rows. */
export async function batchEntries(positionals: string[], listFile: string | undefined, command: BatchCommand): Promise<BatchEntry[]> {
  const entries: BatchEntry[] = positionals.map((input, i) => ({ input: absolute(input), from: `argument ${i + 1}` }));
  if (listFile !== undefined) {
    let text: string;
    try {
      text = await readFile(listFile, 'utf8');
    } catch (e) {
      throw new PsoasError('BAD_ARGUMENT', `Cannot read --list ${listFile}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, listFile, listFile);
    }
    // Relative paths are taken from the working directory (as on the command line) and stored absolute, so that the
    // reports say which file was read and --resume from another directory does not match other files.
    for (const e of parseInputList(text, listFile, command)) {
      e.input = absolute(e.input);
      if (e.mask !== undefined) e.mask = absolute(e.mask);
      if (e.ref !== undefined) e.ref = absolute(e.ref);
      entries.push(e);
    }
  }
  return entries;
}

/** Plain-text cohort table for stdout: one line per case. */
export function formatBatchTable(cases: BatchCase[], structureNames: string[]): string {
  const f = (x: unknown, d: number) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '–');
  const short = (n: string) => n.replace(/^psoas_/, '');
  const withRef = cases.some((c) => c.agreement);
  const head = [
    'case',
    'status',
    ...structureNames.flatMap((n) => [`${short(n)} mL`, `${short(n)} mm`]),
    ...(withRef ? structureNames.map((n) => `${short(n)} Dice`) : []),
    'seconds',
  ];
  const rows = cases.map((c) => [
    c.case,
    c.status === 'error' ? `error ${c.error?.code ?? ''}` : c.reused ? 'ok (kept)' : 'ok',
    ...structureNames.flatMap((n) => {
      const s = c.structures?.[n];
      return s && !s.present ? ['absent', '–'] : [f(s?.volume_ml, 2), f(s?.length_mm, 1)];
    }),
    ...(withRef ? structureNames.map((n) => f(c.agreement?.[n]?.dice, 4)) : []),
    f(c.seconds, 1),
  ]);
  return formatTable(head, rows, (c) => c < 2).join('\n');
}

export interface CohortOptions {
  command: BatchCommand;
  model?: ReportModel;
  backend: string | null;
  modelLoadMs?: number;
  /** Table columns: one group per structure, in this order. */
  structureNames: string[];
  /** What each case folder receives (for the closing message). */
  files: string[];
  /** Runs one case into its folder (the folder is made by the case when it has something to write). */
  runCase: (entry: BatchEntry, caseDir: string, progress: (t: string) => void) => Promise<MeasurementsReport>;
  /** --resume: an earlier result to keep for this case, or undefined to run it. */
  reuse?: (entry: BatchEntry, caseDir: string) => Promise<MeasurementsReport | undefined>;
  json: boolean;
  progress: (t: string) => void;
  io: CliIO;
}

/**
 * The batch loop shared by `segment` and `measure`: one case after the other into <out>/<case>/, an error recorded
 * and the next case run, summary.csv/json rewritten after every case. Returns the exit status: 1 if any case failed.
 */
export async function runCohort(entries: BatchEntry[], outDir: string, o: CohortOptions): Promise<number> {
  const { progress, io } = o;
  const ids = assignCaseIds(entries);
  const summary: BatchSummary = {
    format_version: 1,
    tool: { name: 'psoasview', version: await toolVersion(), command: o.command },
    created: new Date().toISOString(),
    ...(o.model ? { model: o.model } : {}),
    backend: o.backend,
    ...(o.modelLoadMs !== undefined ? { model_load_ms: o.modelLoadMs } : {}),
    cases: [],
    counts: { ok: 0, error: 0, reused: 0, pending: entries.length },
  };
  const save = async () => {
    const c = summary.cases;
    summary.counts = {
      ok: c.filter((x) => x.status === 'ok').length,
      error: c.filter((x) => x.status === 'error').length,
      reused: c.filter((x) => x.reused).length,
      pending: entries.length - c.length,
    };
    await writeAtomic(path.join(outDir, SUMMARY_JSON), JSON.stringify(summary, null, 2) + '\n');
    await writeAtomic(path.join(outDir, SUMMARY_CSV), summaryCsv(c, o.structureNames));
  };
  progress(`batch of ${entries.length} case(s) into ${outDir}`);
  for (let n = 0; n < entries.length; n++) {
    const entry = entries[n];
    const id = ids[n];
    const caseDir = path.join(outDir, id);
    const t0 = performance.now();
    progress(`[${n + 1}/${entries.length}] ${id}: ${entry.input}${entry.mask ? ` + ${entry.mask}` : ''}`);
    let row: BatchCase;
    try {
      const kept = o.reuse ? await o.reuse(entry, caseDir) : undefined;
      if (kept) {
        progress('  kept: measurements.json of the same model, input and options is already there (--resume)');
        // seconds: those of the run that made it
        row = caseFromReport(id, entry, kept, ((kept.timings_ms?.total ?? 0) - (kept.timings_ms?.model_load ?? 0)) / 1000, true);
      } else {
        row = caseFromReport(id, entry, await o.runCase(entry, caseDir, (s) => progress(`  ${s}`)), (performance.now() - t0) / 1000);
      }
    } catch (e) {
      row = caseFromError(id, entry, e, (performance.now() - t0) / 1000);
      progress(`  error [${row.error?.code}]: ${row.error?.message}`);
    }
    summary.cases.push(row);
    await save();
  }
  const failed = summary.cases.filter((c) => c.status === 'error');
  io.out(
    o.json
      ? JSON.stringify(summary, null, 2)
      : `${formatBatchTable(summary.cases, o.structureNames)}\n\nwrote   ${path.join(outDir, SUMMARY_CSV)}\n        ${path.join(outDir, SUMMARY_JSON)}\n        ${o.files.map((f) => `<case>/${f}`).join(', ')}`,
  );
  if (failed.length) {
    io.err(`error: ${failed.length} of ${entries.length} case(s) failed (the others are written${o.command === 'segment' ? '; rerun with --resume to keep them' : ''}):`);
    for (const c of failed) io.err(`  ${c.case} (${c.input}): [${c.error?.code}] ${c.error?.message}`);
    return 1;
  }
  return 0;
}
