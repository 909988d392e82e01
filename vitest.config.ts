import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'scripts/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    pool: 'forks',
    // Vitest's default is CPUs - 1, i.e. ONE worker on a 2-core CI machine: the model's accuracy check
    // (scripts/eval-model.test.ts, ~4.5 min) then runs alone while the other files wait. Two workers let the many
    // single-threaded files run beside it (measured: see the README's test-suite durations).
    maxWorkers: 2,
  },
});
