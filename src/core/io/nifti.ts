/**
 * NIfTI-1 / NIfTI-2 reader and NIfTI-1 writer (.nii and .nii.gz).
 *
 * Coordinate spaces: NIfTI world coordinates are RAS+ (mm; +x towards the patient's Right, +y Anterior,
 * +z Superior); psoasview/DICOM use LPS (+x Left, +y Posterior, +z Superior). Hence LPS = diag(-1, -1, 1) · RAS,
 * applied here only. Voxel order is i fastest in both, as in core/geometry.
 *
 * Affine: world_RAS(mm) = A · [i, j, k, 1]. The reader prefers the sform (sform_code > 0), then the qform
 * (qform_code > 0), then pixdim alone (axes assumed RAS-aligned, ANALYZE style, with a warning). Spacing = the
 * column norms of the 3x3 part (works for oblique and non-orthonormal affines); direction = normalised columns.
 */
import { gunzipSync, gzipSync } from 'fflate';
import { PsoasError } from '../errors';
import type { Mat3, Vec3, VolumeGeometry } from '../geometry';
import type { Volume, VoxelArray } from '../volume';

const DT = {
  UINT8: 2,
  INT16: 4,
  INT32: 8,
  FLOAT32: 16,
  FLOAT64: 64,
  INT8: 256,
  UINT16: 512,
} as const;

const DT_NAMES: Record<number, string> = {
  1: 'binary', 2: 'uint8', 4: 'int16', 8: 'int32', 16: 'float32', 32: 'complex64', 64: 'float64', 128: 'rgb24',
  256: 'int8', 512: 'uint16', 768: 'uint32', 1024: 'int64', 1280: 'uint64', 1536: 'float128', 2304: 'rgba32',
};

const NIFTI_INTENT_LABEL = 1002;
const NIFTI_XFORM_SCANNER_ANAT = 1;
const NIFTI_XFORM_ALIGNED_ANAT = 2;
const NIFTI_UNITS_MM = 2;

export interface ReadNiftiOptions {
  /** Override how values are interpreted (default: 'label' for uint8 or intent LABEL, else 'HU'). */
  units?: Volume['units'];
}

function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/** Reads a .nii or .nii.gz file (bytes) into a Volume in LPS. `source` (file name / URL) appears in errors. */
export function readNifti(bytes: Uint8Array, source = 'NIfTI file', opts: ReadNiftiOptions = {}): Volume {
  let buf = bytes;
  if (isGzip(buf)) {
    try {
      buf = gunzipSync(buf);
    } catch (e) {
      throw new PsoasError('CORRUPT_FILE', `${source}: gzip data is corrupt (${(e as Error).message})`, source, source);
    }
  }
  if (buf.length < 348) throw new PsoasError('NOT_NIFTI', `${source} is not a NIfTI file: only ${buf.length} bytes`, buf.length, source);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  // sizeof_hdr: 348 (NIfTI-1) or 540 (NIfTI-2), either endianness
  const h1 = dv.getInt32(0, true);
  const h2 = dv.getInt32(0, false);
  const le = h1 === 348 || h1 === 540;
  const hdr = le ? h1 : h2;
  const version = hdr === 348 ? 1 : hdr === 540 ? 2 : 0;
  if (version === 0) throw new PsoasError('NOT_NIFTI', `${source} is not a NIfTI file: header size field is ${h1}, expected 348 or 540`, h1, source);
  const magic = (off: number, n: number) => String.fromCharCode(...buf.subarray(off, off + n)).replace(/\0+$/, '');
  let dims: number[];
  let datatype: number;
  let pixdim: number[];
  let voxOffset: number;
  let sclSlope: number;
  let sclInter: number;
  let qformCode: number;
  let sformCode: number;
  let quat: number[];
  let qoff: number[];
  let srow: number[][];
  let intent: number;
  if (version === 1) {
    const m = magic(344, 4);
    if (m !== 'n+1' && m !== 'ni1')
      throw new PsoasError('NOT_NIFTI', `${source}: NIfTI-1 magic is "${m}", expected "n+1" or "ni1" (ANALYZE 7.5 is not supported)`, m, source);
    if (m === 'ni1') throw new PsoasError('UNSUPPORTED_NIFTI', `${source}: two-file NIfTI (.hdr/.img) is not supported; convert it to .nii`, m, source);
    dims = Array.from({ length: 8 }, (_, i) => dv.getInt16(40 + 2 * i, le));
    intent = dv.getInt16(68, le);
    datatype = dv.getInt16(70, le);
    pixdim = Array.from({ length: 8 }, (_, i) => dv.getFloat32(76 + 4 * i, le));
    voxOffset = dv.getFloat32(108, le);
    sclSlope = dv.getFloat32(112, le);
    sclInter = dv.getFloat32(116, le);
    qformCode = dv.getInt16(252, le);
    sformCode = dv.getInt16(254, le);
    quat = [256, 260, 264].map((o) => dv.getFloat32(o, le));
    qoff = [268, 272, 276].map((o) => dv.getFloat32(o, le));
    srow = [280, 296, 312].map((o) => [0, 1, 2, 3].map((c) => dv.getFloat32(o + 4 * c, le)));
  } else {
    const m = magic(4, 3);
    if (m !== 'n+2' && m !== 'ni2') throw new PsoasError('NOT_NIFTI', `${source}: NIfTI-2 magic is "${m}", expected "n+2"`, m, source);
    if (m === 'ni2') throw new PsoasError('UNSUPPORTED_NIFTI', `${source}: two-file NIfTI-2 (.hdr/.img) is not supported`, m, source);
    datatype = dv.getInt16(12, le);
    dims = Array.from({ length: 8 }, (_, i) => Number(dv.getBigInt64(16 + 8 * i, le)));
    pixdim = Array.from({ length: 8 }, (_, i) => dv.getFloat64(104 + 8 * i, le));
    voxOffset = Number(dv.getBigInt64(168, le));
    sclSlope = dv.getFloat64(176, le);
    sclInter = dv.getFloat64(184, le);
    qformCode = dv.getInt32(344, le);
    sformCode = dv.getInt32(348, le);
    quat = [352, 360, 368].map((o) => dv.getFloat64(o, le));
    qoff = [376, 384, 392].map((o) => dv.getFloat64(o, le));
    srow = [400, 432, 464].map((o) => [0, 1, 2, 3].map((c) => dv.getFloat64(o + 8 * c, le)));
    intent = dv.getInt32(504, le);
  }
  const ndim = dims[0];
  if (ndim < 1 || ndim > 7)
    throw new PsoasError('NOT_NIFTI', `${source}: dim[0] = ${ndim} is not a valid number of dimensions (1..7)`, ndim, source);
  const nx = dims[1], ny = ndim >= 2 ? dims[2] : 1, nz = ndim >= 3 ? dims[3] : 1;
  for (let d = 4; d <= ndim; d++)
    if (dims[d] > 1)
      throw new PsoasError('UNSUPPORTED_NIFTI', `${source}: ${ndim}-D image (dim[${d}] = ${dims[d]}); only single 3-D volumes are supported`, dims.slice(0, ndim + 1), source);
  if (!(nx > 0 && ny > 0 && nz > 0))
    throw new PsoasError('NOT_NIFTI', `${source}: invalid dimensions ${nx}x${ny}x${nz}`, [nx, ny, nz], source);
  const bytesPer: Record<number, number> = { 2: 1, 4: 2, 8: 4, 16: 4, 64: 8, 256: 1, 512: 2 };
  const bp = bytesPer[datatype];
  if (!bp)
    throw new PsoasError('UNSUPPORTED_NIFTI', `${source}: datatype ${datatype} (${DT_NAMES[datatype] ?? 'unknown'}) is not supported (uint8, int8, int16, uint16, int32, float32, float64)`, datatype, source);
  const n = nx * ny * nz;
  const off = Math.max(Math.round(voxOffset), version === 1 ? 352 : 544);
  if (off + n * bp > buf.length)
    throw new PsoasError('CORRUPT_FILE', `${source}: truncated: ${nx}x${ny}x${nz} ${DT_NAMES[datatype]} needs ${off + n * bp} bytes, file has ${buf.length}`, buf.length, source);

  // raw values as float64 only if scaling applies; otherwise keep the native type where it fits the Volume
  const get = (i: number): number => {
    const o = off + i * bp;
    switch (datatype) {
      case DT.UINT8: return buf[o];
      case DT.INT8: return dv.getInt8(o);
      case DT.INT16: return dv.getInt16(o, le);
      case DT.UINT16: return dv.getUint16(o, le);
      case DT.INT32: return dv.getInt32(o, le);
      case DT.FLOAT32: return dv.getFloat32(o, le);
      default: return dv.getFloat64(o, le);
    }
  };
  const slope = Number.isFinite(sclSlope) && sclSlope !== 0 ? sclSlope : 1;
  const inter = Number.isFinite(sclInter) && sclSlope !== 0 ? sclInter : 0;
  const isLabel = opts.units ? opts.units === 'label' : datatype === DT.UINT8 || intent === NIFTI_INTENT_LABEL;
  const units: Volume['units'] = opts.units ?? (isLabel ? 'label' : 'HU');
  const vals = new Float64Array(n);
  let allInt = true;
  let mn = Infinity, mx = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = get(i) * slope + inter;
    vals[i] = v;
    if (allInt && v !== Math.round(v)) allInt = false;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  let data: VoxelArray;
  if (allInt && mn >= 0 && mx <= 255 && (units === 'label' || datatype === DT.UINT8)) data = Uint8Array.from(vals);
  else if (allInt && mn >= -32768 && mx <= 32767) data = Int16Array.from(vals);
  else if (allInt && mn >= 0 && mx <= 65535) data = Uint16Array.from(vals);
  else if (allInt && mn >= -2147483648 && mx <= 2147483647 && units !== 'HU') data = Int32Array.from(vals);
  else data = Float32Array.from(vals);

  // affine (RAS)
  let A: number[][]; // 3x4
  const warnings: string[] = [];
  if (sformCode > 0) {
    A = srow;
  } else if (qformCode > 0) {
    const [b, c, d] = quat;
    let a2 = 1 - (b * b + c * c + d * d);
    if (a2 < 1e-7) a2 = 0;
    const a = Math.sqrt(a2);
    const R = [
      [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
      [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
      [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
    ];
    const qfac = pixdim[0] < 0 ? -1 : 1;
    const s = [Math.abs(pixdim[1]) || 1, Math.abs(pixdim[2]) || 1, Math.abs(pixdim[3]) || 1];
    A = [0, 1, 2].map((r) => [R[r][0] * s[0], R[r][1] * s[1], R[r][2] * s[2] * qfac, qoff[r]]);
  } else {
    warnings.push(`${source}: no sform or qform; orientation assumed RAS from pixdim`);
    A = [
      [Math.abs(pixdim[1]) || 1, 0, 0, 0],
      [0, Math.abs(pixdim[2]) || 1, 0, 0],
      [0, 0, Math.abs(pixdim[3]) || 1, 0],
    ];
  }
  // RAS → LPS: negate rows x and y
  const L = [A[0].map((v) => -v), A[1].map((v) => -v), A[2].slice()];
  const spacing: Vec3 = [0, 0, 0];
  const direction = [0, 0, 0, 0, 0, 0, 0, 0, 0] as Mat3;
  for (let c = 0; c < 3; c++) {
    const col = [L[0][c], L[1][c], L[2][c]];
    const norm = Math.hypot(col[0], col[1], col[2]);
    if (!(norm > 0) || !Number.isFinite(norm))
      throw new PsoasError('UNSUPPORTED_NIFTI', `${source}: affine column ${c} is zero or not finite (${col.join(', ')})`, col, source);
    spacing[c] = norm;
    for (let r = 0; r < 3; r++) direction[3 * c + r] = col[r] / norm + 0; // + 0: no -0 in the output
  }
  const dotc = (p: number, q: number) =>
    direction[3 * p] * direction[3 * q] + direction[3 * p + 1] * direction[3 * q + 1] + direction[3 * p + 2] * direction[3 * q + 2];
  const shear = Math.max(Math.abs(dotc(0, 1)), Math.abs(dotc(0, 2)), Math.abs(dotc(1, 2)));
  if (shear > 1e-3) warnings.push(`${source}: affine axes are not orthogonal (max |cos| = ${shear.toFixed(4)}); geometry is sheared`);
  const geometry: VolumeGeometry = {
    dimensions: [nx, ny, nz],
    spacing,
    origin: [L[0][3], L[1][3], L[2][3]],
    direction,
  };
  return {
    geometry,
    data,
    units,
    meta: { source, ...(warnings.length ? { warnings } : {}), niftiVersion: version, niftiDatatype: DT_NAMES[datatype] },
  };
}

export interface WriteNiftiOptions {
  /** gzip the output (default true: .nii.gz bytes). */
  gzip?: boolean;
  /** gzip level 0-9 (default 6). */
  level?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
  /** Up to 79 characters stored in `descrip`. */
  description?: string;
}

/** Quaternion (b, c, d) and qfac of a rotation+reflection matrix (nifti_mat44_to_quatern, for orthonormal R). */
function matToQuatern(R0: number[][]): { b: number; c: number; d: number; qfac: number } {
  const R = R0.map((r) => r.slice());
  const det =
    R[0][0] * (R[1][1] * R[2][2] - R[1][2] * R[2][1]) -
    R[0][1] * (R[1][0] * R[2][2] - R[1][2] * R[2][0]) +
    R[0][2] * (R[1][0] * R[2][1] - R[1][1] * R[2][0]);
  let qfac = 1;
  if (det < 0) {
    qfac = -1;
    for (let r = 0; r < 3; r++) R[r][2] = -R[r][2];
  }
  const [r11, r12, r13] = R[0];
  const [r21, r22, r23] = R[1];
  const [r31, r32, r33] = R[2];
  let a = r11 + r22 + r33 + 1;
  let b: number, c: number, d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      a = (0.25 * (r21 - r12)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, qfac };
}

/**
 * Writes a NIfTI-1 single-file image (gzip-compressed by default). Data type follows the volume: labels and
 * Uint8Array → uint8 (intent LABEL for labels), Int16Array → int16, Uint16Array → uint16, Int32Array → int32,
 * Float32Array → float32. scl_slope = 1, scl_inter = 0. sform and qform both hold the LPS geometry converted to
 * RAS (code 1 = scanner anatomical); the qform is the orthonormal part, the sform the exact affine.
 */
export function writeNifti(volume: Volume, opts: WriteNiftiOptions = {}): Uint8Array {
  const g = volume.geometry;
  const [nx, ny, nz] = g.dimensions;
  const n = nx * ny * nz;
  if (volume.data.length !== n)
    throw new PsoasError('BAD_ARGUMENT', `writeNifti: data has ${volume.data.length} values, geometry ${nx}x${ny}x${nz} needs ${n}`, volume.data.length);
  const data = volume.data;
  const [datatype, bitpix] =
    data instanceof Uint8Array
      ? [DT.UINT8, 8]
      : data instanceof Int16Array
        ? [DT.INT16, 16]
        : data instanceof Uint16Array
          ? [DT.UINT16, 16]
          : data instanceof Int32Array
            ? [DT.INT32, 32]
            : [DT.FLOAT32, 32];
  const bp = bitpix / 8;
  const off = 352;
  const out = new Uint8Array(off + n * bp);
  const dv = new DataView(out.buffer);
  dv.setInt32(0, 348, true);
  out[39] = 0; // dim_info
  const dims = [3, nx, ny, nz, 1, 1, 1, 1];
  dims.forEach((d, i) => dv.setInt16(40 + 2 * i, d, true));
  if (volume.units === 'label') dv.setInt16(68, NIFTI_INTENT_LABEL, true);
  dv.setInt16(70, datatype, true);
  dv.setInt16(72, bitpix, true);
  // affine in RAS: rows x, y negated from LPS
  const D = g.direction;
  const S = g.spacing;
  const A = [0, 1, 2].map((r) => {
    const sign = r < 2 ? -1 : 1;
    return [sign * D[r] * S[0], sign * D[3 + r] * S[1], sign * D[6 + r] * S[2], sign * g.origin[r]];
  });
  // qform: rotation = normalised columns (orthonormal for DICOM/phantom geometry)
  const R = [0, 1, 2].map((r) => [0, 1, 2].map((c) => A[r][c] / S[c]));
  const q = matToQuatern(R);
  const pix = [q.qfac, S[0], S[1], S[2], 1, 1, 1, 1];
  pix.forEach((p, i) => dv.setFloat32(76 + 4 * i, p, true));
  dv.setFloat32(108, off, true); // vox_offset
  dv.setFloat32(112, 1, true); // scl_slope
  dv.setFloat32(116, 0, true); // scl_inter
  out[123] = NIFTI_UNITS_MM; // xyzt_units: mm (time unknown)
  let mn = Infinity, mx = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = data[i];
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  if (n > 0) {
    dv.setFloat32(124, volume.units === 'HU' ? 400 : mx, true); // cal_max: display window
    dv.setFloat32(128, volume.units === 'HU' ? -1000 : mn, true); // cal_min
  }
  const descrip = (opts.description ?? String(volume.meta.seriesDescription ?? 'psoasview')).slice(0, 79);
  for (let i = 0; i < descrip.length; i++) out[148 + i] = descrip.charCodeAt(i) & 0x7f;
  dv.setInt16(252, NIFTI_XFORM_SCANNER_ANAT, true); // qform_code
  dv.setInt16(254, NIFTI_XFORM_SCANNER_ANAT, true); // sform_code
  dv.setFloat32(256, q.b, true);
  dv.setFloat32(260, q.c, true);
  dv.setFloat32(264, q.d, true);
  dv.setFloat32(268, A[0][3], true);
  dv.setFloat32(272, A[1][3], true);
  dv.setFloat32(276, A[2][3], true);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) dv.setFloat32(280 + 16 * r + 4 * c, A[r][c], true);
  out.set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"
  void NIFTI_XFORM_ALIGNED_ANAT;
  // voxel data, little endian (i fastest, as the Volume)
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (littleEndianHost) out.set(body, off);
  else {
    for (let i = 0; i < n; i++) {
      const o = off + i * bp;
      if (bp === 1) dv.setUint8(o, data[i]);
      else if (datatype === DT.INT16) dv.setInt16(o, data[i], true);
      else if (datatype === DT.UINT16) dv.setUint16(o, data[i], true);
      else if (datatype === DT.INT32) dv.setInt32(o, data[i], true);
      else dv.setFloat32(o, data[i], true);
    }
  }
  return opts.gzip === false ? out : gzipSync(out, { level: opts.level ?? 6 });
}
