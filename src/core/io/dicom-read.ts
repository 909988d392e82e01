/**
 * DICOM Part 10 parsing: the header fields psoasview needs and a reference to the (possibly encapsulated) pixel
 * data of one single-frame image. Pure TypeScript over bytes (dicom-parser + fflate); no DOM, no fs.
 *
 * Decoding the pixels to HU lives in `decode.ts` (`decodePixels(slice)`), so a source that only needs headers
 * (listing a folder) can parse with `{ headerOnly: true }` and drop the bytes.
 */
import * as dicomParserNs from 'dicom-parser';
import { inflateSync } from 'fflate';
import type { Vec3 } from '../geometry';
import { PsoasError, isPsoasError } from '../errors';

// dicom-parser is a UMD/CommonJS bundle: Node's ESM interop puts it under `default`, bundlers may not.
const dicomParser = ((dicomParserNs as unknown as { default?: typeof dicomParserNs }).default ?? dicomParserNs) as typeof dicomParserNs;
// Type-only alias so the rest of the file can write dicomParser.DataSet / dicomParser.Element.
declare namespace dicomParser {
  type DataSet = dicomParserNs.DataSet;
  type Element = dicomParserNs.Element;
  type ParseDicomOptions = dicomParserNs.ParseDicomOptions;
}

export const TS = {
  IMPLICIT_LE: '1.2.840.10008.1.2',
  EXPLICIT_LE: '1.2.840.10008.1.2.1',
  DEFLATED_LE: '1.2.840.10008.1.2.1.99',
  EXPLICIT_BE: '1.2.840.10008.1.2.2',
  JPEG_BASELINE: '1.2.840.10008.1.2.4.50',
  JPEG_EXTENDED: '1.2.840.10008.1.2.4.51',
  JPEG_LOSSLESS: '1.2.840.10008.1.2.4.57',
  JPEG_LOSSLESS_SV1: '1.2.840.10008.1.2.4.70',
  JPEG_LS_LOSSLESS: '1.2.840.10008.1.2.4.80',
  JPEG_LS_NEAR: '1.2.840.10008.1.2.4.81',
  J2K_LOSSLESS: '1.2.840.10008.1.2.4.90',
  J2K: '1.2.840.10008.1.2.4.91',
  HTJ2K_LOSSLESS: '1.2.840.10008.1.2.4.201',
  HTJ2K_LOSSLESS_RPCL: '1.2.840.10008.1.2.4.202',
  HTJ2K: '1.2.840.10008.1.2.4.203',
  RLE: '1.2.840.10008.1.2.5',
} as const;

/** Transfer syntaxes whose pixel data are stored natively (not encapsulated). */
export const NATIVE_TRANSFER_SYNTAXES: readonly string[] = [TS.IMPLICIT_LE, TS.EXPLICIT_LE, TS.DEFLATED_LE, TS.EXPLICIT_BE];

/** SOP classes that never hold an image (SR, SEG, presentation states, key objects, RT structures...). */
const NON_IMAGE_SOP_PREFIXES: Array<[string, string]> = [
  ['1.2.840.10008.5.1.4.1.1.88.', 'Structured Report'],
  ['1.2.840.10008.5.1.4.1.1.66.4', 'Segmentation'],
  ['1.2.840.10008.5.1.4.1.1.11.', 'Presentation State'],
  ['1.2.840.10008.5.1.4.1.1.481.3', 'RT Structure Set'],
  ['1.2.840.10008.5.1.4.1.1.104.1', 'Encapsulated PDF'],
  ['1.2.840.10008.5.1.4.1.1.66', 'Raw Data / Spatial Registration'],
];
const NON_IMAGE_MODALITIES = new Set(['SR', 'SEG', 'PR', 'KO', 'RTSTRUCT', 'REG', 'DOC', 'RWV']);

/** Pixel data of ONE frame as stored: native bytes (in the file's byte order) or one encapsulated frame. */
export type PixelDataRef =
  | { kind: 'native'; bytes: Uint8Array; bigEndian: boolean }
  | { kind: 'encapsulated'; bytes: Uint8Array };

/** One DICOM image (single frame) with the header fields the viewer, series assembly and export need. */
export interface DicomSlice {
  /** File name or URL it was read from (used in every error message). */
  source: string;
  transferSyntaxUid: string;
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  frameOfReferenceUid: string;
  modality: string;
  /** ImageType values, upper case, e.g. ['ORIGINAL','PRIMARY','AXIAL']. */
  imageType: string[];
  patientName: string;
  patientId: string;
  patientBirthDate: string;
  patientSex: string;
  studyDate: string;
  studyTime: string;
  studyDescription: string;
  accessionNumber: string;
  studyId: string;
  seriesDescription: string;
  seriesNumber?: number;
  instanceNumber?: number;
  manufacturer: string;
  /** LPS mm of the centre of the first transmitted pixel (row 0, column 0). */
  imagePositionPatient?: Vec3;
  /** Row direction (LPS unit vector, along a row = increasing column index) then column direction. */
  imageOrientationPatient?: [number, number, number, number, number, number];
  /** mm: [between rows (row spacing, along the column direction), between columns]. DICOM order. */
  pixelSpacing?: [number, number];
  /** mm, nominal reconstructed thickness (NOT the slice spacing). */
  sliceThicknessMm?: number;
  rows: number;
  columns: number;
  numberOfFrames: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  /** 0 = unsigned, 1 = two's complement. */
  pixelRepresentation: number;
  photometricInterpretation: string;
  samplesPerPixel: number;
  planarConfiguration: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  /** Stored pixel value used for padding outside the scan field (before rescale), if given. */
  pixelPaddingValue?: number;
  /** Joined values, e.g. "Br38f\\3" or "B30f". */
  convolutionKernel: string;
  gantryTiltDeg?: number;
  /** HU (first value when several are given). */
  windowCenter?: number;
  windowWidth?: number;
  /** The pixel data of frame 0; absent for non-image objects or when parsed header-only. */
  pixelData?: PixelDataRef;
  /** True when the file had a Pixel Data element (even when parsed header-only). */
  hasPixelData: boolean;
}

export interface ParseOptions {
  /** Stop before the pixel data (for listing many files cheaply); `pixelData` is then undefined. */
  headerOnly?: boolean;
}

const TAG = {
  PixelData: 'x7fe00010',
};

/** Parses one DICOM Part 10 file (or a bare dataset in implicit little endian). */
export function parseDicom(bytes: ArrayBuffer | Uint8Array, source: string, opts: ParseOptions = {}): DicomSlice {
  // A Node Buffer is a Uint8Array whose slice() does not copy: always work on a plain Uint8Array view.
  const u8 = bytes instanceof Uint8Array ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes);
  const hasPreamble = u8.length >= 132 && u8[128] === 0x44 && u8[129] === 0x49 && u8[130] === 0x43 && u8[131] === 0x4d;
  if (!hasPreamble && !looksLikeBareDataset(u8)) {
    throw new PsoasError(
      'NOT_DICOM',
      `${source} is not a DICOM file (no "DICM" marker at byte 128 and no DICOM group 0008 element at its start)`,
      source,
      source,
    );
  }
  let ds: dicomParser.DataSet;
  try {
    ds = dicomParser.parseDicom(u8, {
      // Pixel data start at (7FE0,0010); stop before them when only the header is needed.
      untilTag: opts.headerOnly ? TAG.PixelData : undefined,
      // Deflated LE: inflate everything after the file meta group (fflate, works in browser and Node).
      inflater: (arr: Uint8Array, position: number) => {
        const inflated = inflateSync(arr.subarray(position));
        const full = new Uint8Array(position + inflated.length);
        full.set(arr.subarray(0, position), 0);
        full.set(inflated, position);
        return full;
      },
      ...(hasPreamble ? {} : { TransferSyntaxUID: TS.IMPLICIT_LE }),
    } as dicomParser.ParseDicomOptions);
  } catch (e) {
    throw corrupt(source, e);
  }
  try {
    return sliceFromDataSet(ds, source, !!opts.headerOnly);
  } catch (e) {
    if (isPsoasError(e)) throw e;
    throw corrupt(source, e);
  }
}

function corrupt(source: string, e: unknown): PsoasError {
  // dicom-parser throws strings or Error objects (and for truncation, an object with `exception`).
  let why = e instanceof Error ? e.message : typeof e === 'string' ? e : (e as { exception?: string })?.exception ?? String(e);
  if (/eof|buffer overread|beyond end|position/i.test(why)) why = `file is truncated or damaged (${why})`;
  return new PsoasError('CORRUPT_FILE', `${source} could not be parsed as DICOM: ${why}`, source, source);
}

/** A dataset without preamble: starts with an element of group 0008 (implicit or explicit LE). */
function looksLikeBareDataset(u8: Uint8Array): boolean {
  if (u8.length < 8) return false;
  const group = u8[0] | (u8[1] << 8);
  return group === 0x0008 || group === 0x0002;
}

function str(ds: dicomParser.DataSet, tag: string): string {
  const el = ds.elements[tag];
  if (!el || el.length === 0) return '';
  const s = ds.string(tag);
  return (s ?? '').trim();
}

/** All backslash-separated values of a string element. */
function strs(ds: dicomParser.DataSet, tag: string): string[] {
  const el = ds.elements[tag];
  if (!el || el.length === 0) return [];
  const n = ds.numStringValues(tag) ?? 0;
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((ds.string(tag, i) ?? '').trim());
  return out;
}

function nums(ds: dicomParser.DataSet, tag: string, source: string, keyword: string): number[] | undefined {
  const values = strs(ds, tag);
  if (values.length === 0) return undefined;
  const out = values.map(Number);
  if (out.some((v) => !Number.isFinite(v))) {
    throw new PsoasError(
      'CORRUPT_FILE',
      `${source}: ${keyword} ${tag.slice(1)} has a non-numeric value "${values.join('\\')}"`,
      { tag: keyword, value: values.join('\\') },
      source,
    );
  }
  return out;
}

function num(ds: dicomParser.DataSet, tag: string, source: string, keyword: string): number | undefined {
  return nums(ds, tag, source, keyword)?.[0];
}

function us(ds: dicomParser.DataSet, tag: string): number | undefined {
  const el = ds.elements[tag];
  if (!el || el.length < 2) return undefined;
  return ds.uint16(tag);
}

function sliceFromDataSet(ds: dicomParser.DataSet, source: string, headerOnly: boolean): DicomSlice {
  const transferSyntaxUid = str(ds, 'x00020010') || TS.IMPLICIT_LE;
  const pixelRepresentation = us(ds, 'x00280103') ?? 0;
  const bitsAllocated = us(ds, 'x00280100') ?? 0;
  const ipp = nums(ds, 'x00200032', source, 'ImagePositionPatient');
  const iop = nums(ds, 'x00200037', source, 'ImageOrientationPatient');
  const ps = nums(ds, 'x00280030', source, 'PixelSpacing');
  if (ipp && ipp.length < 3) {
    throw new PsoasError('CORRUPT_FILE', `${source}: ImagePositionPatient needs 3 values, has "${ipp.join('\\')}"`, ipp, source);
  }
  if (iop && iop.length < 6) {
    throw new PsoasError('CORRUPT_FILE', `${source}: ImageOrientationPatient needs 6 values, has "${iop.join('\\')}"`, iop, source);
  }
  // PixelPaddingValue is US or SS depending on PixelRepresentation.
  const padEl = ds.elements['x00280120'];
  const pixelPaddingValue =
    padEl && padEl.length >= 2 ? (pixelRepresentation === 1 ? ds.int16('x00280120') : ds.uint16('x00280120')) : undefined;
  const pixelEl = ds.elements[TAG.PixelData];
  const slice: DicomSlice = {
    source,
    transferSyntaxUid,
    sopClassUid: str(ds, 'x00080016') || str(ds, 'x00020002'),
    sopInstanceUid: str(ds, 'x00080018'),
    studyInstanceUid: str(ds, 'x0020000d'),
    seriesInstanceUid: str(ds, 'x0020000e'),
    frameOfReferenceUid: str(ds, 'x00200052'),
    modality: str(ds, 'x00080060').toUpperCase(),
    imageType: strs(ds, 'x00080008').map((s) => s.toUpperCase()),
    patientName: str(ds, 'x00100010'),
    patientId: str(ds, 'x00100020'),
    patientBirthDate: str(ds, 'x00100030'),
    patientSex: str(ds, 'x00100040'),
    studyDate: str(ds, 'x00080020'),
    studyTime: str(ds, 'x00080030'),
    studyDescription: str(ds, 'x00081030'),
    accessionNumber: str(ds, 'x00080050'),
    studyId: str(ds, 'x00200010'),
    seriesDescription: str(ds, 'x0008103e'),
    seriesNumber: num(ds, 'x00200011', source, 'SeriesNumber'),
    instanceNumber: num(ds, 'x00200013', source, 'InstanceNumber'),
    manufacturer: str(ds, 'x00080070'),
    imagePositionPatient: ipp ? [ipp[0], ipp[1], ipp[2]] : undefined,
    imageOrientationPatient: iop ? [iop[0], iop[1], iop[2], iop[3], iop[4], iop[5]] : undefined,
    pixelSpacing: ps && ps.length >= 2 ? [ps[0], ps[1]] : ps ? [ps[0], ps[0]] : undefined,
    sliceThicknessMm: num(ds, 'x00180050', source, 'SliceThickness'),
    rows: us(ds, 'x00280010') ?? 0,
    columns: us(ds, 'x00280011') ?? 0,
    numberOfFrames: num(ds, 'x00280008', source, 'NumberOfFrames') ?? 1,
    bitsAllocated,
    bitsStored: us(ds, 'x00280101') ?? bitsAllocated,
    highBit: us(ds, 'x00280102') ?? Math.max(0, (us(ds, 'x00280101') ?? bitsAllocated) - 1),
    pixelRepresentation,
    photometricInterpretation: str(ds, 'x00280004').toUpperCase() || 'MONOCHROME2',
    samplesPerPixel: us(ds, 'x00280002') ?? 1,
    planarConfiguration: us(ds, 'x00280006') ?? 0,
    rescaleSlope: num(ds, 'x00281053', source, 'RescaleSlope') ?? 1,
    rescaleIntercept: num(ds, 'x00281052', source, 'RescaleIntercept') ?? 0,
    pixelPaddingValue,
    convolutionKernel: strs(ds, 'x00181210').join('\\'),
    gantryTiltDeg: num(ds, 'x00181120', source, 'GantryDetectorTilt'),
    windowCenter: num(ds, 'x00281050', source, 'WindowCenter'),
    windowWidth: num(ds, 'x00281051', source, 'WindowWidth'),
    hasPixelData: !!pixelEl || headerOnly,
  };
  if (slice.rescaleSlope === 0) slice.rescaleSlope = 1; // a zero slope is a writer bug; 1 is what viewers assume
  if (headerOnly) {
    // dicom-parser stops before (7FE0,0010); we cannot know if it is there, so assume images have it.
    slice.hasPixelData = slice.rows > 0 && slice.columns > 0;
    return slice;
  }
  if (pixelEl) slice.pixelData = readPixelData(ds, pixelEl, slice);
  return slice;
}

function readPixelData(ds: dicomParser.DataSet, el: dicomParser.Element, s: DicomSlice): PixelDataRef {
  if (el.encapsulatedPixelData) {
    const fragments = el.fragments ?? [];
    if (fragments.length === 0) {
      throw new PsoasError('CORRUPT_FILE', `${s.source}: encapsulated Pixel Data (7FE0,0010) has no fragments`, 0, s.source);
    }
    let bytes: Uint8Array;
    if (s.numberOfFrames <= 1) {
      // Single frame: the frame is all fragments concatenated (an encoder may split one frame into several).
      bytes = dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, fragments.length) as Uint8Array;
    } else {
      const bot = el.basicOffsetTable && el.basicOffsetTable.length ? el.basicOffsetTable : undefined;
      bytes = dicomParser.readEncapsulatedImageFrame(
        ds,
        el,
        0,
        bot ?? dicomParser.createJPEGBasicOffsetTable(ds, el),
      ) as Uint8Array;
    }
    return { kind: 'encapsulated', bytes: toU8(bytes) };
  }
  if (!NATIVE_TRANSFER_SYNTAXES.includes(s.transferSyntaxUid)) {
    // A native pixel element under a compressed syntax: the file is inconsistent.
    throw new PsoasError(
      'CORRUPT_FILE',
      `${s.source}: Pixel Data is not encapsulated but the transfer syntax ${s.transferSyntaxUid} is compressed`,
      s.transferSyntaxUid,
      s.source,
    );
  }
  const frameBytes = (s.rows * s.columns * s.samplesPerPixel * s.bitsAllocated) / 8;
  const available = Math.min(el.length, ds.byteArray.length - el.dataOffset);
  if (frameBytes > 0 && available < frameBytes) {
    throw new PsoasError(
      'CORRUPT_FILE',
      `${s.source}: Pixel Data has ${available} bytes, ${s.rows}x${s.columns} pixels at ${s.bitsAllocated} bits need ${frameBytes} (truncated file?)`,
      { available, needed: frameBytes },
      s.source,
    );
  }
  return {
    kind: 'native',
    bytes: ds.byteArray.subarray(el.dataOffset, el.dataOffset + (frameBytes || available)) as Uint8Array,
    bigEndian: s.transferSyntaxUid === TS.EXPLICIT_BE,
  };
}

function toU8(b: ArrayLike<number> & { buffer?: ArrayBufferLike; byteOffset?: number; byteLength?: number }): Uint8Array {
  if (b instanceof Uint8Array) return b;
  return new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength);
}

/**
 * Why this object cannot be used as a CT image, or undefined when it can: not an image (SR, SEG, no pixels),
 * colour, or multi-frame. Modality is checked separately (NOT_CT) so a non-CT image series can be listed.
 */
export function nonImageReason(s: DicomSlice): string | undefined {
  if (NON_IMAGE_MODALITIES.has(s.modality)) return `Modality ${s.modality} holds no image`;
  for (const [prefix, name] of NON_IMAGE_SOP_PREFIXES) {
    if (s.sopClassUid.startsWith(prefix)) return `SOP Class ${s.sopClassUid} (${name}) holds no image`;
  }
  if (!s.hasPixelData) return 'no Pixel Data (7FE0,0010)';
  if (!(s.rows > 0 && s.columns > 0)) return `Rows/Columns missing (${s.rows}x${s.columns})`;
  if (s.samplesPerPixel !== 1) return `SamplesPerPixel ${s.samplesPerPixel} (${s.photometricInterpretation}) is a colour image`;
  return undefined;
}
