/**
 * Model packages: a folder models/<name>/ holding manifest.json and the ONNX file it names (default model.onnx).
 *
 * - The app lists the served packages from `/models/index.json` (written by vite-models-plugin.ts in dev and build).
 * - A package is loaded from a manifest URL (the ONNX path is resolved relative to it, same origin only), from a
 *   local file pair (manifest.json + .onnx File objects, for researchers), or from bytes already in memory.
 * - The ONNX bytes are VERIFIED against the manifest's sha256 (crypto.subtle) before anything uses them; a mismatch
 *   is PsoasError('BAD_MODEL') naming the package and both hashes.
 * - Downloaded bytes are cached (Cache Storage) under a key made of name + version + sha256, so the next run
 *   does not download them again (`fromCache`). Cached bytes are re-hashed before use.
 *
 * Runs in the browser main thread, in a worker and in Node 20 (fetch, Response, crypto.subtle are global there);
 * the cache is injected (CacheLike) so tests use a fake one.
 */
import { PsoasError, isPsoasError } from '../core/errors';
import { validateManifest, type ModelManifest } from '../pipeline/manifest';

/** One entry of /models/index.json. `path` = the manifest's URL relative to index.json. */
export interface ModelIndexEntry {
  name: string;
  version: string;
  path: string;
  /** sha256 (hex) of the ONNX file, as in its manifest. */
  sha256?: string;
  /** ONNX file size in bytes. */
  bytes?: number;
  description?: string;
}

export interface ModelIndex {
  models: ModelIndexEntry[];
}

/** Where a package comes from. */
export type ModelPackageSource =
  /** manifest.json URL (absolute, or relative to `baseUrl`); the ONNX is resolved relative to it. */
  | { url: string }
  /** A local pair picked by the user (File objects, or any Blob with a name given separately). */
  | { files: { manifest: Blob; onnx: Blob; manifestName?: string; onnxName?: string } }
  /**
   * Manifest object (parsed or not yet validated) and ONNX bytes already in memory. Through the inference client
   * the bytes' buffer is transferred to the worker (detached on the caller's side) when the view spans all of it.
   */
  | { manifest: unknown; onnx: ArrayBuffer | Uint8Array; source?: string };

/** The subset of the Cache Storage `Cache` interface used here (a fake in tests). Keys are URL strings. */
export interface CacheLike {
  match(key: string): Promise<Response | undefined>;
  put(key: string, response: Response): Promise<void>;
  delete(key: string): Promise<boolean>;
  keys?(): Promise<ReadonlyArray<{ url: string }>>;
}

export interface PackageProgress {
  stage: 'manifest' | 'onnx' | 'verify' | 'cache';
  /** Bytes so far (onnx download) */
  loaded?: number;
  /** Total bytes when known (Content-Length or file size). */
  total?: number;
}

export interface LoadPackageOptions {
  /** Resolves relative URLs (default: globalThis.location.href). In a worker pass the page's URL. */
  baseUrl?: string;
  /** Cache for downloaded bytes; `null` = no caching; default: Cache Storage 'psoasview-models-v1' when available. */
  cache?: CacheLike | null;
  fetch?: typeof fetch;
  /**
   * Accept a manifest without sha256 (the bytes cannot be verified, nor cached). Default false for URL packages;
   * local file pairs and in-memory packages are the user's own and always allowed.
   */
  allowUnverified?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: PackageProgress) => void;
}

export interface LoadedModelPackage {
  manifest: ModelManifest;
  /** The verified ONNX bytes (transfer this buffer to the worker / session). */
  onnx: ArrayBuffer;
  /** sha256 of `onnx`, lowercase hex. */
  sha256: string;
  /** True when the manifest gave a sha256 and the bytes match it. */
  verified: boolean;
  /** True when the ONNX bytes came from the cache (no download). */
  fromCache: boolean;
  /** Manifest URL or file name (used in messages). */
  source: string;
  /** ONNX URL or file name. */
  onnxSource: string;
  /** Milliseconds: manifest fetch/parse, ONNX download or cache read, hashing. */
  timings: { manifest: number; onnx: number; verify: number };
}

export const MODEL_CACHE_NAME = 'psoasview-models-v1';
const CACHE_PREFIX = '/__psoasview-model-cache/';

/** Lowercase hex sha256 of `bytes` (crypto.subtle: browser main thread, worker, Node 20). */
export async function sha256Hex(bytes: ArrayBuffer | Uint8Array): Promise<string> {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const digest = await crypto.subtle.digest('SHA-256', view as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function packageLabel(m: Pick<ModelManifest, 'name' | 'version'>): string {
  return `"${m.name}" version ${m.version}`;
}

/** Checks the manifest's sha256 field: 64 hex digits. Returns it lowercased, or undefined when absent. */
export function expectedSha256(manifest: ModelManifest, manifestSource: string): string | undefined {
  const s = manifest.sha256;
  if (s === undefined) return undefined;
  if (typeof s !== 'string' || !/^[0-9a-fA-F]{64}$/.test(s))
    throw new PsoasError(
      'BAD_MODEL',
      `Model package ${packageLabel(manifest)}: manifest ${manifestSource} has sha256 ${JSON.stringify(s)}, which is not 64 hex digits`,
      s,
      manifestSource,
    );
  return s.toLowerCase();
}

/**
 * Hashes `bytes` and compares with `expected` (hex). Returns the actual hash. Throws BAD_MODEL naming the package,
 * the ONNX file/URL, the manifest and both hashes on a mismatch.
 */
export async function verifySha256(
  bytes: ArrayBuffer | Uint8Array,
  expected: string | undefined,
  where: { manifest: Pick<ModelManifest, 'name' | 'version'>; manifestSource: string; onnxSource: string },
): Promise<string> {
  const actual = await sha256Hex(bytes);
  if (expected !== undefined && actual !== expected.toLowerCase())
    throw new PsoasError(
      'BAD_MODEL',
      `Model package ${packageLabel(where.manifest)}: ONNX file ${where.onnxSource} has sha256 ${actual}, but manifest ${where.manifestSource} says ${expected.toLowerCase()} (corrupt or wrong file; refusing to use it)`,
      { expected: expected.toLowerCase(), actual },
      where.onnxSource,
    );
  return actual;
}

/**
 * URL of the ONNX file named by a manifest: `onnx` (default 'model.onnx') relative to the manifest URL. Must stay on
 * the manifest's origin: a package may not pull code-like bytes from elsewhere (zero-footprint, hospital network).
 */
export function resolveOnnxUrl(manifestUrl: string, onnx: string | undefined): string {
  const name = onnx ?? 'model.onnx';
  const base = new URL(manifestUrl);
  let url: URL;
  try {
    url = new URL(name, base);
  } catch {
    throw new PsoasError('BAD_MODEL', `Model manifest ${manifestUrl}: onnx ${JSON.stringify(name)} is not a valid path`, name, manifestUrl);
  }
  if (url.origin !== base.origin)
    throw new PsoasError(
      'BAD_MODEL',
      `Model manifest ${manifestUrl}: onnx ${JSON.stringify(name)} points to another origin (${url.origin}); the ONNX file must sit next to its manifest`,
      name,
      manifestUrl,
    );
  return url.href;
}

/** Absolute URL of `url` against `baseUrl` (or the global location). */
export function absoluteUrl(url: string, baseUrl?: string): string {
  const base = baseUrl ?? (globalThis as { location?: { href: string } }).location?.href;
  try {
    return base ? new URL(url, base).href : new URL(url).href;
  } catch {
    throw new PsoasError('BAD_ARGUMENT', `Not a valid model URL: ${JSON.stringify(url)} (base ${base ?? 'none'})`, url);
  }
}

/** Cache key of a package's ONNX bytes: name + version + sha256 (a same-origin URL path, as Cache Storage wants). */
export function cacheKeyFor(manifest: Pick<ModelManifest, 'name' | 'version'>, sha256: string): string {
  return `${CACHE_PREFIX}${encodeURIComponent(manifest.name)}/${encodeURIComponent(manifest.version)}/${sha256.toLowerCase()}.onnx`;
}

/** The browser's Cache Storage bucket for models, or null where there is none (Node, insecure context). */
export async function openModelCache(): Promise<CacheLike | null> {
  const cs = (globalThis as { caches?: CacheStorage }).caches;
  if (!cs) return null;
  try {
    return (await cs.open(MODEL_CACHE_NAME)) as unknown as CacheLike;
  } catch {
    return null; // e.g. opaque origin, storage disabled: work without a cache
  }
}

async function fetchOk(f: typeof fetch, url: string, what: string, signal?: AbortSignal): Promise<Response> {
  let res: Response;
  try {
    res = await f(url, { signal, cache: 'no-cache' });
  } catch (e) {
    if ((e as { name?: string }).name === 'AbortError') throw e;
    throw new PsoasError('BAD_MODEL', `Could not download ${what} ${url}: ${e instanceof Error ? e.message : String(e)}`, url, url);
  }
  if (!res.ok) throw new PsoasError('BAD_MODEL', `Could not download ${what} ${url}: HTTP ${res.status} ${res.statusText}`.trim(), `${url} → ${res.status}`, url);
  return res;
}

/** Reads a response body with byte progress. */
async function readBody(res: Response, onProgress?: (loaded: number, total?: number) => void): Promise<ArrayBuffer> {
  const len = Number(res.headers.get('content-length'));
  const total = Number.isFinite(len) && len > 0 ? len : undefined;
  if (!res.body || !onProgress) return res.arrayBuffer();
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onProgress(0, total);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress(loaded, total);
  }
  const out = new Uint8Array(loaded);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out.buffer;
}

function parseManifest(text: string, source: string): ModelManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new PsoasError('BAD_MODEL', `Model manifest ${source} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`, text.slice(0, 80), source);
  }
  return validateManifest(json, source);
}

function fileName(b: Blob, given: string | undefined, fallback: string): string {
  return given ?? (b as Partial<File>).name ?? fallback;
}

/** Exactly the bytes of a view (no copy when it spans its whole buffer). */
function ownBuffer(b: ArrayBuffer | Uint8Array): ArrayBuffer {
  if (b instanceof ArrayBuffer) return b;
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer) return b.buffer;
  return b.slice().buffer as ArrayBuffer;
}

/**
 * Loads a model package: manifest (validated), ONNX bytes (verified against the manifest's sha256, from the cache
 * when present there). See ModelPackageSource for the three kinds of source.
 */
export async function loadModelPackage(src: ModelPackageSource, opts: LoadPackageOptions = {}): Promise<LoadedModelPackage> {
  const f = opts.fetch ?? fetch;
  const progress = opts.onProgress;
  const t0 = performance.now();
  const timings = { manifest: 0, onnx: 0, verify: 0 };

  if ('files' in src) {
    const mName = fileName(src.files.manifest, src.files.manifestName, 'manifest.json');
    const oName = fileName(src.files.onnx, src.files.onnxName, 'model.onnx');
    progress?.({ stage: 'manifest' });
    const manifest = parseManifest(await src.files.manifest.text(), mName);
    timings.manifest = performance.now() - t0;
    const t1 = performance.now();
    progress?.({ stage: 'onnx', loaded: 0, total: src.files.onnx.size });
    const onnx = await src.files.onnx.arrayBuffer();
    progress?.({ stage: 'onnx', loaded: onnx.byteLength, total: src.files.onnx.size });
    timings.onnx = performance.now() - t1;
    return finishInMemory(manifest, onnx, mName, oName, timings, progress);
  }
  if ('manifest' in src) {
    const source = src.source ?? 'manifest.json';
    const manifest = validateManifest(src.manifest, source);
    timings.manifest = performance.now() - t0;
    return finishInMemory(manifest, ownBuffer(src.onnx), source, `${source} → ${manifest.onnx ?? 'model.onnx'}`, timings, progress);
  }

  // URL package.
  const manifestUrl = absoluteUrl(src.url, opts.baseUrl);
  progress?.({ stage: 'manifest' });
  const mres = await fetchOk(f, manifestUrl, 'model manifest', opts.signal);
  const manifest = parseManifest(await mres.text(), manifestUrl);
  timings.manifest = performance.now() - t0;
  const expected = expectedSha256(manifest, manifestUrl);
  const onnxUrl = resolveOnnxUrl(manifestUrl, manifest.onnx);
  if (expected === undefined && !opts.allowUnverified)
    throw new PsoasError(
      'BAD_MODEL',
      `Model package ${packageLabel(manifest)}: manifest ${manifestUrl} has no sha256, so ${onnxUrl} cannot be verified; add "sha256" to the manifest`,
      undefined,
      manifestUrl,
    );
  const cache = opts.cache === undefined ? await openModelCache() : opts.cache;
  const where = { manifest, manifestSource: manifestUrl, onnxSource: onnxUrl };

  // 1. Cache hit (only with a sha256 to key and re-check it).
  if (cache && expected) {
    const key = cacheKeyFor(manifest, expected);
    const t1 = performance.now();
    progress?.({ stage: 'cache' });
    const hit = await cache.match(key).catch(() => undefined);
    if (hit) {
      const bytes = await hit.arrayBuffer();
      timings.onnx = performance.now() - t1;
      const t2 = performance.now();
      progress?.({ stage: 'verify' });
      try {
        const sha = await verifySha256(bytes, expected, { ...where, onnxSource: `${onnxUrl} (cached copy)` });
        timings.verify = performance.now() - t2;
        return { manifest, onnx: bytes, sha256: sha, verified: true, fromCache: true, source: manifestUrl, onnxSource: onnxUrl, timings };
      } catch (e) {
        // A corrupt cache entry is not the package's fault: drop it and download afresh.
        if (!isPsoasError(e)) throw e;
        await cache.delete(key).catch(() => false);
      }
    }
  }

  // 2. Download.
  const t1 = performance.now();
  const ores = await fetchOk(f, onnxUrl, `ONNX model of package ${packageLabel(manifest)}`, opts.signal);
  const bytes = await readBody(ores, progress ? (loaded, total) => progress({ stage: 'onnx', loaded, total }) : undefined);
  timings.onnx = performance.now() - t1;
  const t2 = performance.now();
  progress?.({ stage: 'verify' });
  const sha = await verifySha256(bytes, expected, where);
  timings.verify = performance.now() - t2;

  // 3. Store (best effort: a full quota must not stop the segmentation) and drop older copies of this model.
  if (cache && expected) {
    progress?.({ stage: 'cache' });
    const key = cacheKeyFor(manifest, sha);
    try {
      await cache.put(key, new Response(bytes.slice(0), { headers: { 'content-type': 'application/octet-stream' } }));
      await pruneCache(cache, manifest.name, key);
    } catch {
      /* quota exceeded or storage disabled: continue uncached */
    }
  }
  return { manifest, onnx: bytes, sha256: sha, verified: expected !== undefined, fromCache: false, source: manifestUrl, onnxSource: onnxUrl, timings };
}

async function finishInMemory(
  manifest: ModelManifest,
  onnx: ArrayBuffer,
  source: string,
  onnxSource: string,
  timings: LoadedModelPackage['timings'],
  progress?: (p: PackageProgress) => void,
): Promise<LoadedModelPackage> {
  const expected = expectedSha256(manifest, source);
  const t = performance.now();
  progress?.({ stage: 'verify' });
  const sha = await verifySha256(onnx, expected, { manifest, manifestSource: source, onnxSource });
  timings.verify = performance.now() - t;
  return { manifest, onnx, sha256: sha, verified: expected !== undefined, fromCache: false, source, onnxSource, timings };
}

/** Deletes cached copies of model `name` other than `keepKey` (older versions / hashes). Returns how many. */
export async function pruneCache(cache: CacheLike, name: string, keepKey: string): Promise<number> {
  if (!cache.keys) return 0;
  const prefix = `${CACHE_PREFIX}${encodeURIComponent(name)}/`;
  let n = 0;
  for (const req of await cache.keys()) {
    const path = req.url.startsWith('/') ? req.url : new URL(req.url).pathname;
    if (path.startsWith(prefix) && path !== keepKey) {
      if (await cache.delete(req.url)) n++;
    }
  }
  return n;
}

/** Checks a parsed index.json. Throws BAD_MODEL naming the URL and the bad entry. */
export function validateModelIndex(json: unknown, source: string): ModelIndex {
  const bad = (what: string, v: unknown): never => {
    throw new PsoasError('BAD_MODEL', `Model index ${source}: ${what}`, v, source);
  };
  if (typeof json !== 'object' || json === null || !Array.isArray((json as ModelIndex).models)) bad('must be {"models": [...]}', json);
  const models = (json as ModelIndex).models;
  models.forEach((m, i) => {
    if (typeof m !== 'object' || m === null) bad(`models[${i}] must be an object`, m);
    for (const k of ['name', 'version', 'path'] as const)
      if (typeof m[k] !== 'string' || m[k].length === 0) bad(`models[${i}].${k} must be a non-empty string`, m[k]);
  });
  return { models };
}

/**
 * Lists the served packages: GET `indexUrl` (default '/models/index.json' against the page). Each entry's `path`
 * is returned as an absolute manifest URL, ready for loadModelPackage({url}).
 */
export async function listModelPackages(
  indexUrl = '/models/index.json',
  opts: Pick<LoadPackageOptions, 'baseUrl' | 'fetch' | 'signal'> = {},
): Promise<Array<ModelIndexEntry & { manifestUrl: string }>> {
  const url = absoluteUrl(indexUrl, opts.baseUrl);
  const res = await fetchOk(opts.fetch ?? fetch, url, 'model index', opts.signal);
  let json: unknown;
  try {
    json = await res.json();
  } catch (e) {
    throw new PsoasError('BAD_MODEL', `Model index ${url} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`, url, url);
  }
  return validateModelIndex(json, url).models.map((m) => ({ ...m, manifestUrl: new URL(m.path, url).href }));
}
