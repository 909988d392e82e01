/**
 * The import boundaries of docs/ARCHITECTURE.md, as enforced by eslint.config.js (no-restricted-imports).
 * Lints one-line snippets under made-up file names with the project's real config.
 */
import * as path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(__dirname, '..');
const eslint = new ESLint({ cwd: repoRoot });

async function restricted(file: string, source: string): Promise<string[]> {
  const [res] = await eslint.lintText(`${source}\nexport const used = x;\n`, { filePath: path.join(repoRoot, file) });
  return res.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

const cases: Array<[file: string, source: string, blocked: boolean]> = [
  ['src/core/a.ts', "import x from 'react';", true],
  ['src/core/a.ts', "import x from 'react-dom';", true],
  ['src/core/io/a.ts', "import x from '@cornerstonejs/core';", true],
  ['src/core/a.ts', "import x from 'zustand';", true],
  ['src/core/a.ts', "import * as x from 'comlink';", true],
  ['src/core/a.ts', "import x from 'node:fs';", true],
  ['src/core/io/a.ts', "import x from 'path';", true],
  ['src/core/io/a.ts', "import x from '../../app/store';", true],
  ['src/core/a.ts', "import x from '../viewer/render';", true],
  ['src/core/a.ts', "import x from '../sources/dicomweb';", true],
  ['src/core/phantom/a.ts', "import x from '../../cli/phantom';", true],
  ['src/core/a.ts', "import x from 'src/app/main';", true],
  ['src/core/io/a.ts', "import x from '../geometry';", false],
  ['src/core/io/a.ts', "import x from 'dcmjs';", false],
  ['src/core/io/a.test.ts', "import x from 'node:fs';", false],
  ['src/pipeline/a.ts', "import x from '../viewer/overlay';", true],
  ['src/pipeline/a.ts', "import x from '@cornerstonejs/tools';", true],
  ['src/pipeline/a.ts', "import x from '../core/volume';", false],
  ['src/measure/a.ts', "import x from 'react';", true],
  ['src/measure/a.ts', "import x from '../core/geometry';", false],
  ['src/sources/a.ts', "import x from 'react';", true],
  ['src/sources/a.ts', "import x from '@cornerstonejs/dicom-image-loader';", true],
  ['src/sources/a.ts', "import x from '../app/store';", true],
  ['src/sources/a.ts', "import x from '../core/io/dicom-read';", false],
  ['src/viewer/a.ts', "import x from '@cornerstonejs/core';", false],
  ['src/app/a.tsx', "import x from 'react';", false],
];

describe('eslint import boundaries', () => {
  it.each(cases)('%s: %s -> blocked=%s', async (file, source, blocked) => {
    const msgs = await restricted(file, source);
    expect(msgs.length > 0).toBe(blocked);
  });
});
