/**
 * Playwright global teardown: stops the test Orthanc started by e2e/global-setup.ts (SIGTERM, then SIGKILL after
 * 15 s; its temporary storage folder is deleted) and removes e2e/.fixtures.json so no later run reads stale UIDs.
 * Runs even when the global setup failed half-way; stopping is keyed by the state file scripts/orthanc.ts keeps
 * per port, so it never signals a process it did not start.
 */
import * as fs from 'node:fs';
import type { FullConfig } from '@playwright/test';
import { stopOrthancOnPort, testPort } from '../scripts/orthanc';
import { FIXTURES_FILE } from './fixtures';

export default async function globalTeardown(_config: FullConfig): Promise<void> {
  const port = testPort();
  const t0 = performance.now();
  const stopped = await stopOrthancOnPort(port);
  if (stopped) console.log(`[e2e teardown] stopped Orthanc on port ${port} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (!process.env.E2E_KEEP_FIXTURES) fs.rmSync(FIXTURES_FILE, { force: true });
}
