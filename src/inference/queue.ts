/**
 * A serial queue: jobs run one after another in call order. onnxruntime sessions reject concurrent `run` calls
 * (see shared/notes/browser-runtime.md), so every call into a session goes through one of these.
 * A failing job rejects its own promise only; later jobs still run.
 */
export interface SerialQueue {
  <T>(job: () => Promise<T>): Promise<T>;
  /** Jobs queued or running. */
  readonly size: number;
}

export function createSerialQueue(): SerialQueue {
  let tail: Promise<unknown> = Promise.resolve();
  let size = 0;
  const enqueue = <T>(job: () => Promise<T>): Promise<T> => {
    size++;
    const result = tail.then(job);
    const done = () => {
      size--;
    };
    tail = result.then(done, done);
    return result;
  };
  Object.defineProperty(enqueue, 'size', { get: () => size });
  return enqueue as SerialQueue;
}
