/**
 * DICOM series assembly: group parsed slices into series, validate them, sort them in patient space and stack
 * their HU into one Volume with an explicit VolumeGeometry.
 *
 * Geometry rules (see core/geometry.ts):
 * - Row direction r = IOP[0..2] (voxel index i), column direction c = IOP[3..5] (index j), normal n = r × c.
 * - Slices are sorted by n · IPP (mm along the normal), never by file name or InstanceNumber.
 * - Slice spacing comes from the positions (not SliceThickness). The k axis is the unit vector from the first
 *   to the last sorted IPP: equal to n for an ordinary stack, tilted for a gantry-tilted one.
 * - origin = IPP of the first sorted slice (centre of its first pixel); spacing = [PixelSpacing[1] (between
 *   columns, along i), PixelSpacing[0] (between rows, along j), slice step (along k)], all mm.
 */
import { cross, dot, type Mat3, type Vec3, type VolumeGeometry } from '../geometry';
import type { Volume, VolumeMeta } from '../volume';
import { PsoasError } from '../errors';
import { nonImageReason, type DicomSlice } from './dicom-read';
import { decodePixels } from './decode';

/** A set of slices that belong to one series and share one geometry (orientation, size, pixel spacing). */
export interface SeriesGroup {
  /** Unique key: the SeriesInstanceUID; `${uid}#2`… for further geometries under one UID; `synthetic-…` without UID. */
  id: string;
  /** Real UIDs ('' when missing in the files). */
  seriesInstanceUid: string;
  studyInstanceUid: string;
  /** Stable id to use for the study when StudyInstanceUID is missing. */
  studyId: string;
  slices: DicomSlice[];
  /** DICOM keywords of the identifying UIDs that are empty or absent in at least one slice. */
  missingUids: string[];
  modality: string;
  seriesDescription: string;
  seriesNumber?: number;
  /** Undefined when the group holds images; else why not (SR, SEG, no pixel data...). */
  nonImageReason?: string;
  /** True when ImageType contains LOCALIZER or the slices are not a stack (e.g. a scout mixed in the series). */
  isLocalizer: boolean;
  /** True when the slice normal is within 10 degrees of the patient's z axis (axial acquisition). */
  isAxial: boolean;
}

const UID_TAGS: Array<[keyof DicomSlice, string]> = [
  ['studyInstanceUid', 'StudyInstanceUID (0020,000D)'],
  ['seriesInstanceUid', 'SeriesInstanceUID (0020,000E)'],
  ['sopInstanceUid', 'SOPInstanceUID (0008,0018)'],
];

/** FNV-1a 32-bit, hex: stable synthetic ids across re-listings of the same files. */
function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

function r3(v: number): string {
  return (Math.round(v * 1000) / 1000).toFixed(3);
}

/** Key of the in-plane geometry: orientation (1e-3), matrix size, pixel spacing (1e-3 mm). */
function geometryKey(s: DicomSlice): string {
  if (!s.imageOrientationPatient) return `noorient|${s.rows}x${s.columns}`;
  return `${s.imageOrientationPatient.map(r3).join(',')}|${s.rows}x${s.columns}|${(s.pixelSpacing ?? [0, 0]).map(r3).join(',')}`;
}

function normalOf(s: DicomSlice): Vec3 | undefined {
  const o = s.imageOrientationPatient;
  if (!o) return undefined;
  return cross([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
}

/**
 * Groups slices by SeriesInstanceUID and, within a UID, by geometry, so a localizer or a second orientation
 * stored under the same UID becomes its own group. Slices without SeriesInstanceUID are grouped by
 * FrameOfReferenceUID + patient + study date + series number/description + geometry under a synthetic id.
 * Groups are sorted: studies in first-seen order, then by series number, then largest first.
 */
export function groupSlices(slices: DicomSlice[]): SeriesGroup[] {
  const byUid = new Map<string, DicomSlice[]>();
  for (const s of slices) {
    const key = s.seriesInstanceUid
      ? `uid:${s.seriesInstanceUid}`
      : `nouid:${s.studyInstanceUid}|${s.frameOfReferenceUid}|${s.patientId}|${s.patientName}|${s.studyDate}|${s.seriesNumber ?? ''}|${s.seriesDescription}|${s.modality}`;
    let list = byUid.get(key);
    if (!list) byUid.set(key, (list = []));
    list.push(s);
  }
  const groups: SeriesGroup[] = [];
  for (const [key, list] of byUid) {
    const byGeom = new Map<string, DicomSlice[]>();
    for (const s of list) {
      const g = nonImageReason(s) ? 'nonimage' : geometryKey(s);
      let l = byGeom.get(g);
      if (!l) byGeom.set(g, (l = []));
      l.push(s);
    }
    const parts = [...byGeom.entries()].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1));
    parts.forEach(([gk, part], index) => {
      const first = part[0];
      const uid = first.seriesInstanceUid;
      const base = uid || `synthetic-series-${hash(key)}`;
      const id = index === 0 ? base : `${base}#${index + 1}`;
      const missing = new Set<string>();
      for (const s of part) for (const [field, name] of UID_TAGS) if (!s[field]) missing.add(name);
      const studyUid = part.find((s) => s.studyInstanceUid)?.studyInstanceUid ?? '';
      const n = normalOf(first);
      const nLen = n ? Math.hypot(n[0], n[1], n[2]) : 0;
      groups.push({
        id,
        seriesInstanceUid: uid,
        studyInstanceUid: studyUid,
        studyId: studyUid || `synthetic-study-${hash(`${first.frameOfReferenceUid}|${first.patientId}|${first.patientName}|${first.studyDate}`)}`,
        slices: part,
        missingUids: [...missing],
        modality: first.modality,
        seriesDescription: first.seriesDescription,
        seriesNumber: first.seriesNumber,
        nonImageReason: gk === 'nonimage' ? nonImageReason(first) : undefined,
        isLocalizer: part.some((s) => s.imageType.includes('LOCALIZER')),
        isAxial: !!n && nLen > 0 && Math.abs(n[2]) / nLen > Math.cos((10 * Math.PI) / 180),
      });
    });
  }
  return groups;
}

export interface AssembleOptions {
  /** Decoded HU of one slice; default decodePixels(slice). Sources use it to fetch/decode lazily. */
  pixels?: (slice: DicomSlice) => Promise<Int16Array | Float32Array>;
  /** Accept slices without Study/Series/SOP Instance UIDs (local files) with a warning. Default false: MISSING_UID. */
  allowMissingUids?: boolean;
  /** Fewest slices accepted (default 2: spacing needs two positions). */
  minSlices?: number;
  /** What to do with irregular spacing: resample to the median (default) or refuse with UNEVEN_SPACING. */
  uneven?: 'resample' | 'error';
  /** Decodes in flight at once (default 4; matters when `pixels` fetches over the network). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Label of the series for messages and meta.source (a folder, a URL). */
  source?: string;
  /** Id to put in meta.seriesId (the SeriesGroup id; a synthetic one when UIDs are missing). */
  seriesId?: string;
}

/** The validated, sorted layout of a series before any pixel is decoded. */
export interface VolumePlan {
  /** Slices sorted along the stack direction (ascending n · IPP). */
  sorted: DicomSlice[];
  /** Positions (mm) of the sorted slices along the k axis, from the first slice (t[0] = 0). */
  positionsMm: number[];
  geometry: VolumeGeometry;
  /** Present when spacing was irregular: positions (mm along k) of the uniform output slices. */
  resampleTo?: number[];
  warnings: string[];
  meta: VolumeMeta;
}

function fileList(slices: DicomSlice[], max = 3): string {
  const names = slices.slice(0, max).map((s) => s.source);
  return slices.length > max ? `${names.join(', ')} and ${slices.length - max} more` : names.join(', ');
}

function fmt(v: number, d = 2): string {
  return String(+v.toFixed(d));
}

/**
 * Validates a series and computes its geometry without decoding pixels. Throws PsoasError:
 * TOO_FEW_SLICES, NOT_IMAGE, NOT_CT, MISSING_UID, MISSING_TAG, MIXED_ORIENTATION, MIXED_SIZE,
 * DUPLICATE_SLICE, MISSING_SLICE, UNEVEN_SPACING; BAD_ARGUMENT for multi-frame objects (not supported yet).
 */
export function planVolume(slices: DicomSlice[], opts: AssembleOptions = {}): VolumePlan {
  const label = opts.source ?? (slices[0]?.source ?? 'series');
  const minSlices = Math.max(1, opts.minSlices ?? 2);
  const warnings: string[] = [];
  if (slices.length === 0) {
    throw new PsoasError('TOO_FEW_SLICES', `${label}: the series has no slices`, 0, label);
  }
  const nonImage = slices.filter((s) => nonImageReason(s));
  if (nonImage.length) {
    throw new PsoasError(
      'NOT_IMAGE',
      `${fileList(nonImage)}: not an image (${nonImageReason(nonImage[0])}); psoasview loads CT image series only`,
      nonImage[0].sopClassUid || nonImage[0].modality,
      nonImage[0].source,
    );
  }
  const multi = slices.find((s) => s.numberOfFrames > 1);
  if (multi) {
    throw new PsoasError(
      'BAD_ARGUMENT',
      `${multi.source}: multi-frame image (NumberOfFrames ${multi.numberOfFrames}, e.g. Enhanced CT) is not supported yet; export the series as single-frame CT slices`,
      multi.numberOfFrames,
      multi.source,
    );
  }
  const nonCt = slices.filter((s) => s.modality !== 'CT');
  if (nonCt.length) {
    const m = nonCt[0].modality || '(empty)';
    throw new PsoasError('NOT_CT', `${fileList(nonCt)}: Modality is ${m}, not CT; psoasview measures CT only`, m, nonCt[0].source);
  }
  // Identity. Without UIDs nothing can be written back or re-fetched from a PACS.
  const missingUid = new Map<string, DicomSlice[]>();
  for (const s of slices) for (const [field, name] of UID_TAGS) if (!s[field]) {
    if (!missingUid.has(name)) missingUid.set(name, []);
    missingUid.get(name)!.push(s);
  }
  if (missingUid.size) {
    const parts = [...missingUid.entries()].map(([tag, list]) => `${tag} in ${list.length === slices.length ? 'all ' + slices.length + ' files' : fileList(list)}`);
    if (!opts.allowMissingUids) {
      const first = [...missingUid.values()][0][0];
      throw new PsoasError('MISSING_UID', `${label}: empty or missing ${parts.join('; ')} (e.g. ${first.source})`, [...missingUid.keys()], first.source);
    }
    warnings.push(`Missing UIDs: ${parts.join('; ')}. Loaded with a synthetic series id; results cannot be linked to or stored in a PACS until the files have UIDs.`);
  }
  // Geometry tags.
  for (const s of slices) {
    const missing = [
      !s.imagePositionPatient && 'ImagePositionPatient (0020,0032)',
      !s.imageOrientationPatient && 'ImageOrientationPatient (0020,0037)',
      !s.pixelSpacing && 'PixelSpacing (0028,0030)',
    ].filter(Boolean);
    if (missing.length) {
      throw new PsoasError('MISSING_TAG', `${s.source}: ${missing.join(' and ')} missing; cannot place the slice in patient space`, missing, s.source);
    }
  }
  // Compare with the most common geometry so the message names the odd file out, whatever the file order.
  const counts = new Map<string, number>();
  for (const s of slices) counts.set(geometryKey(s), (counts.get(geometryKey(s)) ?? 0) + 1);
  const modeKey = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
  const first = slices.find((s) => geometryKey(s) === modeKey)!;
  const iop0 = first.imageOrientationPatient!;
  for (const s of slices) {
    const iop = s.imageOrientationPatient!;
    if (iop.some((v, i) => Math.abs(v - iop0[i]) > 1e-3)) {
      throw new PsoasError(
        'MIXED_ORIENTATION',
        `${label}: ImageOrientationPatient differs between ${first.source} (${iop0.map((v) => fmt(v, 4)).join('\\')}) and ${s.source} (${iop.map((v) => fmt(v, 4)).join('\\')})`,
        { first: iop0, other: iop, files: [first.source, s.source] },
        s.source,
      );
    }
    const ps0 = first.pixelSpacing!;
    const ps = s.pixelSpacing!;
    if (s.rows !== first.rows || s.columns !== first.columns || Math.abs(ps[0] - ps0[0]) > 1e-3 || Math.abs(ps[1] - ps0[1]) > 1e-3) {
      throw new PsoasError(
        'MIXED_SIZE',
        `${label}: image size differs between ${first.source} (${first.columns}x${first.rows}, ${ps0.join('\\')} mm) and ${s.source} (${s.columns}x${s.rows}, ${ps.join('\\')} mm)`,
        { files: [first.source, s.source] },
        s.source,
      );
    }
  }
  // Orthonormal in-plane axes (IOP is written with limited precision).
  const r = unit([iop0[0], iop0[1], iop0[2]]);
  let c: Vec3 = [iop0[3], iop0[4], iop0[5]];
  const rc = dot(r, c);
  c = unit([c[0] - rc * r[0], c[1] - rc * r[1], c[2] - rc * r[2]]);
  const n = unit(cross(r, c));
  const sorted = [...slices].sort((a, b) => dot(n, a.imagePositionPatient!) - dot(n, b.imagePositionPatient!));
  if (sorted.length < minSlices) {
    throw new PsoasError('TOO_FEW_SLICES', `${label}: ${sorted.length} slice(s); at least ${minSlices} are needed to build a volume`, sorted.length, label);
  }
  const along = sorted.map((s) => dot(n, s.imagePositionPatient!));
  for (let k = 1; k < sorted.length; k++) {
    if (Math.abs(along[k] - along[k - 1]) < 0.01) {
      throw new PsoasError(
        'DUPLICATE_SLICE',
        `${label}: ${sorted[k - 1].source} and ${sorted[k].source} are at the same position (${fmt(along[k], 3)} mm along the slice normal; IPP ${sorted[k].imagePositionPatient!.map((v) => fmt(v, 3)).join('\\')})`,
        { files: [sorted[k - 1].source, sorted[k].source], positionMm: along[k] },
        sorted[k].source,
      );
    }
  }
  const p0 = sorted[0].imagePositionPatient!;
  const pN = sorted[sorted.length - 1].imagePositionPatient!;
  let u: Vec3 = n;
  let positions: number[] = [0];
  if (sorted.length > 1) {
    u = unit([pN[0] - p0[0], pN[1] - p0[1], pN[2] - p0[2]]);
    positions = sorted.map((s) => dot(u, sub(s.imagePositionPatient!, p0)));
  }
  const gaps = positions.slice(1).map((t, k) => t - positions[k]);
  const median = gaps.length ? medianOf(gaps) : first.sliceThicknessMm ?? 1;
  // Every IPP must lie on the line p0 + t u (else the slices do not form one stack).
  const lineTol = Math.max(0.1, 0.05 * median);
  for (let k = 0; k < sorted.length; k++) {
    const d = sub(sorted[k].imagePositionPatient!, p0);
    const t = positions[k];
    const off = Math.hypot(d[0] - t * u[0], d[1] - t * u[1], d[2] - t * u[2]);
    if (off > lineTol) {
      throw new PsoasError(
        'MIXED_ORIENTATION',
        `${label}: slice positions do not lie on one line: ${sorted[k].source} is ${fmt(off)} mm off the line from ${sorted[0].source} to ${sorted[sorted.length - 1].source}`,
        { file: sorted[k].source, offsetMm: off },
        sorted[k].source,
      );
    }
  }
  const cosTilt = Math.abs(dot(u, n));
  const tiltDeg = (Math.acos(Math.min(1, cosTilt)) * 180) / Math.PI;
  if (sorted.length > 1 && tiltDeg > 0.05) {
    warnings.push(
      `Gantry tilt ${fmt(tiltDeg, 1)}°: the slices advance at ${fmt(tiltDeg, 1)}° to their normal; the volume uses the actual slice direction (a sheared grid), no resampling.`,
    );
  }
  // Spacing. gaps[k] = mm between sorted slices k and k+1 along u.
  let step = median;
  let resampleTo: number[] | undefined;
  if (gaps.length) {
    const tol = Math.max(0.01 * median, 0.05);
    const uneven = gaps.some((g) => Math.abs(g - median) > tol);
    if (!uneven) {
      step = positions[positions.length - 1] / (positions.length - 1); // mean step: exact end points
    } else {
      const big = gaps.map((g) => g > 1.5 * median);
      const isolated = big.findIndex((b, k) => b && !big[k - 1] && !big[k + 1]);
      if (isolated >= 0) {
        const k = isolated;
        const missingCount = Math.round(gaps[k] / median) - 1;
        throw new PsoasError(
          'MISSING_SLICE',
          `${label}: about ${Math.max(1, missingCount)} slice(s) missing between ${sorted[k].source} and ${sorted[k + 1].source}: gap ${fmt(gaps[k])} mm (at ${fmt(along[k])}..${fmt(along[k + 1])} mm along the normal) where the spacing is ${fmt(median)} mm`,
          { afterFile: sorted[k].source, beforeFile: sorted[k + 1].source, fromMm: along[k], toMm: along[k + 1], gapMm: gaps[k], spacingMm: median },
          sorted[k + 1].source,
        );
      }
      const minGap = Math.min(...gaps);
      const maxGap = Math.max(...gaps);
      if (opts.uneven === 'error' || maxGap > 3 * median) {
        throw new PsoasError(
          'UNEVEN_SPACING',
          `${label}: slice spacing varies from ${fmt(minGap)} to ${fmt(maxGap)} mm (median ${fmt(median)} mm)${maxGap > 3 * median ? '; gaps over 3x the median are too large to interpolate' : ''}`,
          { minMm: minGap, maxMm: maxGap, medianMm: median },
          label,
        );
      }
      const total = positions[positions.length - 1];
      const count = Math.max(2, Math.round(total / median) + 1);
      step = total / (count - 1);
      resampleTo = Array.from({ length: count }, (_, k) => k * step);
      warnings.push(
        `Uneven slice spacing ${fmt(minGap)}–${fmt(maxGap)} mm: resampled by linear interpolation along the slice axis to ${count} slices at ${fmt(step, 3)} mm (median spacing).`,
      );
    }
  } else {
    step = first.sliceThicknessMm && first.sliceThicknessMm > 0 ? first.sliceThicknessMm : 1;
  }
  const ps = first.pixelSpacing!;
  const direction: Mat3 = [r[0], r[1], r[2], c[0], c[1], c[2], u[0], u[1], u[2]];
  const geometry: VolumeGeometry = {
    dimensions: [first.columns, first.rows, resampleTo ? resampleTo.length : sorted.length],
    spacing: [ps[1], ps[0], step],
    origin: [p0[0], p0[1], p0[2]],
    direction,
  };
  const meta: VolumeMeta = {
    modality: first.modality,
    patientName: first.patientName,
    patientId: first.patientId,
    studyInstanceUid: first.studyInstanceUid || undefined,
    seriesInstanceUid: first.seriesInstanceUid || undefined,
    seriesDescription: first.seriesDescription,
    studyDate: first.studyDate,
    source: label,
    warnings,
    seriesId: opts.seriesId ?? (first.seriesInstanceUid || undefined),
    syntheticUids: missingUid.size > 0,
    frameOfReferenceUid: first.frameOfReferenceUid || undefined,
    sopClassUid: first.sopClassUid || undefined,
    /** One per k when not resampled (for DICOM SEG references); in sorted order. */
    sopInstanceUids: resampleTo ? undefined : sorted.map((s) => s.sopInstanceUid),
    sourceSlicePositionsMm: resampleTo ? positions : undefined,
    resampled: !!resampleTo,
    sliceThicknessMm: first.sliceThicknessMm,
    convolutionKernel: first.convolutionKernel || undefined,
    windowCenter: first.windowCenter,
    windowWidth: first.windowWidth,
    seriesNumber: first.seriesNumber,
    studyTime: first.studyTime,
    studyDescription: first.studyDescription,
    accessionNumber: first.accessionNumber,
    studyId: first.studyId,
    patientBirthDate: first.patientBirthDate,
    patientSex: first.patientSex,
    manufacturer: first.manufacturer,
    gantryTiltDeg: tiltDeg > 0.05 ? tiltDeg : 0,
  };
  return { sorted, positionsMm: positions, geometry, resampleTo, warnings, meta };
}

function unit(v: Vec3): Vec3 {
  const l = Math.hypot(v[0], v[1], v[2]) || 1;
  return [v[0] / l, v[1] / l, v[2] / l];
}

function sub(a: Vec3, b: Vec3): Vec3 {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}

function medianOf(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('The load was aborted', 'AbortError');
}

/** Runs fn over items with at most `limit` in flight, in any completion order. */
export async function mapLimit<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      throwIfAborted(signal);
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/**
 * Validates (planVolume), then decodes every slice and stacks HU into one volume (Int16Array when every slice
 * is integral HU in range, else Float32Array). Irregular spacing is resampled to the median by linear
 * interpolation along k (rounded to whole HU for Int16 data) with a warning in meta.warnings.
 */
export async function assembleVolume(slices: DicomSlice[], opts: AssembleOptions = {}): Promise<Volume> {
  const plan = planVolume(slices, opts);
  const { sorted } = plan;
  const [nx, ny] = plan.geometry.dimensions;
  const plane = nx * ny;
  const decode = opts.pixels ?? decodePixels;
  let src: Int16Array | Float32Array = new Int16Array(plane * sorted.length);
  let done = 0;
  opts.onProgress?.(0, sorted.length);
  await mapLimit(
    sorted,
    opts.concurrency ?? 4,
    async (s, k) => {
      const hu = await decode(s);
      throwIfAborted(opts.signal);
      if (hu.length !== plane) {
        throw new PsoasError('DECODE_FAILED', `${s.source}: decoded ${hu.length} pixels, Rows x Columns is ${plane}`, hu.length, s.source);
      }
      if (hu instanceof Float32Array && src instanceof Int16Array) src = Float32Array.from(src); // upgrade once
      src.set(hu, k * plane);
      opts.onProgress?.(++done, sorted.length);
    },
    opts.signal,
  );
  let data: Int16Array | Float32Array = src;
  if (plan.resampleTo) {
    const t = plan.positionsMm;
    const out = src instanceof Int16Array ? new Int16Array(plane * plan.resampleTo.length) : new Float32Array(plane * plan.resampleTo.length);
    let a = 0;
    plan.resampleTo.forEach((z, k) => {
      while (a < t.length - 2 && t[a + 1] < z) a++;
      const w = Math.min(1, Math.max(0, (z - t[a]) / (t[a + 1] - t[a])));
      const A = a * plane;
      const B = (a + 1) * plane;
      const O = k * plane;
      for (let p = 0; p < plane; p++) {
        const v = src[A + p] * (1 - w) + src[B + p] * w;
        out[O + p] = out instanceof Int16Array ? Math.round(v) : v;
      }
    });
    data = out;
  }
  return { geometry: plan.geometry, data, units: 'HU', meta: plan.meta };
}
