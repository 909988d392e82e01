/**
 * Vite plugin (Node side, used by vite.config.ts): serves the model packages of `models/` at `/models/`.
 *
 * - `/models/index.json` lists {name, version, path, sha256, bytes} for every `models/<dir>/` that has a valid
 *   manifest.json (path = the manifest's URL relative to index.json, e.g. "psoas-unet3d/manifest.json").
 * - `/models/<dir>/manifest.json` and the ONNX file it names are served as they are.
 * - dev: answered by a middleware, rescanned on every request (a freshly trained model shows up without restart);
 *   build: the same files are emitted into dist/models/ (so `vite preview` and any static server serve them).
 * Folders with a missing or invalid manifest are left out with a warning naming the folder and the problem.
 * The folder is `models/` of the project root, or $PSOAS_MODELS_DIR.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Plugin } from 'vite';
import { validateManifest, type ModelManifest } from '../pipeline/manifest';
import type { ModelIndex, ModelIndexEntry } from './registry';

export interface ScannedPackage {
  dir: string;
  manifest: ModelManifest;
  entry: ModelIndexEntry;
  /** Files to serve, relative to the package folder (manifest.json and the ONNX). */
  files: string[];
}

/** Scans `root` (the models folder). Returns the packages and one warning per folder left out. */
export function scanModels(root: string): { packages: ScannedPackage[]; warnings: string[] } {
  const packages: ScannedPackage[] = [];
  const warnings: string[] = [];
  if (!existsSync(root)) return { packages, warnings };
  for (const dir of readdirSync(root).sort()) {
    const folder = path.join(root, dir);
    if (!statSync(folder).isDirectory()) continue;
    const manifestPath = path.join(folder, 'manifest.json');
    if (!existsSync(manifestPath)) {
      warnings.push(`models/${dir}/ has no manifest.json: not listed`);
      continue;
    }
    try {
      const manifest = validateManifest(JSON.parse(readFileSync(manifestPath, 'utf8')), manifestPath);
      const onnxName = manifest.onnx ?? 'model.onnx';
      const onnxPath = path.resolve(folder, onnxName);
      if (path.relative(folder, onnxPath).startsWith('..') || path.isAbsolute(onnxName))
        throw new Error(`onnx "${onnxName}" is outside the package folder`);
      if (!existsSync(onnxPath)) throw new Error(`ONNX file ${onnxName} is missing`);
      const bytes = statSync(onnxPath).size;
      packages.push({
        dir,
        manifest,
        files: ['manifest.json', path.relative(folder, onnxPath).split(path.sep).join('/')],
        entry: {
          name: manifest.name,
          version: manifest.version,
          path: `${encodeURIComponent(dir)}/manifest.json`,
          sha256: manifest.sha256,
          bytes,
          ...(typeof manifest.description === 'string' ? { description: manifest.description } : {}),
        },
      });
    } catch (e) {
      warnings.push(`models/${dir}/ left out: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { packages, warnings };
}

export function modelIndex(packages: ScannedPackage[]): ModelIndex {
  return { models: packages.map((p) => p.entry) };
}

/** sha256 of a file (hex), for tools and tests. */
export function fileSha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export function modelsPlugin(opts: { dir?: string; base?: string } = {}): Plugin {
  let root = '';
  const base = (opts.base ?? '/models/').replace(/\/?$/, '/');
  return {
    name: 'psoasview-models',
    configResolved(config) {
      // PSOAS_MODELS_DIR: serve another folder of packages (e.g. a freshly trained one) without moving files.
      root = path.resolve(config.root, opts.dir ?? process.env.PSOAS_MODELS_DIR ?? 'models');
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = (req.url ?? '').split('?')[0];
        if (!url.startsWith(base)) return next();
        const rel = decodeURIComponent(url.slice(base.length));
        const { packages, warnings } = scanModels(root);
        for (const w of warnings) server.config.logger.warn(`[models] ${w}`, { timestamp: true });
        if (rel === 'index.json') {
          res.setHeader('Content-Type', 'application/json');
          res.setHeader('Cache-Control', 'no-cache');
          res.end(JSON.stringify(modelIndex(packages), null, 2));
          return;
        }
        // Only the files a listed package names, nothing else under models/ (no training data, no traversal).
        const slash = rel.indexOf('/');
        const pkg = packages.find((p) => p.dir === rel.slice(0, slash));
        const file = rel.slice(slash + 1);
        if (!pkg || !pkg.files.includes(file)) {
          // A clear 404 rather than the SPA's index.html (which would reach the registry as a "model").
          res.statusCode = 404;
          res.setHeader('Content-Type', 'text/plain');
          res.end(`No model package file ${url} (see ${base}index.json)`);
          return;
        }
        res.setHeader('Content-Type', file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
        res.setHeader('Cache-Control', 'no-cache');
        res.end(readFileSync(path.join(root, pkg.dir, file)));
      });
    },
    generateBundle() {
      const { packages, warnings } = scanModels(root);
      for (const w of warnings) this.warn(w);
      const out = base.replace(/^\//, '');
      this.emitFile({ type: 'asset', fileName: `${out}index.json`, source: JSON.stringify(modelIndex(packages), null, 2) });
      for (const p of packages)
        for (const f of p.files)
          this.emitFile({ type: 'asset', fileName: `${out}${p.dir}/${f}`, source: readFileSync(path.join(root, p.dir, f)) });
    },
  };
}
