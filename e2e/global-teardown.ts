/**
 * Playwright global teardown: stops the test Orthanc started by e2e/global-setup.ts (SIGTERM, then SIGKILL after
 * 15 s; its temporary storage folder is deleted) and removes e2e/.fixtures.json so no later run reads stale UIDs.
 * Runs even when the global setup failed half-way; stopping is keyed by the state file scripts/orthanc.ts keeps
 * per port, so it never signals a process it did not start. Releases the run lock (see e2e/fixtures.ts).
 */
import type { FullConfig } from '@playwright/test';
import { stopOrthancOnPort, testPort } from '../scripts/orthanc';
import { releaseRunLock } from './fixtures';

export default async function globalTeardown(_config: FullConfig): Promise<void> {
  const port = testPort();
  const t0 = performance.now();
  // Only the Orthanc this run started (a concurrent run's Orthanc on the same port is left alone).
  const stopped = await stopOrthancOnPort(port, { onlyOwn: true });
  if (stopped) console.log(`[e2e teardown] stopped Orthanc on port ${port} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  releaseRunLock({ removeFixtures: !process.env.E2E_KEEP_FIXTURES });
}
