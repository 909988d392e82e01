import { describe, expect, it } from 'vitest';
import { PsoasError } from '../core/errors';
import { deserializeError, isAbortError, serializeError } from './web-errors';

describe('errors across the worker boundary', () => {
  it('a PsoasError keeps code, value and source through structured clone', () => {
    const e = new PsoasError('BAD_MODEL', 'Model x: input has rank 4', [1, 1, 'H', 'W'], 'models/x/model.onnx');
    const back = deserializeError(structuredClone(serializeError(e))) as PsoasError;
    expect(back).toBeInstanceOf(PsoasError);
    expect(back.code).toBe('BAD_MODEL');
    expect(back.message).toBe('Model x: input has rank 4');
    expect(back.value).toEqual([1, 1, 'H', 'W']);
    expect(back.source).toBe('models/x/model.onnx');
  });

  it('an uncloneable value degrades to JSON or text instead of breaking the message', () => {
    const e = new PsoasError('INFERENCE_FAILED', 'x', { f: () => 1, n: 2 });
    expect(structuredClone(serializeError(e)).value).toEqual({ n: 2 });
  });

  it('AbortError keeps its name; plain values pass through', () => {
    const abort = deserializeError(structuredClone(serializeError(new DOMException('Segmentation cancelled', 'AbortError'))));
    expect(isAbortError(abort)).toBe(true);
    expect((abort as Error).message).toBe('Segmentation cancelled');
    expect(isAbortError(deserializeError(serializeError(new TypeError('t'))))).toBe(false);
    expect(deserializeError(serializeError('just text'))).toBe('just text');
  });
});
