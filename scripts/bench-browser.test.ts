/**
 * The /proc helpers of the browser bench (scripts/bench-browser.ts): how Chromium's processes are found and sized.
 * Linux only (the bench reads /proc); the browser run itself is exercised by `npm run bench`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { descendants, hwmBytes, parseCmdline, parsePpid, rssBytes } from './bench-browser';

describe('parsePpid', () => {
  it('reads the parent pid of this process from its own /proc/self/stat', () => {
    expect(parsePpid(readFileSync('/proc/self/stat', 'utf8'))).toBe(process.ppid);
  });

  it('is not fooled by spaces and parentheses in the command name', () => {
    expect(parsePpid('4242 (we (ird) na me) S 77 4242 4242 0 -1 4194560 130')).toBe(77);
  });
});

describe('parseCmdline', () => {
  it('reads the type from a NUL-separated command line (browser, utilities started by exec)', () => {
    expect(parseCmdline('/usr/lib/chromium/chromium\0--type=renderer\0--lang=en-US\0')).toEqual({ exe: '/usr/lib/chromium/chromium', type: 'renderer' });
  });

  it('reads the type from a zygote child, whose command line is one space-separated string', () => {
    expect(parseCmdline('/usr/lib/chromium/chromium --type=gpu-process --no-sandbox --headless')).toEqual({ exe: '/usr/lib/chromium/chromium', type: 'gpu-process' });
  });

  it('does not take --utility-sub-type for --type, and calls a process without --type the browser', () => {
    expect(parseCmdline('/usr/lib/chromium/chromium --utility-sub-type=network.mojom.NetworkService --type=utility').type).toBe('utility');
    expect(parseCmdline('/usr/lib/chromium/chromium\0--no-sandbox\0--headless\0').type).toBe('browser');
  });
});

describe('descendants / rssBytes / hwmBytes', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child?.pid) process.kill(-child.pid, 'SIGKILL');
    child = undefined;
  });

  it('finds a child and its grandchild with their parent pids and a resident set', async () => {
    // A node child (own process group, so afterEach ends both) that starts a `sleep` grandchild and prints its pid.
    child = spawn(process.execPath, ['-e', "const c = require('child_process').spawn('sleep', ['30']); console.log(c.pid); setInterval(() => {}, 1000);"], {
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const grandchild = await new Promise<number>((resolve) => child!.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
    const found = descendants(process.pid);
    const c = found.find((p) => p.pid === child!.pid);
    const g = found.find((p) => p.pid === grandchild);
    expect(c).toMatchObject({ ppid: process.pid, exe: process.execPath, type: 'browser' });
    expect(g).toMatchObject({ ppid: child.pid, exe: 'sleep' });
    expect(found.some((p) => p.pid === process.pid)).toBe(false);

    // A running node holds tens of MB; VmHWM is the peak, so never below the current RSS (both in bytes).
    const rss = rssBytes(child.pid!);
    expect(rss).toBeGreaterThan(10 * 1024 * 1024);
    expect(hwmBytes(child.pid!)).toBeGreaterThanOrEqual(rss);
  });

  it('gives 0 for a process that does not exist', () => {
    // pid_max is at most 2^22 on Linux, so this pid cannot exist.
    expect(rssBytes(2 ** 22 + 1)).toBe(0);
    expect(hwmBytes(2 ** 22 + 1)).toBe(0);
  });
});
