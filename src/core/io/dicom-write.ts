/**
 * DICOM CT Image Storage writer: one file per slice of a Volume (HU), explicit VR little endian, via dcmjs.
 *
 * Geometry (patient LPS mm, see core/geometry): slice k of the volume is written with
 * ImagePositionPatient = indexToWorld(g, [0, 0, k]) (centre of its first pixel), ImageOrientationPatient =
 * direction columns 0 (along a row, i) and 1 (down a column, j), PixelSpacing = [row spacing = spacing[1],
 * column spacing = spacing[0]], SpacingBetweenSlices = spacing[2]. Pixel rows are j, columns i, as in memory.
 *
 * Pixels: unsigned 16-bit, stored = round(HU) + 1024 (clamped to 0..65535), RescaleIntercept -1024, slope 1.
 * UIDs: "2.25.<128-bit decimal>" derived from `uidSeed` (deterministic) or random when none is given.
 */
import dcmjs from 'dcmjs';
import { PsoasError } from '../errors';
import { type Vec3, cross, indexToWorld, dot } from '../geometry';
import type { Volume } from '../volume';
import { hash32 } from '../phantom/rng';

export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** Implementation Class UID of psoasview's writer (fixed). */
export const IMPLEMENTATION_CLASS_UID = '2.25.233926397404871823446427460716392818689';
export const IMPLEMENTATION_VERSION = 'PSOASVIEW_0_1';

export interface DicomWriteOptions {
  /** Seed for deterministic UIDs (e.g. the phantom seed + options). Default: random UIDs. */
  uidSeed?: string | number;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  frameOfReferenceUid?: string;
  patientName?: string;
  patientId?: string;
  patientBirthDate?: string;
  patientSex?: 'M' | 'F' | 'O' | '';
  /** DICOM DA (YYYYMMDD) and TM (HHMMSS); default 20260101 / 120000 (deterministic). */
  studyDate?: string;
  studyTime?: string;
  studyId?: string;
  accessionNumber?: string;
  studyDescription?: string;
  seriesDescription?: string;
  seriesNumber?: number;
  /** Nominal slice thickness, mm (default: the slice spacing). */
  sliceThickness?: number;
  /** HFS / FFS ... (default: HFS when k runs towards the feet, FFS otherwise). */
  patientPosition?: string;
  manufacturer?: string;
  institutionName?: string;
  convolutionKernel?: string;
  bodyPartExamined?: string;
  imageComments?: string;
  windowCenter?: number;
  windowWidth?: number;
  /** File name of slice index k (0-based, file order). Default IM0001.dcm ... */
  fileName?: (k: number) => string;
}

export interface DicomFile {
  name: string;
  bytes: Uint8Array;
}

/** A 2.25 UID from 128 bits derived from `parts` (deterministic), or random when `parts` is empty. */
export function uid225(...parts: (string | number)[]): string {
  let v = 0n;
  if (parts.length === 0) {
    const r = new Uint32Array(4);
    globalThis.crypto.getRandomValues(r);
    for (const w of r) v = (v << 32n) | BigInt(w);
  } else {
    for (let w = 0; w < 4; w++) v = (v << 32n) | BigInt(hash32(...parts, 'uid-word', w));
  }
  if (v === 0n) v = 1n;
  return `2.25.${v.toString()}`;
}

/** Decimal String value of at most 16 characters (the DS limit), as precise as fits. */
export function ds(x: number): string {
  if (!Number.isFinite(x)) throw new PsoasError('BAD_ARGUMENT', `cannot write ${x} as a DICOM DS value`, x);
  if (Object.is(x, -0) || Math.abs(x) < 1e-12) return '0';
  for (let p = 15; p >= 1; p--) {
    let s = x.toPrecision(p);
    if (s.includes('e')) s = String(Number(s));
    if (s.includes('.') && !s.includes('e')) s = s.replace(/0+$/, '').replace(/\.$/, '');
    if (s.length <= 16) return s;
  }
  throw new PsoasError('BAD_ARGUMENT', `cannot fit ${x} in a 16-character DICOM DS value`, x);
}

let dcmjsQuiet = false;
function quietDcmjs(): void {
  if (dcmjsQuiet) return;
  dcmjsQuiet = true;
  try {
    dcmjs.log.setLevel?.('error');
  } catch {
    /* logging level is cosmetic */
  }
}

/** Writes `image` (HU) as a CT Image Storage series, one file per slice in volume k order. */
export function writeDicomSeries(image: Volume, opts: DicomWriteOptions = {}): DicomFile[] {
  quietDcmjs();
  const g = image.geometry;
  const [nx, ny, nz] = g.dimensions;
  if (image.units === 'label')
    throw new PsoasError('BAD_ARGUMENT', 'writeDicomSeries writes CT images (HU); got a label map', image.units, String(image.meta.source ?? ''));
  if (image.data.length !== nx * ny * nz)
    throw new PsoasError('BAD_ARGUMENT', `writeDicomSeries: data has ${image.data.length} values, geometry ${nx}x${ny}x${nz} needs ${nx * ny * nz}`, image.data.length);
  if (nx > 65535 || ny > 65535) throw new PsoasError('BAD_ARGUMENT', `slice ${nx}x${ny} is too large for DICOM Rows/Columns`, [nx, ny]);
  const seed = opts.uidSeed;
  const mkUid = (...p: (string | number)[]) => (seed === undefined ? uid225() : uid225(seed, ...p));
  const studyUid = opts.studyInstanceUid ?? (image.meta.studyInstanceUid as string | undefined) ?? mkUid('study');
  const seriesUid = opts.seriesInstanceUid ?? mkUid('series');
  const forUid = opts.frameOfReferenceUid ?? mkUid('frame-of-reference');
  const D = g.direction;
  const row: Vec3 = [D[0], D[1], D[2]];
  const col: Vec3 = [D[3], D[4], D[5]];
  const normal = cross(row, col);
  const kDir: Vec3 = [D[6], D[7], D[8]];
  const studyDate = opts.studyDate ?? '20260101';
  const studyTime = opts.studyTime ?? '120000';
  const patientPosition = opts.patientPosition ?? (kDir[2] <= 0 ? 'HFS' : 'FFS');
  const sliceThickness = opts.sliceThickness ?? g.spacing[2];
  const fileName = opts.fileName ?? ((k: number) => `IM${String(k + 1).padStart(4, '0')}.dcm`);
  const nSlice = nx * ny;
  const files: DicomFile[] = [];
  const base = {
    SpecificCharacterSet: 'ISO_IR 100',
    ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
    SOPClassUID: CT_IMAGE_STORAGE,
    StudyDate: studyDate,
    SeriesDate: studyDate,
    AcquisitionDate: studyDate,
    ContentDate: studyDate,
    StudyTime: studyTime,
    SeriesTime: studyTime,
    AcquisitionTime: studyTime,
    ContentTime: studyTime,
    AccessionNumber: opts.accessionNumber ?? '',
    Modality: 'CT',
    Manufacturer: opts.manufacturer ?? 'psoasview',
    InstitutionName: opts.institutionName ?? 'psoasview synthetic data',
    ReferringPhysicianName: '',
    StudyDescription: opts.studyDescription ?? 'CT ABDOMEN PHANTOM',
    SeriesDescription: opts.seriesDescription ?? String(image.meta.seriesDescription ?? 'CT'),
    ManufacturerModelName: 'psoasview phantom',
    PatientName: opts.patientName ?? String(image.meta.patientName ?? 'PHANTOM^PSOAS'),
    PatientID: opts.patientId ?? String(image.meta.patientId ?? 'PHANTOM'),
    PatientBirthDate: opts.patientBirthDate ?? '',
    PatientSex: opts.patientSex ?? 'O',
    BodyPartExamined: opts.bodyPartExamined ?? 'ABDOMEN',
    SliceThickness: ds(sliceThickness),
    KVP: '120',
    SpacingBetweenSlices: ds(g.spacing[2]),
    ConvolutionKernel: opts.convolutionKernel ?? 'STANDARD',
    PatientPosition: patientPosition,
    StudyInstanceUID: studyUid,
    SeriesInstanceUID: seriesUid,
    StudyID: opts.studyId ?? '1',
    SeriesNumber: String(opts.seriesNumber ?? 1),
    AcquisitionNumber: '1',
    ImageOrientationPatient: [...row, ...col].map(ds),
    FrameOfReferenceUID: forUid,
    PositionReferenceIndicator: '',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: ny,
    Columns: nx,
    PixelSpacing: [ds(g.spacing[1]), ds(g.spacing[0])],
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 0,
    WindowCenter: ds(opts.windowCenter ?? 40),
    WindowWidth: ds(opts.windowWidth ?? 400),
    RescaleIntercept: '-1024',
    RescaleSlope: '1',
    RescaleType: 'HU',
    ImageComments: opts.imageComments ?? 'SYNTHETIC PHANTOM - NOT FOR CLINICAL USE',
  };
  for (let k = 0; k < nz; k++) {
    const sopUid = mkUid('sop', k);
    const ipp = indexToWorld(g, [0, 0, k]);
    const px = new Uint16Array(nSlice);
    const src = image.data;
    const o = k * nSlice;
    for (let q = 0; q < nSlice; q++) {
      let v = Math.round(src[o + q]) + 1024;
      if (v < 0) v = 0;
      else if (v > 65535) v = 65535;
      px[q] = v;
    }
    const ds_ = {
      ...base,
      SOPInstanceUID: sopUid,
      InstanceNumber: String(k + 1),
      ImagePositionPatient: ipp.map(ds),
      SliceLocation: ds(dot(ipp, normal)),
      PixelData: px.buffer,
      _vrMap: { PixelData: 'OW' },
    };
    const meta = {
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: CT_IMAGE_STORAGE,
      MediaStorageSOPInstanceUID: sopUid,
      TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
      ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
      ImplementationVersionName: IMPLEMENTATION_VERSION,
    };
    const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
    dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(ds_);
    const buf = dict.write();
    files.push({ name: fileName(k), bytes: new Uint8Array(buf) });
  }
  return files;
}
