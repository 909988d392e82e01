/**
 * DICOMweb data source: QIDO-RS search, WADO-RS series metadata and frames, decoded with the same decoders as
 * local files and assembled with core/io/series.ts.
 *
 * Frames are requested with `Accept: multipart/related; type="application/octet-stream"; transfer-syntax=*`
 * so the PACS sends them as stored (Orthanc cannot transcode JPEG 2000); each part's Content-Type says the
 * transfer syntax, and core/io/decode.ts decodes it.
 */
import { PsoasError, isPsoasError } from '../core/errors';
import type { Vec3 } from '../core/geometry';
import type { Volume } from '../core/volume';
import { TS, type DicomSlice, type PixelDataRef } from '../core/io/dicom-read';
import { decodePixels } from '../core/io/decode';
import { assembleVolume, groupSlices, planVolume } from '../core/io/series';
import type { DataSource, LoadProgress, SeriesSummary, StudyQuery, StudySummary } from './types';

export interface DicomWebOptions {
  /** e.g. '/dicomweb' (same-origin proxy) or 'http://127.0.0.1:8042/dicom-web'. */
  baseUrl: string;
  fetch?: typeof fetch;
  /** Frames downloaded at once (default 6, a browser's per-host connection limit). */
  concurrency?: number;
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
}

/** DICOM JSON model: { "0020000D": { vr: "UI", Value: [...] } }. */
export type DicomJson = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string; InlineBinary?: string }>;

export const FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';

function jsonValues(ds: DicomJson, tag: string): unknown[] {
  return ds[tag]?.Value ?? [];
}
function jStr(ds: DicomJson, tag: string): string {
  const v = jsonValues(ds, tag);
  return v
    .map((x) => (x && typeof x === 'object' ? String((x as { Alphabetic?: string }).Alphabetic ?? '') : x == null ? '' : String(x)))
    .join('\\')
    .trim();
}
function jNums(ds: DicomJson, tag: string): number[] | undefined {
  const v = jsonValues(ds, tag).map((x) => Number(x));
  return v.length && v.every(Number.isFinite) ? v : undefined;
}
function jNum(ds: DicomJson, tag: string): number | undefined {
  return jNums(ds, tag)?.[0];
}

/** A DicomSlice (header only) from one instance of WADO-RS series metadata. */
export function sliceFromDicomJson(ds: DicomJson, source: string): DicomSlice {
  const ipp = jNums(ds, '00200032');
  const iop = jNums(ds, '00200037');
  const ps = jNums(ds, '00280030');
  const bitsAllocated = jNum(ds, '00280100') ?? 16;
  const pixelRep = jNum(ds, '00280103') ?? 0;
  const sopClassUid = jStr(ds, '00080016');
  return {
    source,
    transferSyntaxUid: jStr(ds, '00020010') || TS.EXPLICIT_LE,
    sopClassUid,
    sopInstanceUid: jStr(ds, '00080018'),
    studyInstanceUid: jStr(ds, '0020000D'),
    seriesInstanceUid: jStr(ds, '0020000E'),
    frameOfReferenceUid: jStr(ds, '00200052'),
    modality: jStr(ds, '00080060').toUpperCase(),
    imageType: jsonValues(ds, '00080008').map((x) => String(x).toUpperCase()),
    patientName: jStr(ds, '00100010'),
    patientId: jStr(ds, '00100020'),
    patientBirthDate: jStr(ds, '00100030'),
    patientSex: jStr(ds, '00100040'),
    studyDate: jStr(ds, '00080020'),
    studyTime: jStr(ds, '00080030'),
    studyDescription: jStr(ds, '00081030'),
    accessionNumber: jStr(ds, '00080050'),
    studyId: jStr(ds, '00200010'),
    seriesDescription: jStr(ds, '0008103E'),
    seriesNumber: jNum(ds, '00200011'),
    instanceNumber: jNum(ds, '00200013'),
    manufacturer: jStr(ds, '00080070'),
    imagePositionPatient: ipp && ipp.length >= 3 ? ([ipp[0], ipp[1], ipp[2]] as Vec3) : undefined,
    imageOrientationPatient: iop && iop.length >= 6 ? [iop[0], iop[1], iop[2], iop[3], iop[4], iop[5]] : undefined,
    pixelSpacing: ps ? [ps[0], ps[1] ?? ps[0]] : undefined,
    sliceThicknessMm: jNum(ds, '00180050'),
    rows: jNum(ds, '00280010') ?? 0,
    columns: jNum(ds, '00280011') ?? 0,
    numberOfFrames: jNum(ds, '00280008') ?? 1,
    bitsAllocated,
    bitsStored: jNum(ds, '00280101') ?? bitsAllocated,
    highBit: jNum(ds, '00280102') ?? bitsAllocated - 1,
    pixelRepresentation: pixelRep,
    photometricInterpretation: jStr(ds, '00280004').toUpperCase() || 'MONOCHROME2',
    samplesPerPixel: jNum(ds, '00280002') ?? 1,
    planarConfiguration: jNum(ds, '00280006') ?? 0,
    rescaleSlope: jNum(ds, '00281053') || 1,
    rescaleIntercept: jNum(ds, '00281052') ?? 0,
    pixelPaddingValue: jNum(ds, '00280120'),
    convolutionKernel: jStr(ds, '00181210'),
    gantryTiltDeg: jNum(ds, '00181120'),
    windowCenter: jNum(ds, '00281050'),
    windowWidth: jNum(ds, '00281051'),
    // In metadata the pixels are a BulkDataURI; an image SOP class with Rows/Columns has them.
    hasPixelData: !!ds['7FE00010'] || (jNum(ds, '00280010') ?? 0) > 0,
  };
}

/** One part of a multipart/related body. */
export interface MultipartPart {
  contentType: string;
  body: Uint8Array;
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = hay.length - needle.length;
  outer: for (let i = from; i <= last; i++) {
    if (hay[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Splits a multipart/related body (RFC 2046) using the boundary from its Content-Type. */
export function parseMultipart(body: Uint8Array, contentType: string, url: string): MultipartPart[] {
  const m = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!/^multipart\//i.test(contentType) || !m) {
    throw new PsoasError('PACS_BAD_RESPONSE', `${url} answered Content-Type "${contentType}", expected multipart/related with a boundary`, contentType, url);
  }
  const enc = new TextEncoder();
  const delim = enc.encode(`--${m[1]}`);
  const parts: MultipartPart[] = [];
  let pos = indexOf(body, delim, 0);
  if (pos < 0) throw new PsoasError('PACS_BAD_RESPONSE', `${url}: multipart body has no boundary "${m[1]}"`, m[1], url);
  const crlfcrlf = enc.encode('\r\n\r\n');
  while (pos >= 0) {
    let start = pos + delim.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break; // closing "--boundary--"
    if (body[start] === 0x0d && body[start + 1] === 0x0a) start += 2;
    const headerEnd = indexOf(body, crlfcrlf, start);
    if (headerEnd < 0) throw new PsoasError('PACS_BAD_RESPONSE', `${url}: multipart part without header end`, pos, url);
    const headers = new TextDecoder().decode(body.subarray(start, headerEnd));
    const dataStart = headerEnd + 4;
    const next = indexOf(body, enc.encode(`\r\n--${m[1]}`), dataStart);
    const dataEnd = next < 0 ? body.length : next;
    const ct = /^content-type:\s*(.+)$/im.exec(headers)?.[1]?.trim() ?? 'application/octet-stream';
    parts.push({ contentType: ct, body: body.subarray(dataStart, dataEnd) });
    pos = next < 0 ? -1 : next + 2;
  }
  return parts;
}

const MEDIA_TYPE_TS: Record<string, string> = {
  'application/octet-stream': TS.EXPLICIT_LE,
  'image/jpeg': TS.JPEG_BASELINE,
  'image/jls': TS.JPEG_LS_LOSSLESS,
  'image/x-jls': TS.JPEG_LS_LOSSLESS,
  'image/jp2': TS.J2K_LOSSLESS,
  'image/jpx': TS.J2K_LOSSLESS,
  'image/j2c': TS.J2K_LOSSLESS,
  'image/jphc': TS.HTJ2K_LOSSLESS,
  'image/dicom-rle': TS.RLE,
  'image/x-dicom-rle': TS.RLE,
};

/** Transfer syntax of a frame part: its `transfer-syntax=` parameter, else the media type's default. */
export function transferSyntaxOfPart(contentType: string): string {
  const ts = /transfer-syntax\s*=\s*"?([0-9.]+)"?/i.exec(contentType)?.[1];
  if (ts) return ts;
  const media = contentType.split(';')[0].trim().toLowerCase();
  return MEDIA_TYPE_TS[media] ?? TS.EXPLICIT_LE;
}

function isAbort(e: unknown): boolean {
  return (e as { name?: string })?.name === 'AbortError';
}

export function createDicomWebSource(opts: DicomWebOptions): DataSource & { readonly baseUrl: string } {
  const base = opts.baseUrl.replace(/\/+$/, '');
  const doFetch = opts.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  const concurrency = opts.concurrency ?? 6;

  async function request(path: string, accept: string, signal?: AbortSignal): Promise<Response> {
    const url = base + path;
    let res: Response;
    try {
      res = await doFetch(url, { headers: { Accept: accept, ...opts.headers }, signal });
    } catch (e) {
      if (isAbort(e) || signal?.aborted) throw signal?.reason ?? e;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
      throw new PsoasError('PACS_UNREACHABLE', `Cannot reach the PACS at ${url} (${why}). Is the DICOMweb server running and the URL right?`, url, url);
    }
    if (!res.ok && res.status !== 204) {
      const detail = await res.text().then(
        (t) => t.replace(/\s+/g, ' ').trim().slice(0, 200),
        () => '',
      );
      throw new PsoasError(
        'PACS_HTTP_ERROR',
        `${url} answered HTTP ${res.status} ${res.statusText}${detail ? `: ${detail}` : ''}`,
        { url, status: res.status, statusText: res.statusText },
        url,
      );
    }
    return res;
  }

  async function getJson<T>(path: string, signal?: AbortSignal): Promise<T[]> {
    const url = base + path;
    const res = await request(path, 'application/dicom+json, application/json', signal);
    if (res.status === 204) return [];
    const text = await res.text();
    if (!text.trim()) return [];
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new PsoasError('PACS_BAD_RESPONSE', `${url} did not answer JSON (starts with "${text.slice(0, 60)}")`, url, url);
    }
    if (!Array.isArray(data)) throw new PsoasError('PACS_BAD_RESPONSE', `${url} answered JSON that is not an array`, url, url);
    return data as T[];
  }

  const enc = encodeURIComponent;

  async function searchStudies(query: StudyQuery = {}): Promise<StudySummary[]> {
    const p = new URLSearchParams();
    if (query.patientName) p.set('PatientName', query.patientName);
    if (query.patientId) p.set('PatientID', query.patientId);
    if (query.studyDate) p.set('StudyDate', query.studyDate);
    if (query.modality) p.set('ModalitiesInStudy', query.modality);
    // StudyDescription, ModalitiesInStudy, NumberOfStudyRelatedSeries/Instances.
    for (const f of ['00081030', '00080061', '00201206', '00201208']) p.append('includefield', f);
    const rows = await getJson<DicomJson>(`/studies?${p.toString()}`);
    return rows.map((ds) => ({
      studyInstanceUid: jStr(ds, '0020000D'),
      patientName: jStr(ds, '00100010'),
      patientId: jStr(ds, '00100020'),
      studyDate: jStr(ds, '00080020'),
      studyDescription: jStr(ds, '00081030'),
      modalities: jsonValues(ds, '00080061').map(String),
      numberOfSeries: jNum(ds, '00201206'),
      numberOfInstances: jNum(ds, '00201208'),
    }));
  }

  async function listSeries(studyUid: string): Promise<SeriesSummary[]> {
    let rows: DicomJson[];
    try {
      rows = await getJson<DicomJson>(`/studies/${enc(studyUid)}/series?includefield=0008103E&includefield=00200011&includefield=00201209`);
    } catch (e) {
      if (isPsoasError(e) && e.code === 'PACS_HTTP_ERROR' && (e.value as { status?: number }).status === 404) {
        throw new PsoasError('STUDY_NOT_FOUND', `Study ${studyUid} was not found on ${base} (HTTP 404)`, studyUid, base);
      }
      throw e;
    }
    if (rows.length === 0) throw new PsoasError('STUDY_NOT_FOUND', `Study ${studyUid} was not found on ${base} (no series)`, studyUid, base);
    const out: SeriesSummary[] = rows.map((ds) => ({
      studyInstanceUid: studyUid,
      seriesInstanceUid: jStr(ds, '0020000E'),
      modality: jStr(ds, '00080060').toUpperCase(),
      seriesDescription: jStr(ds, '0008103E'),
      seriesNumber: jNum(ds, '00200011'),
      numberOfInstances: jNum(ds, '00201209') ?? 0,
    }));
    // Thickness, kernel and orientation are instance-level: read them from one instance of each CT series.
    await Promise.all(
      out
        .filter((s) => s.modality === 'CT')
        .map(async (s) => {
          try {
            const inst = await getJson<DicomJson>(`/studies/${enc(studyUid)}/series/${enc(s.seriesInstanceUid)}/instances?limit=1`);
            const sop = inst[0] && jStr(inst[0], '00080018');
            if (!sop) return;
            const meta = await getJson<DicomJson>(`/studies/${enc(studyUid)}/series/${enc(s.seriesInstanceUid)}/instances/${enc(sop)}/metadata`);
            if (!meta[0]) return;
            const sl = sliceFromDicomJson(meta[0], sop);
            s.sliceThicknessMm = sl.sliceThicknessMm;
            s.convolutionKernel = sl.convolutionKernel || undefined;
            const g = groupSlices([sl])[0];
            s.isAxial = sl.imageOrientationPatient ? g.isAxial : undefined;
          } catch (e) {
            if (isPsoasError(e) && e.code !== 'PACS_UNREACHABLE') return; // optional details; the listing stands
            throw e;
          }
        }),
    );
    return out;
  }

  async function fetchFrame(slice: DicomSlice, signal?: AbortSignal): Promise<DicomSlice> {
    const path = `/studies/${enc(slice.studyInstanceUid)}/series/${enc(slice.seriesInstanceUid)}/instances/${enc(slice.sopInstanceUid)}/frames/1`;
    const url = base + path;
    const res = await request(path, FRAME_ACCEPT, signal);
    const body = new Uint8Array(await res.arrayBuffer());
    const parts = parseMultipart(body, res.headers.get('content-type') ?? '', url);
    if (parts.length === 0) throw new PsoasError('PACS_BAD_RESPONSE', `${url}: multipart response has no parts`, url, url);
    const part = parts[0];
    const ts = transferSyntaxOfPart(part.contentType);
    const native = ts === TS.EXPLICIT_LE || ts === TS.IMPLICIT_LE || ts === TS.EXPLICIT_BE || ts === TS.DEFLATED_LE;
    const pixelData: PixelDataRef = native
      ? { kind: 'native', bytes: part.body, bigEndian: ts === TS.EXPLICIT_BE }
      : { kind: 'encapsulated', bytes: part.body };
    return { ...slice, source: url, transferSyntaxUid: native ? TS.EXPLICIT_LE : ts, pixelData };
  }

  async function loadSeries(
    studyUid: string,
    seriesUid: string,
    onProgress?: (p: LoadProgress) => void,
    signal?: AbortSignal,
  ): Promise<Volume> {
    const metaPath = `/studies/${enc(studyUid)}/series/${enc(seriesUid)}/metadata`;
    onProgress?.({ fraction: 0, stage: 'metadata' });
    const rows = await getJson<DicomJson>(metaPath, signal);
    if (rows.length === 0) {
      throw new PsoasError('STUDY_NOT_FOUND', `Series ${seriesUid} of study ${studyUid} has no instances on ${base}`, seriesUid, base + metaPath);
    }
    const slices = rows.map((ds) => {
      const sop = jStr(ds, '00080018');
      return sliceFromDicomJson(ds, `${base}/studies/${studyUid}/series/${seriesUid}/instances/${sop}`);
    });
    // Localizers stored under the series UID: load the main stack (largest geometry group), warn about the rest.
    const groups = groupSlices(slices).filter((g) => !g.nonImageReason);
    const main = groups[0]?.slices ?? slices;
    const dropped = slices.length - main.length;
    planVolume(main, { source: base + metaPath }); // validate before downloading any pixel
    const total = main.length;
    const vol = await assembleVolume(main, {
      source: `${base}/studies/${studyUid}/series/${seriesUid}`,
      concurrency,
      signal,
      pixels: async (s) => decodePixels(await fetchFrame(s, signal)),
      // metadata = first 5%, pixels = 5..95%, assembly = the rest.
      onProgress: (done) => onProgress?.({ fraction: 0.05 + (0.9 * done) / Math.max(1, total), stage: 'pixels', loaded: done, total }),
    });
    if (dropped > 0) {
      vol.meta.warnings = [
        ...(vol.meta.warnings ?? []),
        `${dropped} instance(s) of this series with another orientation/size or no image (e.g. a localizer) were left out.`,
      ];
    }
    onProgress?.({ fraction: 1, stage: 'assemble', loaded: total, total });
    return vol;
  }

  return { kind: 'dicomweb', label: base, baseUrl: base, searchStudies, listSeries, loadSeries };
}
