/**
 * Test helper (imported by tests only): shows that `work` lets the event loop run, without timers.
 * Why not setInterval ticks: Node clamps a 0 ms timer to 1 ms, and a loop of fast macrotasks can finish inside it.
 */
import { nextTask } from './tasks';

/** Awaits `work` while a competing loop of nextTask() macrotasks runs; resolves to its result and the loop's count. */
export async function macrotasksDuring<T>(work: Promise<T>): Promise<{ result: T; ticks: number }> {
  let ticks = 0;
  let done = false;
  const rival = (async () => {
    while (!done) {
      await nextTask();
      ticks++;
    }
  })();
  try {
    return { result: await work, ticks };
  } finally {
    done = true;
    await rival;
  }
}
