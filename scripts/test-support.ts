/**
 * Node-side helpers shared by the tests that need real tools (Orthanc, dcmtk) and the real JPEG 2000 series in
 * ../shared/data. Test code only: nothing in src/ imports this at run time.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, readdirSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** True when `bin` is on the PATH (or in /usr/sbin, where Debian puts Orthanc). */
export function onPath(bin: string): boolean {
  try {
    execFileSync('bash', ['-c', `command -v ${bin} || test -x /usr/sbin/${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A TCP port nobody listens on right now on 127.0.0.1 (bind to 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * Copies a folder of DICOM files (e.g. the shared J2K series, whose UIDs are empty) to `dstDir` and gives the copies
 * the study/series UIDs, per-file SOP instance UIDs (`<series>.<n>`), the CT Image Storage SOP class and a patient
 * name/ID with dcmtk's `dcmodify` — pixel data is not re-encoded. Returns the copies' paths in file-name order.
 */
export function copyWithUids(
  srcDir: string,
  dstDir: string,
  ids: { study: string; series: string; patientName: string; patientId: string },
): string[] {
  return readdirSync(srcDir)
    .sort()
    .map((f, k) => {
      const dst = path.join(dstDir, f);
      copyFileSync(path.join(srcDir, f), dst);
      chmodSync(dst, 0o644); // ../shared is read-only; dcmodify rewrites in place
      // prettier-ignore
      execFileSync('dcmodify', ['-nb', '-i', `(0020,000D)=${ids.study}`, '-i', `(0020,000E)=${ids.series}`,
        '-i', `(0008,0018)=${ids.series}.${k + 1}`, '-i', '(0008,0016)=1.2.840.10008.5.1.4.1.1.2',
        '-i', `(0010,0010)=${ids.patientName}`, '-i', `(0010,0020)=${ids.patientId}`, dst]);
      return dst;
    });
}
