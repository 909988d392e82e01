import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PsoasError } from '../core/errors';
import { tinyManifest } from '../pipeline/synthetic';
import {
  cacheKeyFor,
  listModelPackages,
  loadModelPackage,
  pruneCache,
  resolveOnnxUrl,
  sha256Hex,
  validateModelIndex,
  verifySha256,
  type CacheLike,
} from './registry';

const TINY = readFileSync(path.resolve(__dirname, 'fixtures/tiny-conv3d-softmax.onnx'));
const TINY_SHA = createHash('sha256').update(TINY).digest('hex');
const ORIGIN = 'http://127.0.0.1:4173';

/** In-memory Cache Storage stand-in; counts calls. */
class FakeCache implements CacheLike {
  store = new Map<string, Uint8Array>();
  puts = 0;
  async match(key: string) {
    const b = this.store.get(key);
    return b ? new Response(b.slice()) : undefined;
  }
  async put(key: string, res: Response) {
    this.puts++;
    this.store.set(key, new Uint8Array(await res.arrayBuffer()));
  }
  async delete(key: string) {
    return this.store.delete(key);
  }
  async keys() {
    return [...this.store.keys()].map((url) => ({ url }));
  }
}

/** fetch stand-in serving a fixed map of absolute URLs; records every request. */
function fakeFetch(files: Record<string, string | Uint8Array>) {
  const calls: string[] = [];
  const f = (async (input: RequestInfo | URL) => {
    const url = String(input);
    calls.push(url);
    const body = files[url];
    if (body === undefined) return new Response('not found', { status: 404, statusText: 'Not Found' });
    return new Response(typeof body === 'string' ? body : body.slice(), {
      status: 200,
      headers: { 'content-length': String(typeof body === 'string' ? body.length : body.byteLength) },
    });
  }) as typeof fetch;
  return { fetch: f, calls };
}

function tinyPackage(sha256: string | null = TINY_SHA, onnx = 'model.onnx') {
  const m = { ...tinyManifest(), onnx, ...(sha256 ? { sha256 } : {}) };
  return {
    [`${ORIGIN}/models/tiny/manifest.json`]: JSON.stringify(m),
    [`${ORIGIN}/models/tiny/${onnx}`]: new Uint8Array(TINY),
  };
}

describe('sha256', () => {
  it('matches node:crypto on the tiny model and on known vectors', async () => {
    expect(await sha256Hex(TINY)).toBe(TINY_SHA);
    expect(await sha256Hex(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(await sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('a mismatch is BAD_MODEL naming the package, the file and both hashes', async () => {
    const wrong = 'a'.repeat(64);
    const err = await verifySha256(TINY, wrong, {
      manifest: { name: 'psoas-unet3d', version: '1.2.0' },
      manifestSource: 'https://x/models/psoas-unet3d/manifest.json',
      onnxSource: 'https://x/models/psoas-unet3d/model.onnx',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PsoasError);
    const pe = err as PsoasError;
    expect(pe.code).toBe('BAD_MODEL');
    expect(pe.message).toContain('"psoas-unet3d" version 1.2.0');
    expect(pe.message).toContain('https://x/models/psoas-unet3d/model.onnx');
    expect(pe.message).toContain(TINY_SHA);
    expect(pe.message).toContain(wrong);
    expect(pe.value).toEqual({ expected: wrong, actual: TINY_SHA });
  });

  it('uppercase expected hash is accepted', async () => {
    const where = { manifest: { name: 'a', version: '1' }, manifestSource: 'm', onnxSource: 'o' };
    expect(await verifySha256(TINY, TINY_SHA.toUpperCase(), where)).toBe(TINY_SHA);
  });
});

describe('URL resolution', () => {
  it.each([
    ['http://h/models/a/manifest.json', undefined, 'http://h/models/a/model.onnx'],
    ['http://h/models/a/manifest.json', 'net.onnx', 'http://h/models/a/net.onnx'],
    ['http://h/models/a/manifest.json', 'weights/net v2.onnx', 'http://h/models/a/weights/net%20v2.onnx'],
    ['http://h/models/a/manifest.json?x=1', '../b/m.onnx', 'http://h/models/b/m.onnx'],
    ['http://h/app/models/a/manifest.json', '/models/a/m.onnx', 'http://h/models/a/m.onnx'],
  ])('%s + %s → %s', (manifestUrl, onnx, want) => {
    expect(resolveOnnxUrl(manifestUrl, onnx)).toBe(want);
  });

  it.each(['https://evil.example/model.onnx', '//evil.example/m.onnx'])('refuses an ONNX on another origin: %s', (onnx) => {
    expect(() => resolveOnnxUrl('http://h/models/a/manifest.json', onnx)).toThrow(/another origin/);
  });

  it('cache keys separate name, version and hash', () => {
    const a = cacheKeyFor({ name: 'psoas unet', version: '1.0' }, TINY_SHA);
    expect(a).toBe(`/__psoasview-model-cache/psoas%20unet/1.0/${TINY_SHA}.onnx`);
    expect(cacheKeyFor({ name: 'psoas unet', version: '1.1' }, TINY_SHA)).not.toBe(a);
    expect(cacheKeyFor({ name: 'psoas unet', version: '1.0' }, 'b'.repeat(64))).not.toBe(a);
  });
});

describe('loadModelPackage from a URL', () => {
  it('downloads, verifies, caches; the second load comes from the cache without downloading the ONNX', async () => {
    const { fetch, calls } = fakeFetch(tinyPackage());
    const cache = new FakeCache();
    const stages: string[] = [];
    const first = await loadModelPackage({ url: '/models/tiny/manifest.json' }, { baseUrl: `${ORIGIN}/viewer?x`, fetch, cache, onProgress: (p) => stages.push(p.stage) });
    expect(first.fromCache).toBe(false);
    expect(first.verified).toBe(true);
    expect(first.sha256).toBe(TINY_SHA);
    expect(first.onnx.byteLength).toBe(TINY.byteLength);
    expect(first.manifest.name).toBe('tiny-conv3d-softmax');
    expect(first.onnxSource).toBe(`${ORIGIN}/models/tiny/model.onnx`);
    expect(calls).toEqual([`${ORIGIN}/models/tiny/manifest.json`, `${ORIGIN}/models/tiny/model.onnx`]);
    expect(cache.puts).toBe(1);
    expect([...cache.store.keys()]).toEqual([cacheKeyFor(first.manifest, TINY_SHA)]);
    expect(stages).toContain('onnx');
    expect(stages).toContain('verify');

    const second = await loadModelPackage({ url: `${ORIGIN}/models/tiny/manifest.json` }, { fetch, cache });
    expect(second.fromCache).toBe(true);
    expect(second.sha256).toBe(TINY_SHA);
    expect(Buffer.from(second.onnx).equals(TINY)).toBe(true);
    // Only the (small) manifest was fetched again.
    expect(calls.slice(2)).toEqual([`${ORIGIN}/models/tiny/manifest.json`]);
  });

  it('a corrupt cache entry is dropped and the model downloaded again', async () => {
    const { fetch, calls } = fakeFetch(tinyPackage());
    const cache = new FakeCache();
    const key = cacheKeyFor(tinyManifest(), TINY_SHA);
    cache.store.set(key, new Uint8Array([1, 2, 3]));
    const r = await loadModelPackage({ url: `${ORIGIN}/models/tiny/manifest.json` }, { fetch, cache });
    expect(r.fromCache).toBe(false);
    expect(calls).toHaveLength(2);
    expect(cache.store.get(key)?.byteLength).toBe(TINY.byteLength);
  });

  it('a checksum mismatch is BAD_MODEL naming the package and both hashes, and nothing is cached', async () => {
    const wrong = '0'.repeat(64);
    const { fetch } = fakeFetch(tinyPackage(wrong));
    const cache = new FakeCache();
    const err = (await loadModelPackage({ url: `${ORIGIN}/models/tiny/manifest.json` }, { fetch, cache }).catch((e: unknown) => e)) as PsoasError;
    expect(err.code).toBe('BAD_MODEL');
    expect(err.message).toContain('"tiny-conv3d-softmax" version test');
    expect(err.message).toContain(`has sha256 ${TINY_SHA}`);
    expect(err.message).toContain(`says ${wrong}`);
    expect(err.message).toContain(`${ORIGIN}/models/tiny/model.onnx`);
    expect(cache.store.size).toBe(0);
  });

  it('a manifest without sha256 is refused unless allowUnverified (and then not cached)', async () => {
    const { fetch } = fakeFetch(tinyPackage(null));
    const cache = new FakeCache();
    await expect(loadModelPackage({ url: `${ORIGIN}/models/tiny/manifest.json` }, { fetch, cache })).rejects.toThrow(/has no sha256/);
    const r = await loadModelPackage({ url: `${ORIGIN}/models/tiny/manifest.json` }, { fetch, cache, allowUnverified: true });
    expect(r.verified).toBe(false);
    expect(r.sha256).toBe(TINY_SHA);
    expect(cache.store.size).toBe(0);
  });

  it.each([
    ['a malformed sha256', { sha256: 'xyz' }, /not 64 hex digits/],
    ['an invalid manifest (3 labels, 2 channels)', { output: { ...tinyManifest().output, channels: 2 } }, /output\.labels\["2"\]/],
  ])('%s is BAD_MODEL naming the manifest URL', async (_what, patch, re) => {
    const files = tinyPackage();
    const url = `${ORIGIN}/models/tiny/manifest.json`;
    files[url] = JSON.stringify({ ...JSON.parse(files[url] as string), ...patch });
    const { fetch } = fakeFetch(files);
    const err = (await loadModelPackage({ url }, { fetch, cache: null }).catch((e: unknown) => e)) as PsoasError;
    expect(err.code).toBe('BAD_MODEL');
    expect(err.message).toMatch(re);
    expect(err.message).toContain(url);
  });

  it('HTTP errors name the URL and status', async () => {
    const files = tinyPackage();
    delete files[`${ORIGIN}/models/tiny/model.onnx`];
    const { fetch } = fakeFetch(files);
    await expect(loadModelPackage({ url: `${ORIGIN}/models/tiny/manifest.json` }, { fetch, cache: null })).rejects.toThrow(
      `${ORIGIN}/models/tiny/model.onnx: HTTP 404 Not Found`,
    );
    await expect(loadModelPackage({ url: `${ORIGIN}/models/none/manifest.json` }, { fetch, cache: null })).rejects.toThrow(
      `Could not download model manifest ${ORIGIN}/models/none/manifest.json: HTTP 404`,
    );
  });
});

describe('loadModelPackage from local files and bytes', () => {
  it('verifies a File pair when the manifest has a sha256', async () => {
    const manifest = new File([JSON.stringify({ ...tinyManifest(), sha256: TINY_SHA })], 'manifest.json');
    const onnx = new File([TINY], 'tiny.onnx');
    const r = await loadModelPackage({ files: { manifest, onnx } });
    expect(r).toMatchObject({ verified: true, fromCache: false, sha256: TINY_SHA, source: 'manifest.json', onnxSource: 'tiny.onnx' });
  });

  it('rejects a File pair whose ONNX does not match, naming the file', async () => {
    const manifest = new File([JSON.stringify({ ...tinyManifest(), sha256: 'f'.repeat(64) })], 'manifest.json');
    const onnx = new File([TINY.subarray(0, 100)], 'truncated.onnx');
    await expect(loadModelPackage({ files: { manifest, onnx } })).rejects.toThrow(/truncated\.onnx has sha256 [0-9a-f]{64}, but manifest manifest\.json says f{64}/);
  });

  it('accepts in-memory bytes without sha256 (the user\'s own model), reporting verified=false', async () => {
    const r = await loadModelPackage({ manifest: tinyManifest(), onnx: new Uint8Array(TINY) });
    expect(r.verified).toBe(false);
    expect(r.sha256).toBe(TINY_SHA);
    expect(r.onnx.byteLength).toBe(TINY.byteLength);
  });
});

describe('model index', () => {
  it('lists packages with absolute manifest URLs', async () => {
    const index = { models: [{ name: 'psoas-unet3d', version: '1.0.0', path: 'psoas-unet3d/manifest.json', sha256: TINY_SHA }] };
    const { fetch } = fakeFetch({ [`${ORIGIN}/models/index.json`]: JSON.stringify(index) });
    const list = await listModelPackages('/models/index.json', { baseUrl: `${ORIGIN}/viewer`, fetch });
    expect(list).toEqual([{ ...index.models[0], manifestUrl: `${ORIGIN}/models/psoas-unet3d/manifest.json` }]);
  });

  it.each([
    [{}, /must be \{"models"/],
    [{ models: [{ name: 'a', version: '1' }] }, /models\[0\]\.path/],
    [{ models: [{ name: '', version: '1', path: 'a' }] }, /models\[0\]\.name/],
  ])('rejects %j', (json, re) => {
    expect(() => validateModelIndex(json, '/models/index.json')).toThrow(re);
  });

  it('pruneCache keeps only the current copy of a model', async () => {
    const cache = new FakeCache();
    const keep = cacheKeyFor({ name: 'm', version: '2' }, TINY_SHA);
    cache.store.set(cacheKeyFor({ name: 'm', version: '1' }, 'a'.repeat(64)), new Uint8Array(1));
    cache.store.set(keep, new Uint8Array(1));
    cache.store.set(cacheKeyFor({ name: 'other', version: '1' }, 'a'.repeat(64)), new Uint8Array(1));
    expect(await pruneCache(cache, 'm', keep)).toBe(1);
    expect([...cache.store.keys()].sort()).toEqual([keep, cacheKeyFor({ name: 'other', version: '1' }, 'a'.repeat(64))].sort());
  });
});
