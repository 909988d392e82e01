import { defineConfig, type ProxyOptions } from 'vite';
import react from '@vitejs/plugin-react';
import { modelsPlugin } from './src/inference/vite-models-plugin';

/**
 * Vite config for the psoasview app (dev server, production build, preview server).
 *
 * - COOP/COEP make the page cross-origin isolated (SharedArrayBuffer, multithreaded onnxruntime WASM).
 *   Because of COEP every cross-origin resource would need CORP/CORS headers, so the PACS is proxied:
 *   `/dicomweb/*` on the app's own origin → `$DICOMWEB_URL/*` (default: a local Orthanc).
 * - Cornerstone/vtk.js fixes measured in /work/shared/notes/toolchain.md: the `events` polyfill for
 *   xmlbuilder2, dicom-image-loader excluded from pre-bundling with its CommonJS deps included, ES workers.
 * - appType 'spa': unknown HTML routes (e.g. /viewer?StudyInstanceUIDs=...) fall back to index.html in dev
 *   and preview, so PACS deep links work.
 */
const dicomwebTarget = process.env.DICOMWEB_URL ?? 'http://127.0.0.1:8042/dicom-web';

const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

const proxy: Record<string, ProxyOptions> = {
  '/dicomweb': {
    target: dicomwebTarget,
    changeOrigin: true,
    // '/dicomweb/studies?...' → '<target>/studies?...' (the target's own path prefix is kept by the proxy).
    rewrite: (p) => p.replace(/^\/dicomweb/, ''),
  },
};

export default defineConfig({
  appType: 'spa',
  plugins: [react(), modelsPlugin()],
  server: {
    headers: isolationHeaders,
    proxy,
    // Test reports and caches written during a dev session must not trigger page reloads.
    watch: { ignored: ['**/playwright-report/**', '**/test-results/**', '**/.cache/**', '**/dist/**', '**/training/**'] },
  },
  preview: { headers: isolationHeaders, proxy },
  worker: { format: 'es' },
  optimizeDeps: {
    exclude: ['@cornerstonejs/dicom-image-loader', 'onnxruntime-web'],
    include: [
      'events',
      'comlink',
      'dicom-parser',
      'pako',
      'globalthis',
      'lodash.clonedeep',
      '@cornerstonejs/codec-openjpeg/decodewasmjs',
      '@cornerstonejs/codec-charls/decodewasmjs',
      '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs',
    ],
  },
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 5000,
  },
});
