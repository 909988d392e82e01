/** Node-only shims for running onnxruntime-web on Dawn's Node addon (scripts/bench-webgpu-node.ts). */

/**
 * onnxruntime-web's WASM memory is a SharedArrayBuffer and it uploads tiles with queue.writeBuffer(buffer, offset,
 * <view of that memory>, 0, size). Browsers accept shared views there; dawn.node 0.6.2 throws "Invalid argument"
 * (seen on the H200 and on SwiftShader), so every tile fell back to WASM. This patches GPUQueue.prototype.writeBuffer
 * to copy a shared typed-array view (from dataOffset, size elements) into plain memory first: what Chromium's
 * bindings do internally anyway.
 */
export function copySharedViewsOnWrite(queueClass: { prototype: Record<string, unknown> } | undefined): boolean {
  const queue = queueClass?.prototype;
  if (!queue || typeof queue.writeBuffer !== 'function') return false;
  const writeBuffer = queue.writeBuffer as (...a: unknown[]) => unknown;
  queue.writeBuffer = function (this: unknown, buffer: unknown, offset: number, data: unknown, dataOffset?: number, size?: number) {
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer && !(data instanceof DataView)) {
      const arr = data as unknown as { length: number; slice(a: number, b: number): unknown };
      const start = dataOffset ?? 0; // elements, for typed arrays
      const end = size === undefined ? arr.length : start + size;
      return writeBuffer.call(this, buffer, offset, arr.slice(start, end), 0, end - start);
    }
    return writeBuffer.call(this, buffer, offset, data, dataOffset, size);
  };
  return true;
}
