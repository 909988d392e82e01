// ESLint flat config for psoasview: typescript-eslint's recommended (syntactic, no type information: fast on a
// 2-core machine; `tsc --noEmit` does the type checking), the two classic React hooks rules, and the import
// boundaries of docs/ARCHITECTURE.md enforced with no-restricted-imports.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

/** Packages that mean UI, rendering or worker plumbing: not allowed in pure computation. */
const UI_PACKAGES = [
  { name: 'react', message: 'No React here: this folder is pure computation (docs/ARCHITECTURE.md).' },
  { name: 'react-dom', message: 'No React here: this folder is pure computation (docs/ARCHITECTURE.md).' },
  { name: 'zustand', message: 'No UI state here: this folder is pure computation.' },
  { name: 'comlink', message: 'No worker plumbing here: wrap pure functions in src/app or src/viewer.' },
];
const NODE_IO = ['fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'path', 'node:path'].map((name) => ({
  name,
  message: 'No Node file-system access here: the same code runs in the browser. Take bytes/ArrayBuffers as input.',
}));
const CORNERSTONE = {
  group: ['@cornerstonejs/*'],
  message: 'No Cornerstone here: rendering belongs to src/viewer.',
};

/**
 * Imports of other src/ folders, relative ("../../app/store") or rooted ("src/app/…", "@/app/…").
 * `folders` are names directly under src/.
 */
function srcFolders(folders, why) {
  const alt = folders.join('|');
  return {
    regex: `^(?:(?:\\.\\./)+|(?:\\.\\./)*src/|@/)(?:${alt})(?:/|$)`,
    message: why,
  };
}

export default defineConfig(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'public/sample/**',
      'test-results/**',
      'playwright-report/**',
      '.cache/**',
      '.devkit/**', // scripts/device-kit.sh output: bundles for a GPU machine
      'training/**',
      'coverage/**',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'warn' },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Untyped third-party APIs (dcmjs, vtk.js) sometimes need `any`; visible, not fatal.
      '@typescript-eslint/no-explicit-any': 'warn',
      // `interface A extends B {}` names a type for callers; harmless.
      '@typescript-eslint/no-empty-object-type': ['error', { allowInterfaces: 'with-single-extends' }],
      // New in ESLint 10's recommended set; flags dead stores (`let x = 0` before branches that all assign).
      // Worth seeing, not worth failing the build over.
      'no-useless-assignment': 'warn',
      // `a && b()` / `c ? d() : e()` as statements are common idioms; a bare `a === b;` is still an error.
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
      // `declare namespace` is a type-only way to describe untyped UMD libraries; runtime namespaces stay banned.
      '@typescript-eslint/no-namespace': ['error', { allowDeclarations: true }],
    },
  },
  {
    // Plain JS (configs, bin/, scripts/*.mjs): TypeScript does not check them and `globals` is not installed;
    // Node/browser globals would be false positives of no-undef.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    rules: { 'no-undef': 'off' },
  },
  {
    files: ['src/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'warn',
    },
  },
  // ---- import boundaries (tests are exempt: they may read ../shared/data with fs and path) ----
  {
    files: ['src/core/**/*.{ts,tsx}'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...UI_PACKAGES, ...NODE_IO],
          patterns: [
            CORNERSTONE,
            srcFolders(
              ['app', 'viewer', 'sources', 'cli', 'pipeline', 'inference', 'measure'],
              'src/core imports nothing but other core files (docs/ARCHITECTURE.md).',
            ),
          ],
        },
      ],
    },
  },
  {
    files: ['src/pipeline/**/*.{ts,tsx}', 'src/measure/**/*.{ts,tsx}'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...UI_PACKAGES, ...NODE_IO],
          patterns: [
            CORNERSTONE,
            srcFolders(
              ['app', 'viewer', 'sources', 'cli'],
              'pipeline and measure depend on core only: no UI, no data sources, no CLI (docs/ARCHITECTURE.md).',
            ),
          ],
        },
      ],
    },
  },
  {
    files: ['src/sources/**/*.{ts,tsx}'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: UI_PACKAGES.filter((p) => p.name.startsWith('react')),
          patterns: [
            CORNERSTONE,
            srcFolders(['app', 'viewer'], 'data sources must not depend on the UI (docs/ARCHITECTURE.md).'),
          ],
        },
      ],
    },
  },
);
