/**
 * Shared pieces of the `psoasview` commands: option parsing (node:util parseArgs, strict), number/label-map
 * parsing with messages that name the option and the offending value, output-folder handling and the I/O
 * interface the commands print through (so tests can capture it).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { mkdir, stat } from 'node:fs/promises';
import { PsoasError } from '../../core/errors';
import { HEIGHT_RANGE_M } from '../../measure';

/** Where a command writes: stdout for results (table or JSON), stderr for progress and errors. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

export const processIO: CliIO = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
};

/** A usage error (wrong/missing option): the CLI exits with status 2 and shows the command's usage line. */
export class UsageError extends PsoasError {
  constructor(message: string, value?: unknown) {
    super('BAD_ARGUMENT', message, value, 'command line');
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Strict parseArgs: unknown options and missing values become UsageError naming the option. */
export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    // node's messages already name the option ("Unknown option '--foo'", "Option '--out <value>' argument missing").
    const msg = e instanceof Error ? e.message.replace(/\. To specify a positional argument.*$/s, '') : String(e);
    throw new UsageError(`psoasview ${command}: ${msg}`, argv);
  }
}

/** The project's default label values (docs/ARCHITECTURE.md): patient's left = 1, right = 2. */
export const DEFAULT_LABEL_MAP: Readonly<Record<string, number>> = Object.freeze({ psoas_left: 1, psoas_right: 2 });

/**
 * Parses `--map psoas_left=7,psoas_right=9` into {psoas_left: 7, psoas_right: 9}.
 * Names: letters, digits, '_' and '-'; values: integers 1..255 (0 is background); no name or value twice.
 */
export function parseLabelMap(text: string, option = '--map'): Record<string, number> {
  const out: Record<string, number> = {};
  const seen = new Map<number, string>();
  const entries = text.split(',').map((s) => s.trim());
  if (text.trim() === '' || entries.some((e) => e === ''))
    throw new UsageError(`${option} "${text}": expected name=value pairs separated by commas, e.g. psoas_left=1,psoas_right=2`, text);
  for (const entry of entries) {
    const m = /^([A-Za-z][\w-]*)\s*=\s*(\S+)$/.exec(entry);
    if (!m) throw new UsageError(`${option} "${text}": "${entry}" is not name=value (e.g. psoas_left=1)`, entry);
    const [, name, raw] = m;
    const v = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isInteger(v) || v < 1 || v > 255)
      throw new UsageError(`${option} "${text}": label value of ${name} must be an integer 1..255 (0 is background), got "${raw}"`, raw);
    if (name in out) throw new UsageError(`${option} "${text}": ${name} is given twice`, name);
    if (seen.has(v)) throw new UsageError(`${option} "${text}": ${seen.get(v)} and ${name} both use label ${v}`, v);
    out[name] = v;
    seen.set(v, name);
  }
  return out;
}

/** A finite number from an option's text (`--level -120.5`), else a UsageError naming the option. */
export function parseNumberOption(option: string, text: string | undefined, unit: string): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) throw new UsageError(`${option} must be a number in ${unit}, got "${text}"`, text);
  return v;
}

/** Patient height (m) for the PMI; says so when it looks like cm. Range from src/measure (HEIGHT_RANGE_M). */
export function parseHeight(text: string | undefined): number | undefined {
  const h = parseNumberOption('--height', text, 'metres');
  if (h === undefined) return undefined;
  if (!(h >= HEIGHT_RANGE_M[0] && h <= HEIGHT_RANGE_M[1]))
    throw new UsageError(
      `--height must be the patient's height in metres (${HEIGHT_RANGE_M[0]}..${HEIGHT_RANGE_M[1]}), got ${text}` +
        (h > 100 ? ` (in cm? use --height ${(h / 100).toFixed(2)})` : ''),
      text,
    );
  return h;
}

/** Positive integer option (e.g. --threads). */
export function parseIntOption(option: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!/^\d+$/.test(text) || v < min || v > max) throw new UsageError(`${option} must be an integer ${min}..${max}, got "${text}"`, text);
  return v;
}

/** Creates the output folder (and parents); fails clearly when the path is an existing file. */
export async function ensureOutDir(dir: string | undefined, command: string): Promise<string> {
  if (!dir) throw new UsageError(`psoasview ${command}: --out <dir> is required (the folder the results are written to)`);
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) throw new PsoasError('BAD_ARGUMENT', `--out ${dir} exists and is not a folder`, dir, dir);
    return dir;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new PsoasError('BAD_ARGUMENT', `Cannot create the output folder ${dir}: ${(e as Error).message}`, dir, dir);
  }
  return dir;
}

/** Milliseconds since `t0`, rounded to 0.1 ms (for the timings block of measurements.json). */
export function since(t0: number): number {
  return round(performance.now() - t0, 1);
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * `--level <z mm>` and `--height <m>`, shared by `segment` and `measure`. The PMI needs both, so a height without a
 * level is a usage error rather than a silently missing figure.
 */
export function parseLevelAndHeight(values: { level?: string; height?: string }): { levelZmm?: number; heightM?: number } {
  const levelZmm = parseNumberOption('--level', values.level, 'mm (patient z)');
  const heightM = parseHeight(values.height);
  if (heightM !== undefined && levelZmm === undefined)
    throw new UsageError('--height needs --level <z mm>: the PMI is the psoas area at a level (e.g. L3) divided by height²');
  return { levelZmm, heightM };
}
