/**
 * Test support (used only by *.test.ts): a tiny, explicit DICOM Part 10 writer for single-frame CT slices in
 * any native transfer syntax, or with a given encapsulated frame. Lets tests build exactly the file they need
 * (missing UIDs, odd orientations, big endian...) without depending on the project's DICOM writer.
 */
import { deflateSync } from 'fflate';
import { TS } from './dicom-read';

export interface TestSliceSpec {
  rows: number;
  columns: number;
  /** Stored values, row-major (column fastest). */
  stored: Int16Array | Uint16Array | Uint8Array;
  bitsAllocated?: number; // 16 (default) or 8
  bitsStored?: number;
  pixelRepresentation?: number; // default: 1 for Int16Array
  slope?: number;
  intercept?: number;
  ipp?: [number, number, number];
  iop?: [number, number, number, number, number, number];
  pixelSpacing?: [number, number];
  sliceThickness?: number;
  modality?: string;
  sopClassUid?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  frameOfReferenceUid?: string;
  instanceNumber?: number;
  seriesDescription?: string;
  seriesNumber?: number;
  patientName?: string;
  patientId?: string;
  studyDate?: string;
  convolutionKernel?: string;
  imageType?: string;
  /** Defaults to explicit VR little endian. */
  transferSyntaxUid?: string;
  /** When set, written as encapsulated pixel data (one fragment, empty offset table). */
  encapsulatedFrame?: Uint8Array;
  /** Leave out the pixel data element (a non-image object). */
  noPixelData?: boolean;
}

type El = { tag: number; vr: string; value: Uint8Array | string | number[] };

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN', 'UC', 'UR', 'OD', 'OL']);

function encodeValue(vr: string, value: El['value'], bigEndian: boolean): Uint8Array {
  if (value instanceof Uint8Array) return value.length % 2 ? concat([value, new Uint8Array(1)]) : value;
  if (typeof value === 'string') {
    let s = value;
    if (s.length % 2) s += vr === 'UI' ? '\0' : ' ';
    return new TextEncoder().encode(s);
  }
  // US numbers
  const out = new Uint8Array(value.length * 2);
  const dv = new DataView(out.buffer);
  value.forEach((v, i) => dv.setUint16(2 * i, v, !bigEndian));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function encodeElement(el: El, explicit: boolean, bigEndian: boolean, undefinedLength = false): Uint8Array {
  const val = el.value instanceof Uint8Array && undefinedLength ? el.value : encodeValue(el.vr, el.value, bigEndian);
  const le = !bigEndian;
  const header = new Uint8Array(explicit && !LONG_VRS.has(el.vr) ? 8 : explicit ? 12 : 8);
  const dv = new DataView(header.buffer);
  dv.setUint16(0, el.tag >>> 16, le);
  dv.setUint16(2, el.tag & 0xffff, le);
  const len = undefinedLength ? 0xffffffff : val.length;
  if (explicit) {
    header[4] = el.vr.charCodeAt(0);
    header[5] = el.vr.charCodeAt(1);
    if (LONG_VRS.has(el.vr)) dv.setUint32(8, len, le);
    else dv.setUint16(6, len, le);
  } else {
    dv.setUint32(4, len, le);
  }
  return concat([header, val]);
}

function item(tag: number, payload: Uint8Array): Uint8Array {
  const h = new Uint8Array(8);
  const dv = new DataView(h.buffer);
  dv.setUint16(0, tag >>> 16, true);
  dv.setUint16(2, tag & 0xffff, true);
  dv.setUint32(4, payload.length, true);
  return concat([h, payload]);
}

/** Writes one DICOM Part 10 file. */
export function writeTestDicom(spec: TestSliceSpec): Uint8Array {
  const ts = spec.transferSyntaxUid ?? (spec.encapsulatedFrame ? TS.RLE : TS.EXPLICIT_LE);
  const bigEndian = ts === TS.EXPLICIT_BE;
  const explicit = ts !== TS.IMPLICIT_LE;
  const bitsAllocated = spec.bitsAllocated ?? (spec.stored instanceof Uint8Array ? 8 : 16);
  const pixelRepresentation = spec.pixelRepresentation ?? (spec.stored instanceof Int16Array ? 1 : 0);
  const sopClass = spec.sopClassUid ?? '1.2.840.10008.5.1.4.1.1.2';
  const sopInstance = spec.sopInstanceUid ?? `1.2.826.0.1.3680043.9.7777.${Math.floor(Math.random() * 1e9)}`;
  const els: El[] = [];
  const add = (tag: number, vr: string, value: El['value'] | undefined) => {
    if (value !== undefined) els.push({ tag, vr, value });
  };
  add(0x00080008, 'CS', spec.imageType ?? 'ORIGINAL\\PRIMARY\\AXIAL');
  add(0x00080016, 'UI', sopClass);
  add(0x00080018, 'UI', sopInstance);
  add(0x00080020, 'DA', spec.studyDate ?? '20260101');
  add(0x00080060, 'CS', spec.modality ?? 'CT');
  add(0x0008103e, 'LO', spec.seriesDescription ?? 'TEST');
  add(0x00100010, 'PN', spec.patientName ?? 'TEST^PATIENT');
  add(0x00100020, 'LO', spec.patientId ?? 'TEST01');
  add(0x00180050, 'DS', spec.sliceThickness !== undefined ? String(spec.sliceThickness) : undefined);
  add(0x00181210, 'SH', spec.convolutionKernel);
  add(0x0020000d, 'UI', spec.studyInstanceUid ?? '1.2.826.0.1.3680043.9.7777.1');
  add(0x0020000e, 'UI', spec.seriesInstanceUid ?? '1.2.826.0.1.3680043.9.7777.1.1');
  add(0x00200011, 'IS', spec.seriesNumber !== undefined ? String(spec.seriesNumber) : undefined);
  add(0x00200013, 'IS', spec.instanceNumber !== undefined ? String(spec.instanceNumber) : undefined);
  add(0x00200032, 'DS', spec.ipp ? spec.ipp.map((v) => String(+v.toFixed(6))).join('\\') : undefined);
  add(0x00200037, 'DS', spec.iop ? spec.iop.map((v) => String(+v.toFixed(8))).join('\\') : undefined);
  add(0x00200052, 'UI', spec.frameOfReferenceUid ?? '1.2.826.0.1.3680043.9.7777.2');
  add(0x00280002, 'US', [1]);
  add(0x00280004, 'CS', 'MONOCHROME2');
  add(0x00280010, 'US', [spec.rows]);
  add(0x00280011, 'US', [spec.columns]);
  add(0x00280030, 'DS', (spec.pixelSpacing ?? [1, 1]).map(String).join('\\'));
  add(0x00280100, 'US', [bitsAllocated]);
  add(0x00280101, 'US', [spec.bitsStored ?? bitsAllocated]);
  add(0x00280102, 'US', [(spec.bitsStored ?? bitsAllocated) - 1]);
  add(0x00280103, 'US', [pixelRepresentation]);
  add(0x00281052, 'DS', String(spec.intercept ?? 0));
  add(0x00281053, 'DS', String(spec.slope ?? 1));
  const body: Uint8Array[] = els.map((e) => encodeElement(e, explicit, bigEndian));
  if (!spec.noPixelData) {
    if (spec.encapsulatedFrame) {
      const frame = spec.encapsulatedFrame.length % 2 ? concat([spec.encapsulatedFrame, new Uint8Array(1)]) : spec.encapsulatedFrame;
      const seq = concat([item(0xfffee000, new Uint8Array(0)), item(0xfffee000, frame), item(0xfffee0dd, new Uint8Array(0))]);
      body.push(encodeElement({ tag: 0x7fe00010, vr: 'OB', value: seq }, true, false, true));
    } else {
      const raw = new Uint8Array(spec.stored.buffer.slice(spec.stored.byteOffset, spec.stored.byteOffset + spec.stored.byteLength));
      if (bigEndian && bitsAllocated === 16) for (let i = 0; i < raw.length; i += 2) { const t = raw[i]; raw[i] = raw[i + 1]; raw[i + 1] = t; }
      body.push(encodeElement({ tag: 0x7fe00010, vr: bitsAllocated === 8 ? 'OB' : 'OW', value: raw }, explicit, bigEndian));
    }
  }
  let dataset = concat(body);
  if (ts === TS.DEFLATED_LE) dataset = deflateSync(dataset);
  const metaEls = [
    encodeElement({ tag: 0x00020001, vr: 'OB', value: new Uint8Array([0, 1]) }, true, false),
    encodeElement({ tag: 0x00020002, vr: 'UI', value: sopClass }, true, false),
    encodeElement({ tag: 0x00020003, vr: 'UI', value: sopInstance }, true, false),
    encodeElement({ tag: 0x00020010, vr: 'UI', value: ts }, true, false),
  ];
  const metaBody = concat(metaEls);
  const groupLen = new Uint8Array(12);
  const gdv = new DataView(groupLen.buffer);
  gdv.setUint16(0, 2, true);
  gdv.setUint16(2, 0, true);
  groupLen[4] = 0x55; // 'U'
  groupLen[5] = 0x4c; // 'L'
  gdv.setUint16(6, 4, true);
  gdv.setUint32(8, metaBody.length, true);
  const preamble = new Uint8Array(132);
  preamble.set([0x44, 0x49, 0x43, 0x4d], 128);
  return concat([preamble, groupLen, metaBody, dataset]);
}

/** PackBits-encodes one byte plane (literal runs only where needed); independent of decode-rle.ts. */
function packBits(plane: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < plane.length) {
    let run = 1;
    while (i + run < plane.length && run < 128 && plane[i + run] === plane[i]) run++;
    if (run >= 3) {
      out.push((1 - run) & 0xff, plane[i]);
      i += run;
    } else {
      const start = i;
      let n = 0;
      while (i < plane.length && n < 128) {
        if (i + 2 < plane.length && plane[i] === plane[i + 1] && plane[i] === plane[i + 2]) break;
        i++;
        n++;
      }
      out.push(n - 1, ...plane.subarray(start, start + n));
    }
  }
  if (out.length % 2) out.push(0x80); // no-op byte keeps segments even-sized
  return new Uint8Array(out);
}

/** RLE Lossless frame (PS3.5 Annex G) for 8- or 16-bit single-sample pixels, for tests. */
export function encodeRleForTest(stored: Int16Array | Uint16Array | Uint8Array): Uint8Array {
  const bytes = stored.BYTES_PER_ELEMENT;
  const le = new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength);
  const segments: Uint8Array[] = [];
  for (let s = 0; s < bytes; s++) {
    const byteIndex = bytes - 1 - s; // MSB plane first
    const plane = new Uint8Array(stored.length);
    for (let p = 0; p < stored.length; p++) plane[p] = le[p * bytes + byteIndex];
    segments.push(packBits(plane));
  }
  const header = new Uint8Array(64);
  const dv = new DataView(header.buffer);
  dv.setUint32(0, bytes, true);
  let off = 64;
  segments.forEach((seg, s) => { dv.setUint32(4 + 4 * s, off, true); off += seg.length; });
  return concat([header, ...segments]);
}

/** A deterministic CT-like test image: air outside a disc, soft tissue and bone inside, full int16 range corners. */
export function testImage(rows: number, columns: number, seed = 1): Int16Array {
  const out = new Int16Array(rows * columns);
  let x = seed >>> 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      x = (x * 1664525 + 1013904223) >>> 0;
      const dr = (r - rows / 2) / (rows / 2);
      const dc = (c - columns / 2) / (columns / 2);
      const inside = dr * dr + dc * dc < 0.8;
      const noise = (x >>> 24) - 128; // -128..127
      out[r * columns + c] = inside ? 40 + noise + (dr > 0.5 ? 900 : 0) : -1000 + (noise >> 4);
    }
  }
  out[0] = -2048;
  out[out.length - 1] = 3071;
  return out;
}
