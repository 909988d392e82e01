/**
 * Pixel decoding: one DicomSlice (any transfer syntax a CT archive holds) → Hounsfield units.
 *
 * Steps: transfer-syntax decode to stored values → mask/sign-extend to BitsStored → HU = stored*slope + intercept.
 * Output is Int16Array when slope and intercept are integers and every HU fits in int16, else Float32Array
 * (row-major: index = column + columns*row, the same order as the voxel index i + nx*j of a slice).
 */
import { PsoasError } from '../errors';
import { TS, type DicomSlice } from './dicom-read';
import { decodeRle } from './decode-rle';
import { decodeJpegLossless, decodeWithCodec, type CodecName } from './decode-codecs';

export { setCodecWasmLoader } from './decode-codecs';

const CODEC_BY_TS: Record<string, CodecName> = {
  [TS.J2K_LOSSLESS]: 'openjpeg',
  [TS.J2K]: 'openjpeg',
  [TS.HTJ2K_LOSSLESS]: 'openjph',
  [TS.HTJ2K_LOSSLESS_RPCL]: 'openjph',
  [TS.HTJ2K]: 'openjph',
  [TS.JPEG_LS_LOSSLESS]: 'charls',
  [TS.JPEG_LS_NEAR]: 'charls',
  [TS.JPEG_BASELINE]: 'libjpeg-turbo',
};

/** Transfer syntaxes decodePixels handles. */
export const SUPPORTED_TRANSFER_SYNTAXES: readonly string[] = [
  TS.IMPLICIT_LE,
  TS.EXPLICIT_LE,
  TS.DEFLATED_LE,
  TS.EXPLICIT_BE,
  TS.RLE,
  TS.JPEG_LOSSLESS,
  TS.JPEG_LOSSLESS_SV1,
  ...Object.keys(CODEC_BY_TS),
];

const TS_NAMES: Record<string, string> = {
  [TS.JPEG_EXTENDED]: 'JPEG Extended (12-bit lossy)',
  '1.2.840.10008.1.2.4.100': 'MPEG2',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
  '1.2.840.10008.1.2.4.110': 'JPEG XL lossless',
  '1.2.840.10008.1.2.4.112': 'JPEG XL',
};

export function isSupportedTransferSyntax(uid: string): boolean {
  return SUPPORTED_TRANSFER_SYNTAXES.includes(uid);
}

/** Decodes the pixels of frame 0 of a slice into HU. */
export async function decodePixels(slice: DicomSlice): Promise<Int16Array | Float32Array> {
  const stored = await decodeStoredValues(slice);
  return rescaleToHu(stored, slice.rescaleSlope, slice.rescaleIntercept);
}

/**
 * Stored pixel values (before rescale) of frame 0, as signed/unsigned integers already masked to BitsStored.
 * Exposed for tests and for writers that need the raw values.
 */
export async function decodeStoredValues(s: DicomSlice): Promise<Int16Array | Uint16Array | Uint8Array | Int8Array | Int32Array> {
  const src = s.source;
  if (!s.pixelData) {
    throw new PsoasError('NOT_IMAGE', `${src} has no Pixel Data (7FE0,0010) to decode`, src, src);
  }
  if (s.samplesPerPixel !== 1) {
    throw new PsoasError('NOT_IMAGE', `${src}: SamplesPerPixel ${s.samplesPerPixel} (${s.photometricInterpretation}) is a colour image, not CT`, s.samplesPerPixel, src);
  }
  const n = s.rows * s.columns;
  const signed = s.pixelRepresentation === 1;
  const ts = s.transferSyntaxUid;
  const pd = s.pixelData;
  if (pd.kind === 'native') {
    return maskStored(nativeToTyped(pd.bytes, s.bitsAllocated, signed, pd.bigEndian, n, src), s.bitsStored, s.bitsAllocated, signed);
  }
  if (ts === TS.RLE) {
    const le = decodeRle(pd.bytes, s.rows, s.columns, s.bitsAllocated, 1, src);
    return maskStored(nativeToTyped(le, s.bitsAllocated, signed, false, n, src), s.bitsStored, s.bitsAllocated, signed);
  }
  if (ts === TS.JPEG_LOSSLESS || ts === TS.JPEG_LOSSLESS_SV1) {
    const out = await decodeJpegLossless(pd.bytes, s.bitsAllocated, src);
    checkCount(out.length, n, src, 'JPEG lossless');
    return maskStored(out, s.bitsStored, s.bitsAllocated, signed);
  }
  const codec = CODEC_BY_TS[ts];
  if (codec) {
    const out = await decodeWithCodec(codec, pd.bytes, src);
    if (out.width !== s.columns || out.height !== s.rows) {
      throw new PsoasError(
        'DECODE_FAILED',
        `${src}: the ${codec} codestream is ${out.width}x${out.height}, the header says Columns ${s.columns} x Rows ${s.rows}`,
        { width: out.width, height: out.height },
        src,
      );
    }
    checkCount(out.pixels.length, n, src, codec);
    if (out.signed) return out.pixels; // JPEG 2000 declares signedness itself: trust the codestream
    // Unsigned codestream of two's-complement data (JPEG-LS always; some J2K writers): reinterpret with BitsStored.
    const bits = Math.min(s.bitsStored, out.bitsPerSample > 8 ? 16 : 8);
    return maskStored(out.pixels, bits, out.bitsPerSample > 8 ? 16 : 8, signed);
  }
  const name = TS_NAMES[ts] ? ` (${TS_NAMES[ts]})` : '';
  throw new PsoasError(
    'UNSUPPORTED_TRANSFER_SYNTAX',
    `${src}: transfer syntax ${ts}${name} is not supported; supported: ${SUPPORTED_TRANSFER_SYNTAXES.join(', ')}`,
    ts,
    src,
  );
}

function checkCount(got: number, want: number, src: string, what: string): void {
  if (got < want) {
    throw new PsoasError('DECODE_FAILED', `${src}: ${what} gave ${got} pixels, Rows x Columns needs ${want}`, { got, want }, src);
  }
}

/** Native bytes → typed stored values. Copies when the bytes are unaligned or big endian. */
function nativeToTyped(
  bytes: Uint8Array,
  bitsAllocated: number,
  signed: boolean,
  bigEndian: boolean,
  n: number,
  src: string,
): Int16Array | Uint16Array | Uint8Array | Int8Array | Int32Array {
  const need = (n * bitsAllocated) / 8;
  if (bytes.length < need) {
    throw new PsoasError('CORRUPT_FILE', `${src}: Pixel Data has ${bytes.length} bytes, ${n} pixels at ${bitsAllocated} bits need ${need}`, bytes.length, src);
  }
  if (bitsAllocated === 8) {
    const b = bytes.subarray(0, n);
    return signed ? new Int8Array(b.buffer, b.byteOffset, n) : b;
  }
  if (bitsAllocated === 16) {
    const own = new Uint8Array(bytes.subarray(0, need)); // aligned private copy (the file buffer may be reused or unaligned)
    if (bigEndian) for (let i = 0; i < need; i += 2) { const t = own[i]; own[i] = own[i + 1]; own[i + 1] = t; }
    return signed ? new Int16Array(own.buffer) : new Uint16Array(own.buffer);
  }
  if (bitsAllocated === 32) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, need);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = signed ? dv.getInt32(4 * i, !bigEndian) : dv.getUint32(4 * i, !bigEndian);
    return out;
  }
  throw new PsoasError('DECODE_FAILED', `${src}: BitsAllocated ${bitsAllocated} is not supported (8, 16 or 32)`, bitsAllocated, src);
}

/**
 * Keeps the low BitsStored bits (other bits may hold overlays or garbage) and sign-extends when
 * PixelRepresentation is 1. Returns a signed view when signed.
 */
function maskStored<T extends Int16Array | Uint16Array | Uint8Array | Int8Array | Int32Array>(
  v: T,
  bitsStored: number,
  bitsAllocated: number,
  signed: boolean,
): Int16Array | Uint16Array | Uint8Array | Int8Array | Int32Array {
  const alloc = v instanceof Int32Array ? 32 : v.BYTES_PER_ELEMENT * 8;
  const bits = bitsStored > 0 && bitsStored <= alloc ? bitsStored : Math.min(bitsAllocated, alloc);
  if (bits >= alloc) {
    // Full width: only the interpretation (signed or not) matters.
    if (alloc === 16 && signed && v instanceof Uint16Array) return new Int16Array(v.buffer, v.byteOffset, v.length);
    if (alloc === 16 && !signed && v instanceof Int16Array) return new Uint16Array(v.buffer, v.byteOffset, v.length);
    if (alloc === 8 && signed && v instanceof Uint8Array) return new Int8Array(v.buffer, v.byteOffset, v.length);
    if (alloc === 8 && !signed && v instanceof Int8Array) return new Uint8Array(v.buffer, v.byteOffset, v.length);
    return v;
  }
  const mask = (1 << bits) - 1;
  const signBit = 1 << (bits - 1);
  if (alloc === 32) {
    const out = new Int32Array(v.length);
    for (let i = 0; i < v.length; i++) { const x = v[i] & mask; out[i] = signed && x & signBit ? x - (mask + 1) : x; }
    return out;
  }
  const out = signed ? (alloc === 16 ? new Int16Array(v.length) : new Int8Array(v.length)) : alloc === 16 ? new Uint16Array(v.length) : new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i] & mask;
    out[i] = signed && x & signBit ? x - (mask + 1) : x;
  }
  return out;
}

/** HU = stored*slope + intercept; Int16Array when exact in int16, else Float32Array. */
export function rescaleToHu(stored: ArrayLike<number>, slope: number, intercept: number): Int16Array | Float32Array {
  const n = stored.length;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) { const x = stored[i]; if (x < min) min = x; if (x > max) max = x; }
  const lo = Math.min(min * slope + intercept, max * slope + intercept);
  const hi = Math.max(min * slope + intercept, max * slope + intercept);
  const integral = Number.isInteger(slope) && Number.isInteger(intercept);
  if (integral && (n === 0 || (lo >= -32768 && hi <= 32767))) {
    const out = new Int16Array(n);
    if (slope === 1) for (let i = 0; i < n; i++) out[i] = stored[i] + intercept;
    else for (let i = 0; i < n; i++) out[i] = stored[i] * slope + intercept;
    return out;
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = stored[i] * slope + intercept;
  return out;
}
