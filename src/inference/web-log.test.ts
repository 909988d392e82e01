import { describe, expect, it } from 'vitest';
import { allNodesOn, captureConsole, parsePlacement } from './web-log';

const P = '[V:onnxruntime:, session_state.cc:1280 VerifyEachNodeIsAssignedToAnEp]';

describe('parsePlacement', () => {
  it('reads "All nodes placed on"', () => {
    const lines = ['noise', `${P} Node placements`, `${P}  All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 2`, 'after'];
    const p = parsePlacement(lines);
    expect(p).toEqual([{ provider: 'WebGpuExecutionProvider', count: 2, nodes: [] }]);
    expect(allNodesOn(p, 'WebGpu')).toBe(true);
  });

  it('reads a split placement with node lists, and takes the last report', () => {
    const lines = [
      `${P} Node placements`,
      `${P}  All nodes placed on [CPUExecutionProvider]. Number of nodes: 2`,
      `${P} Node placements`,
      `${P}  Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 1`,
      `${P}   Conv (conv_0)`,
      `${P}  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 2`,
      `${P}   Softmax (softmax_0)`,
      `${P}   ConvTranspose (up_1)`,
      'unrelated line',
    ];
    const p = parsePlacement(lines);
    expect(p).toEqual([
      { provider: 'WebGpuExecutionProvider', count: 1, nodes: ['Conv (conv_0)'] },
      { provider: 'CPUExecutionProvider', count: 2, nodes: ['Softmax (softmax_0)', 'ConvTranspose (up_1)'] },
    ]);
    expect(allNodesOn(p, 'WebGpu')).toBe(false);
  });

  it('null without a report (verbose off)', () => {
    expect(parsePlacement(['a', 'b'])).toBeNull();
    expect(allNodesOn(null, 'WebGpu')).toBe(false);
    expect(allNodesOn([], 'WebGpu')).toBe(false);
  });
});

describe('captureConsole', () => {
  it('copies lines (split on newlines), keeps a bounded buffer and restores the console', () => {
    const printed: string[] = [];
    const fake = { log: (s: string) => printed.push(s), info: () => {}, warn: () => {}, error: () => {}, debug: () => {} } as unknown as Console;
    const cap = captureConsole(3, fake);
    fake.log('a');
    const m = cap.mark();
    fake.warn('b\nc', { n: 1 });
    fake.error(new Error('boom'));
    // limit 3: 'a' was dropped from the buffer (but still printed).
    expect(cap.lines()).toEqual(['b', 'c {"n":1}', 'Error: boom']);
    expect(cap.since(m)).toEqual(['b', 'c {"n":1}', 'Error: boom']);
    expect(printed).toEqual(['a']);
    cap.stop();
    fake.log('d');
    expect(cap.lines()).toHaveLength(3);
    expect(printed).toEqual(['a', 'd']);
  });
});
