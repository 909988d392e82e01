/**
 * Typed errors used at every boundary (readers, data sources, pipeline, CLI, UI).
 * `code` is stable and machine-readable; `value` is the offending value (a tag, a URL, a file name, a number);
 * `message` is the sentence shown to the user as-is, so it must say what was wrong and where.
 */
export type ErrorCode =
  | 'NOT_DICOM'
  | 'NOT_CT'
  | 'NOT_IMAGE'
  | 'MISSING_UID'
  | 'MISSING_TAG'
  | 'UNSUPPORTED_TRANSFER_SYNTAX'
  | 'DECODE_FAILED'
  | 'CORRUPT_FILE'
  | 'MIXED_ORIENTATION'
  | 'MIXED_SIZE'
  | 'DUPLICATE_SLICE'
  | 'MISSING_SLICE'
  | 'UNEVEN_SPACING'
  | 'TOO_FEW_SLICES'
  | 'NOT_NIFTI'
  | 'UNSUPPORTED_NIFTI'
  | 'PACS_UNREACHABLE'
  | 'PACS_HTTP_ERROR'
  | 'PACS_BAD_RESPONSE'
  | 'STUDY_NOT_FOUND'
  | 'NO_IMAGE_SERIES'
  | 'BAD_ARGUMENT'
  | 'BAD_MODEL'
  | 'INFERENCE_FAILED'
  | 'INTERNAL';

export class PsoasError extends Error {
  readonly code: ErrorCode;
  /** The offending value: tag keyword and value, file name, URL with status, measured number... */
  readonly value: unknown;
  /** Optional: the file / URL / series the error is about. */
  readonly source?: string;

  constructor(code: ErrorCode, message: string, value?: unknown, source?: string) {
    super(message);
    this.name = 'PsoasError';
    this.code = code;
    this.value = value;
    this.source = source;
  }
}

export function isPsoasError(e: unknown): e is PsoasError {
  return e instanceof Error && (e as PsoasError).name === 'PsoasError' && typeof (e as PsoasError).code === 'string';
}

/** A one-line user-facing description of any thrown value. */
export function describeError(e: unknown): string {
  if (isPsoasError(e)) return e.source ? `${e.message} (${e.source})` : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
