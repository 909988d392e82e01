/**
 * scripts/orthanc.ts against the real Debian Orthanc: start on a free port, DICOMweb answers, upload (a file with
 * empty UIDs is rejected naming the file; a re-UID'd one is accepted), refusing a port held by another program,
 * stop. Skips with a printed reason when the Orthanc binary or ../shared/data is absent.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isPsoasError } from '../src/core/errors';
import {
  orthancConfig,
  parsePort,
  probePort,
  startOrthanc,
  testPort,
  uploadFiles,
  type OrthancHandle,
} from './orthanc';
import { freePort, onPath } from './test-support';

const haveOrthanc = onPath('Orthanc');
const haveDcmodify = onPath('dcmodify');
const j2kDir = path.resolve(__dirname, '..', '..', 'shared', 'data', 'real', 'abdomen-ct-dicom-20slices');
const haveJ2k = fs.existsSync(j2kDir);
if (!haveOrthanc) console.warn('[orthanc.test] skipping Orthanc tests: no Orthanc binary (bash scripts/install-system-deps.sh)');
if (!haveJ2k || !haveDcmodify) console.warn(`[orthanc.test] skipping upload tests: ${haveJ2k ? 'no dcmodify' : `${j2kDir} absent`}`);


describe('orthanc config and ports', () => {
  it('config: local, unauthenticated, DICOMweb on /dicom-web/, and no DicomWeb.Host', () => {
    const c = orthancConfig(8099, '/tmp/x') as Record<string, unknown> & { DicomWeb: Record<string, unknown> };
    expect(c.HttpPort).toBe(8099);
    expect(c.DicomServerEnabled).toBe(false);
    expect(c.RemoteAccessAllowed).toBe(false);
    expect(c.AuthenticationEnabled).toBe(false);
    expect(c.StorageDirectory).toBe('/tmp/x/storage');
    expect(c.DicomWeb).toEqual({ Enable: true, Root: '/dicom-web/', EnableWado: true });
    expect('Host' in c.DicomWeb).toBe(false);
  });

  it.each([
    ['8043', 8043],
    ['1', 1],
    ['65535', 65535],
  ])('parsePort(%s) = %d', (s, n) => expect(parsePort(s, 'X')).toBe(n));

  it.each(['0', '65536', '80.5', 'abc', ''])('parsePort(%j) throws BAD_ARGUMENT naming the value', (s) => {
    expect(() => parsePort(s, 'ORTHANC_TEST_PORT')).toThrow(`ORTHANC_TEST_PORT must be a TCP port 1..65535, got "${s}"`);
  });

  it('testPort defaults to 8043 and honours ORTHANC_TEST_PORT', () => {
    expect(testPort({})).toBe(8043);
    expect(testPort({ ORTHANC_TEST_PORT: '9100' })).toBe(9100);
  });

  it('probePort tells a free port from one held by a non-Orthanc program', async () => {
    const port = await freePort();
    expect(await probePort(port)).toBe('free');
    // A server that accepts and never answers HTTP.
    const sockets = new Set<net.Socket>();
    const srv = net.createServer((sock) => sockets.add(sock));
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()));
    try {
      expect(await probePort(port)).toBe('other');
      // startOrthanc refuses it instead of touching it.
      const err = await startOrthanc({ port }).catch((e: unknown) => e);
      expect(isPsoasError(err) && err.code).toBe('BAD_ARGUMENT');
      expect((err as Error).message).toContain(`Port ${port} on 127.0.0.1 is already used by another program`);
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => srv.close(r));
    }
  });
});

describe.skipIf(!haveOrthanc)('real Orthanc', () => {
  let h: OrthancHandle | null = null;
  afterAll(async () => {
    await h?.stop();
  });

  it('starts, answers /system and DICOMweb, uploads, stops', async () => {
    const port = await freePort();
    const t0 = performance.now();
    h = await startOrthanc({ port });
    const startMs = performance.now() - t0;
    expect(h.url).toBe(`http://127.0.0.1:${port}`);
    expect(h.dicomwebUrl).toBe(`http://127.0.0.1:${port}/dicom-web`);
    expect(await probePort(port)).toBe('orthanc');
    const sys = (await (await fetch(`${h.url}/system`)).json()) as { Version: string };
    expect(sys.Version).toMatch(/^\d+\.\d+/);
    const studies = await fetch(`${h.dicomwebUrl}/studies`, { headers: { Accept: 'application/dicom+json' } });
    expect(studies.status).toBeLessThan(300);
    console.log(`[orthanc.test] Orthanc ${sys.Version} ready in ${startMs.toFixed(0)} ms`);

    if (haveJ2k && haveDcmodify) {
      const src = fs.readdirSync(j2kDir).sort()[0];
      // The shared file has empty Study/Series/SOP UIDs: Orthanc rejects it and the error names the file.
      const bad = await uploadFiles(h.url, [path.join(j2kDir, src)]).catch((e: unknown) => e);
      expect(isPsoasError(bad) && bad.code).toBe('PACS_HTTP_ERROR');
      expect((bad as Error).message).toContain(src);

      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'orthanc-test-'));
      try {
        const f = path.join(tmp, 'a.dcm');
        fs.copyFileSync(path.join(j2kDir, src), f);
        execFileSync('dcmodify', ['-nb', '-i', '(0020,000D)=2.25.1', '-i', '(0020,000E)=2.25.2', '-i', '(0008,0018)=2.25.3', '-i', '(0008,0016)=1.2.840.10008.5.1.4.1.1.2', f]);
        const [up] = await uploadFiles(h.url, [f]);
        expect(up.status).toBe('Success');
        const series = (await (await fetch(`${h.url}/series/${up.parentSeries}`)).json()) as { MainDicomTags: { SeriesInstanceUID: string } };
        expect(series.MainDicomTags.SeriesInstanceUID).toBe('2.25.2');
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    }

    const workDir = h.workDir;
    const t1 = performance.now();
    await h.stop();
    h = null;
    console.log(`[orthanc.test] stopped in ${(performance.now() - t1).toFixed(0)} ms`);
    expect(await probePort(port)).toBe('free');
    expect(fs.existsSync(workDir)).toBe(false); // temp storage removed
  });
});
