/**
 * `psoasview` — the command-line tool for researchers and batch work (run it with `npx psoasview …` from a
 * checkout; bin/psoasview.mjs registers tsx and calls `main`).
 *
 *   psoasview segment <DICOM folder | .nii(.gz) | DICOMweb series URL> --out <dir> [--model <dir>]
 *   psoasview segment <input> <input> ... | --list <file> --out <dir> [--resume]   (a batch: commands/batch.ts)
 *   psoasview measure <image> --mask <mask> [--map psoas_left=<v>,psoas_right=<v>] --out <dir>
 *   psoasview phantom …        (delegates to src/cli/phantom.ts when present)
 *
 * Exit status: 0 success, 1 bad input or failure (message names the file/tag/URL), 2 bad command line.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeError, isPsoasError } from '../core/errors';
import { processIO, UsageError, type CliIO } from './commands/common';
import { measureCommand } from './commands/measure';
import { segmentCommand } from './commands/segment';

export const USAGE = `Usage: psoasview <command> [options]

Commands:
  segment <input> --out <dir>            segment the left/right psoas and measure them
  segment <input>... | --list <file>     the same for a cohort: one folder per case, summary.csv
  measure <image> --mask <m> --out <dir> measure an existing label map (from any tool)
  phantom ...                            generate a synthetic abdominal CT (see psoasview phantom --help)

<input>/<image>: a .nii/.nii.gz file, a folder of DICOM files, or a DICOMweb series URL
  http(s)://host/dicom-web/studies/<StudyInstanceUID>/series/<SeriesInstanceUID>

Run 'psoasview <command> --help' for the options of a command.
`;

const HERE = path.dirname(fileURLToPath(import.meta.url));

async function phantomCommand(argv: string[], io: CliIO): Promise<number> {
  const file = path.join(HERE, 'phantom.ts');
  if (!existsSync(file)) {
    io.err('psoasview phantom: not available in this checkout (src/cli/phantom.ts is missing)');
    return 1;
  }
  // phantom.ts is also a script of its own (`npm run phantom`); imported here it does not run by itself
  // (it checks process.argv[1]), and its exported entry point is called with the arguments.
  const mod = (await import(pathToFileURL(file).href)) as { runPhantomCli?: (a: string[]) => number | Promise<number> };
  if (typeof mod.runPhantomCli !== 'function') {
    io.err(`psoasview phantom: ${file} exports no runPhantomCli(argv); run it with \`npm run phantom -- …\``);
    return 1;
  }
  return await mod.runPhantomCli(argv);
}

/** Runs one command line (without `node psoasview`); returns the exit status. Never throws. */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'segment':
        return await segmentCommand(rest, io);
      case 'measure':
        return await measureCommand(rest, io);
      case 'phantom':
        return await phantomCommand(rest, io);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.out(USAGE);
        return command === undefined ? 2 : 0;
      case '--version':
      case '-v': {
        const { toolVersion } = await import('./commands/model');
        io.out(await toolVersion());
        return 0;
      }
      default:
        throw new UsageError(`psoasview: unknown command "${command}" (expected segment, measure or phantom)`, command);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}`);
      io.err(command === 'segment' || command === 'measure' ? `Run 'psoasview ${command} --help' for its options.` : USAGE);
      return 2;
    }
    // describeError appends the source in brackets; most messages name it already.
    const text = isPsoasError(e) && e.source && e.message.includes(e.source) ? e.message : describeError(e);
    io.err(`error${isPsoasError(e) ? ` [${e.code}]` : ''}: ${text}`);
    if (!isPsoasError(e) && e instanceof Error && process.env.PSOASVIEW_DEBUG) io.err(e.stack ?? '');
    return 1;
  }
}
