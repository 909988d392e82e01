/**
 * Playwright config for psoasview's end-to-end tests (e2e/*.spec.ts) against a real Orthanc.
 *
 * Order of events in `npx playwright test` (checked in Playwright 1.65's runner: plugins, i.e. the webServer,
 * are set up BEFORE globalSetup):
 *   1. webServer: `npm run build` then `vite preview` on 127.0.0.1:E2E_PORT (4173), whose /dicomweb proxy targets
 *      DICOMWEB_URL = http://127.0.0.1:ORTHANC_TEST_PORT/dicom-web (8043). The proxy connects lazily, per request,
 *      so Orthanc does not have to be up yet.
 *      A second preview of the same dist/ on E2E_DEAD_PACS_PORT proxies /dicomweb to a closed port (PACS down).
 *   2. globalSetup (e2e/global-setup.ts): phantom generation, Orthanc start, uploads, e2e/.fixtures.json.
 *   3. the specs, one worker (the machine has 2 cores; WebGL runs on SwiftShader, i.e. on the CPU).
 *   4. globalTeardown (stops Orthanc), then the webServer is stopped.
 *
 * Environment:
 *   E2E_PORT            preview server port (default 4173)
 *   E2E_DEAD_PACS_PORT  a second preview of the same build whose PACS is down (default E2E_PORT + 1)
 *   ORTHANC_TEST_PORT   test Orthanc port (default 8043; a developer's Orthanc usually sits on 8042)
 *   CHROMIUM_PATH       browser binary (default /usr/bin/chromium, Debian's package)
 *   E2E_SKIP_BUILD=1    preview the existing dist/ without rebuilding (faster local iteration)
 *   CI                  set: no reuse of an already running preview server, no retries hiding flakiness
 */
import { defineConfig, devices } from '@playwright/test';
import { DEAD_PACS_DICOMWEB_URL, E2E_DEAD_PACS_PORT, E2E_PORT } from './e2e/fixtures';
import { testPort } from './scripts/orthanc';

const e2ePort = E2E_PORT;
const orthancPort = testPort();
const dicomwebUrl = `http://127.0.0.1:${orthancPort}/dicom-web`;
const baseURL = `http://127.0.0.1:${e2ePort}`;
const isCI = !!process.env.CI;

const preview = (port: number) => `npx vite preview --host 127.0.0.1 --port ${port} --strictPort`;

export default defineConfig({
  testDir: './e2e',
  testMatch: '**/*.spec.ts',
  outputDir: './test-results',
  globalSetup: './e2e/global-setup.ts',
  globalTeardown: './e2e/global-teardown.ts',
  // Per test: loading a series, decoding JPEG 2000 in WASM and rendering three MPR viewports on SwiftShader.
  timeout: 120_000,
  expect: { timeout: 30_000 },
  // The whole suite (build, phantom, 29 specs) took 6 min here on 2 shared cores; a hung run must still end.
  globalTimeout: 45 * 60_000,
  workers: 1,
  fullyParallel: false,
  forbidOnly: isCI,
  retries: 0,
  reporter: [['list'], ['html', { outputFolder: 'playwright-report', open: 'never' }]],
  use: {
    baseURL,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    video: 'off',
    viewport: { width: 1280, height: 800 },
    actionTimeout: 20_000,
    navigationTimeout: 60_000,
  },
  projects: [
    {
      name: 'chromium',
      use: {
        ...devices['Desktop Chrome'],
        viewport: { width: 1280, height: 800 },
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
          // WebGL2 works headless through SwiftShader with no flag; --disable-gpu would remove WebGL entirely.
          args: [
            '--no-sandbox',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
          ],
        },
      },
    },
  ],
  // Plugins start in order and one after the other, so the second server previews the dist/ the first just built.
  webServer: [
    {
      command: process.env.E2E_SKIP_BUILD ? preview(e2ePort) : `npm run build && ${preview(e2ePort)}`,
      url: `${baseURL}/`,
      env: { DICOMWEB_URL: dicomwebUrl },
      reuseExistingServer: !isCI,
      // `vite build` took ~7 s here (rolldown); `npm run build` also prepares the sample study. Generous for CI.
      timeout: 10 * 60_000,
      // The build's chunk table is long; failures go to stderr, which is shown.
      stdout: 'ignore',
      stderr: 'pipe',
    },
    {
      // Same build, PACS down: /dicomweb proxies to a closed port (E2E_DEAD_PACS_PORT, default E2E_PORT + 1).
      command: preview(E2E_DEAD_PACS_PORT),
      url: `http://127.0.0.1:${E2E_DEAD_PACS_PORT}/`,
      env: { DICOMWEB_URL: DEAD_PACS_DICOMWEB_URL },
      reuseExistingServer: !isCI,
      timeout: 60_000,
      // Its proxy logs every refused connection to 127.0.0.1:9 — expected here, so not echoed.
      stderr: 'ignore',
    },
  ],
});
