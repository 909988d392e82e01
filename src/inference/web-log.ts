/**
 * onnxruntime-web writes its log (including the verbose "Node placements" report of which execution provider got
 * each graph node) to the console of the thread it runs in. In the inference worker nobody sees that console from
 * a test, so captureConsole() keeps a copy of the lines, and parsePlacement() reads the placement report.
 * Pure apart from patching `console` (works in a worker, the page and Node).
 */

export interface LogCapture {
  /** Lines captured so far (oldest first), at most `limit`. */
  lines(): string[];
  /** Lines captured since `mark` (a value from mark()). */
  since(mark: number): string[];
  /** Position to use with since(). */
  mark(): number;
  clear(): void;
  /** Restores the original console methods. */
  stop(): void;
}

const METHODS = ['log', 'info', 'warn', 'error', 'debug'] as const;

function text(args: unknown[]): string {
  return args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? `${a.name}: ${a.message}` : safeJson(a))).join(' ');
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * Starts copying console output into a ring buffer of `limit` lines (the originals still print). Multi-line
 * messages are split into lines.
 */
export function captureConsole(limit = 20000, target: Console = console): LogCapture {
  const buf: string[] = [];
  let dropped = 0;
  const originals = new Map<string, (...a: unknown[]) => void>();
  for (const m of METHODS) {
    const orig = target[m] as (...a: unknown[]) => void;
    originals.set(m, orig);
    (target as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => {
      for (const line of text(args).split('\n')) buf.push(line);
      if (buf.length > limit) {
        const n = buf.length - limit;
        buf.splice(0, n);
        dropped += n;
      }
      orig.apply(target, args);
    };
  }
  return {
    lines: () => buf.slice(),
    mark: () => dropped + buf.length,
    since: (mark) => buf.slice(Math.max(0, mark - dropped)),
    clear: () => {
      dropped += buf.length;
      buf.length = 0;
    },
    stop: () => {
      for (const [m, f] of originals) (target as unknown as Record<string, unknown>)[m] = f;
    },
  };
}

export interface NodePlacement {
  /** Execution provider name as ORT logs it, e.g. 'WebGpuExecutionProvider', 'CPUExecutionProvider'. */
  provider: string;
  /** Node count ORT reports for this provider. */
  count: number;
  /** "OpType (node name)" lines listed under it (ORT lists them only when nodes are split across providers). */
  nodes: string[];
}

/**
 * Parses ORT's verbose "Node placements" report (session_state.cc VerifyEachNodeIsAssignedToAnEp):
 *   "Node placements"
 *   " All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 2"
 * or, when split:
 *   " Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 1"
 *   "  Conv (conv_0)"
 *   " Node(s) placed on [CPUExecutionProvider]. Number of nodes: 1"
 *   "  Softmax (sm)"
 * Log prefixes ("[V:onnxruntime:, session_state.cc:1280 ...]") are ignored. Returns the LAST report in `lines`
 * (one per session creation), or null when there is none (verbose logging was off).
 */
export function parsePlacement(lines: readonly string[]): NodePlacement[] | null {
  let start = -1;
  for (let i = lines.length - 1; i >= 0; i--)
    if (/Node placements/.test(lines[i])) {
      start = i;
      break;
    }
  if (start < 0) return null;
  const out: NodePlacement[] = [];
  const header = /(All nodes|Node\(s\)) placed on \[([^\]]+)\]\. Number of nodes: (\d+)/;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i];
    const h = header.exec(line);
    if (h) {
      out.push({ provider: h[2], count: Number(h[3]), nodes: [] });
      if (h[1] === 'All nodes') break;
      continue;
    }
    // Node lines follow their header: "  OpType (name)" possibly behind a log prefix.
    const body = line.replace(/^\[[^\]]*\]/, '');
    const node = /^\s{2,}(\S+ \(.*\))\s*$/.exec(body);
    if (node && out.length > 0) {
      out[out.length - 1].nodes.push(node[1]);
      continue;
    }
    if (out.length > 0 && out.reduce((n, p) => n + p.nodes.length, 0) >= out.reduce((n, p) => n + p.count, 0)) break;
  }
  return out;
}

/** True when the placement report puts every node on `provider` (a substring, e.g. 'WebGpu'). */
export function allNodesOn(placement: readonly NodePlacement[] | null, provider: string): boolean {
  return !!placement && placement.length > 0 && placement.every((p) => p.provider.includes(provider));
}
