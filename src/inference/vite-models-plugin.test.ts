import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tinyManifest } from '../pipeline/synthetic';
import { fileSha256, modelIndex, scanModels } from './vite-models-plugin';

const TINY = path.resolve(__dirname, 'fixtures/tiny-conv3d-softmax.onnx');
const TINY_BYTES = statSync(TINY).size;
const root = mkdtempSync(path.join(os.tmpdir(), 'psoas-models-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function pkg(dir: string, manifest: object | string | null, onnx: string | null = 'model.onnx') {
  mkdirSync(path.join(root, dir), { recursive: true });
  if (manifest !== null) writeFileSync(path.join(root, dir, 'manifest.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  if (onnx) copyFileSync(TINY, path.join(root, dir, onnx));
}

describe('scanModels', () => {
  it('lists valid packages with name, version, path, sha256, size; leaves out broken ones with a reason', () => {
    const sha = fileSha256(TINY);
    pkg('tiny', { ...tinyManifest(), onnx: 'model.onnx', sha256: sha });
    pkg('b-custom-name', { ...tinyManifest(), name: 'other', version: '2.0', onnx: 'net.onnx' }, 'net.onnx');
    pkg('no-manifest', null);
    pkg('bad-json', '{ nope');
    pkg('missing-onnx', { ...tinyManifest(), onnx: 'gone.onnx' }, null);
    pkg('escapes', { ...tinyManifest(), onnx: '../tiny/model.onnx' }, null);
    writeFileSync(path.join(root, 'README.md'), 'not a folder');

    const { packages, warnings } = scanModels(root);
    expect(modelIndex(packages)).toEqual({
      models: [
        { name: 'other', version: '2.0', path: 'b-custom-name/manifest.json', bytes: TINY_BYTES, sha256: undefined },
        { name: 'tiny-conv3d-softmax', version: 'test', path: 'tiny/manifest.json', bytes: TINY_BYTES, sha256: sha },
      ],
    });
    expect(packages.map((p) => p.files)).toEqual([['manifest.json', 'net.onnx'], ['manifest.json', 'model.onnx']]);
    expect(warnings).toHaveLength(4);
    expect(warnings.join('\n')).toMatch(/models\/bad-json\/ left out/);
    expect(warnings.join('\n')).toMatch(/models\/missing-onnx\/ left out: ONNX file gone\.onnx is missing/);
    expect(warnings.join('\n')).toMatch(/models\/escapes\/ left out: .*outside the package folder/);
    expect(warnings.join('\n')).toMatch(/models\/no-manifest\/ has no manifest\.json/);
  });

  it('an absent models folder gives an empty index', () => {
    expect(scanModels(path.join(root, 'nope'))).toEqual({ packages: [], warnings: [] });
  });
});
