/**
 * Model packages for the CLI: models/<name>/ holds manifest.json + the ONNX file it names (default model.onnx).
 * The default package is the first folder of <repo>/models (sorted by name) that has a manifest.json;
 * PSOASVIEW_MODELS_DIR overrides the folder searched.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PsoasError } from '../../core/errors';

/** The repository root (two levels above src/cli/commands). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function modelsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PSOASVIEW_MODELS_DIR ? path.resolve(env.PSOASVIEW_MODELS_DIR) : path.join(REPO_ROOT, 'models');
}

/** The first model package (folder with manifest.json) in `dir`, sorted by name; throws BAD_MODEL if none. */
export async function findDefaultModel(dir: string = modelsDir()): Promise<string> {
  let names: string[] = [];
  try {
    names = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  for (const n of names) {
    try {
      if ((await stat(path.join(dir, n, 'manifest.json'))).isFile()) return path.join(dir, n);
    } catch {
      /* not a package */
    }
  }
  throw new PsoasError(
    'BAD_MODEL',
    `No model package in ${dir} (each models/<name>/ needs manifest.json + model.onnx); give one with --model <dir>`,
    dir,
    dir,
  );
}

/** sha256 (hex) of a file. */
export async function sha256File(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

let version: Promise<string> | undefined;

/** The tool's own version, from the repository's package.json (read once per process: a batch asks per case). */
export function toolVersion(): Promise<string> {
  version ??= readFile(path.join(REPO_ROOT, 'package.json'), 'utf8').then(
    (t) => (JSON.parse(t) as { version?: string }).version ?? 'unknown',
    () => 'unknown',
  );
  return version;
}
