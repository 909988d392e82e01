import { describeError, isPsoasError } from '../core/errors';
import type { UiError } from './stores';

/** Any thrown value → {code, message} for the UI (PsoasError keeps its code; its source is appended). */
export function toUiError(e: unknown): UiError {
  if (isPsoasError(e)) return { code: e.code, message: describeError(e) };
  if (e instanceof DOMException && e.name === 'AbortError') return { code: 'ABORTED', message: 'Loading was cancelled' };
  return { code: 'INTERNAL', message: describeError(e) };
}
