/**
 * Errors across the worker boundary. comlink's default "throw" handler keeps only message/name/stack, so a
 * PsoasError thrown in the inference worker would reach the main thread without its `code`, `value` and `source`.
 * Both sides install the handler below (installErrorTransfer) so the client rethrows a real PsoasError, and an
 * AbortError stays recognisable (name 'AbortError') after cancel().
 */
import * as Comlink from 'comlink';
import { PsoasError, isPsoasError, type ErrorCode } from '../core/errors';

/** Structured-clone-safe form of a thrown value. */
export interface SerializedError {
  kind: 'psoas' | 'error' | 'value';
  name: string;
  message: string;
  code?: ErrorCode;
  value?: unknown;
  source?: string;
  stack?: string;
}

/** `value` may hold anything (typed arrays, objects with functions): keep it only if it survives cloning. */
function cloneable(v: unknown): unknown {
  if (v === undefined || v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  try {
    return structuredClone(v);
  } catch {
    try {
      return JSON.parse(JSON.stringify(v)) as unknown;
    } catch {
      return String(v);
    }
  }
}

export function serializeError(e: unknown): SerializedError {
  if (isPsoasError(e))
    return { kind: 'psoas', name: e.name, message: e.message, code: e.code, value: cloneable(e.value), source: e.source, stack: e.stack };
  if (e instanceof Error || (typeof e === 'object' && e !== null && 'message' in e && 'name' in e)) {
    const err = e as Error;
    return { kind: 'error', name: String(err.name), message: String(err.message), stack: err.stack };
  }
  return { kind: 'value', name: 'Error', message: String(e), value: cloneable(e) };
}

/** Rebuilds the thrown value: a PsoasError, an Error (name kept: 'AbortError' after a cancel), or the raw value. */
export function deserializeError(s: SerializedError): unknown {
  if (s.kind === 'psoas' && s.code) {
    const e = new PsoasError(s.code, s.message, s.value, s.source);
    if (s.stack) e.stack = s.stack;
    return e;
  }
  if (s.kind === 'value') return s.value ?? s.message;
  const e = new Error(s.message);
  e.name = s.name;
  if (s.stack) e.stack = s.stack;
  return e;
}

/** True for the error a cancelled run rejects with (DOMException or a deserialized Error named 'AbortError'). */
export function isAbortError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}

let installed = false;

/** Replaces comlink's "throw" transfer handler (both in the worker and on the main thread). Idempotent. */
export function installErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const original = Comlink.transferHandlers.get('throw');
  if (!original) return;
  Comlink.transferHandlers.set('throw', {
    canHandle: original.canHandle,
    serialize: (thrown: unknown) => {
      const value = (thrown as { value: unknown }).value;
      return [serializeError(value), []];
    },
    deserialize: (s: unknown) => {
      throw deserializeError(s as SerializedError);
    },
  } as Comlink.TransferHandler<unknown, unknown>);
}
