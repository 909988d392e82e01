/**
 * DICOM RLE Lossless (1.2.840.10008.1.2.5) decoder, PS3.5 Annex G.
 *
 * A frame = a 64-byte header (16 little-endian uint32: the number of segments, then up to 15 segment offsets
 * measured from the start of the header) followed by PackBits-coded segments. Each segment holds one byte plane
 * of one sample: for 16-bit pixels segment 0 is the most significant byte of every pixel, segment 1 the least.
 * Output: the pixels in little-endian native layout (what `decodeNative` reads), planar samples interleaved.
 */
import { PsoasError } from '../errors';

export function decodeRle(
  frame: Uint8Array,
  rows: number,
  columns: number,
  bitsAllocated: number,
  samplesPerPixel: number,
  source = 'RLE frame',
): Uint8Array {
  const bytesPerSample = bitsAllocated / 8;
  if (!Number.isInteger(bytesPerSample) || bytesPerSample < 1) {
    throw new PsoasError('DECODE_FAILED', `${source}: RLE with BitsAllocated ${bitsAllocated} is not supported`, bitsAllocated, source);
  }
  if (frame.length < 64) {
    throw new PsoasError('DECODE_FAILED', `${source}: RLE frame is ${frame.length} bytes, shorter than its 64-byte header`, frame.length, source);
  }
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const nSegments = view.getUint32(0, true);
  const expected = bytesPerSample * samplesPerPixel;
  if (nSegments !== expected) {
    throw new PsoasError(
      'DECODE_FAILED',
      `${source}: RLE header says ${nSegments} segments, ${bitsAllocated}-bit ${samplesPerPixel}-sample pixels need ${expected}`,
      nSegments,
      source,
    );
  }
  const offsets: number[] = [];
  for (let s = 0; s < nSegments; s++) offsets.push(view.getUint32(4 + 4 * s, true));
  const nPixels = rows * columns;
  const pixelStride = bytesPerSample * samplesPerPixel;
  const out = new Uint8Array(nPixels * pixelStride);
  for (let s = 0; s < nSegments; s++) {
    const start = offsets[s];
    const end = s + 1 < nSegments ? offsets[s + 1] : frame.length;
    if (start < 64 || start > frame.length || end > frame.length || end < start) {
      throw new PsoasError('DECODE_FAILED', `${source}: RLE segment ${s} offset ${start}..${end} is outside the ${frame.length}-byte frame`, start, source);
    }
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample); // segment order is MSB first
    let o = sample * bytesPerSample + byteInSample; // first output byte of this plane
    let p = start;
    let written = 0;
    while (written < nPixels && p < end) {
      const n = (frame[p++] << 24) >> 24; // signed header byte
      if (n >= 0) {
        const count = n + 1;
        if (p + count > end) break;
        for (let c = 0; c < count && written < nPixels; c++) {
          out[o] = frame[p + c];
          o += pixelStride;
          written++;
        }
        p += count;
      } else if (n !== -128) {
        const count = 1 - n;
        const v = frame[p++];
        for (let c = 0; c < count && written < nPixels; c++) {
          out[o] = v;
          o += pixelStride;
          written++;
        }
      }
    }
    if (written < nPixels) {
      throw new PsoasError(
        'DECODE_FAILED',
        `${source}: RLE segment ${s} decoded to ${written} of ${nPixels} pixels (truncated or damaged)`,
        { segment: s, written, expected: nPixels },
        source,
      );
    }
  }
  return out;
}
