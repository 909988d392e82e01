/**
 * Cooperative scheduling for long loops on a thread that must stay responsive (the page's main thread, the
 * worker that has to see a cancel): do a bounded slice of work, then let the event loop run.
 */

/**
 * Resolves on a fresh macrotask, after pending messages and (on a page) any due frame. MessageChannel rather than
 * setTimeout, which browsers clamp to ≥ 4 ms once nested.
 */
export function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
  });
}

type Typed = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/**
 * A copy of `src`, made `chunk` elements per task (default 512 K elements: 1 MB of 16-bit data), so that copying a
 * whole CT (e.g. 512×512×300 int16 = 157 MB) does not freeze a page. Measured in the app: copying the sample's 52 MB
 * in one slice() was a 68 ms task plus a 51 ms GC; on a later machine, where writing to fresh memory is slower (page
 * faults), 8 MB chunks took 52–84 ms each, hence 1 MB.
 */
export async function copyInChunks<T extends Typed>(src: T, chunk = 1 << 19): Promise<T> {
  const dst = new (src.constructor as new (n: number) => T)(src.length);
  for (let a = 0; a < src.length; a += chunk) {
    if (a > 0) await nextTask();
    dst.set(src.subarray(a, Math.min(src.length, a + chunk)) as never, a);
  }
  return dst;
}
