/**
 * Local files (a picked folder, dropped files, or Node-read files): DICOM slices and NIfTI volumes.
 *
 * Listing reads every file once and keeps only its header (pixels are re-read at load, so a 1000-slice
 * folder never sits in memory twice). DICOMDIR and non-DICOM files (.txt, .json, thumbnails) are ignored and
 * reported in `warnings`. Each .nii/.nii.gz becomes its own study and series with a synthetic id. DICOM files
 * without UIDs still load when their geometry is sound (grouped by frame of reference and geometry, with a
 * synthetic series id and a warning in meta.warnings).
 */
import { PsoasError, isPsoasError, describeError } from '../core/errors';
import type { Volume } from '../core/volume';
import { parseDicom, type DicomSlice } from '../core/io/dicom-read';
import { decodePixels } from '../core/io/decode';
import { assembleVolume, groupSlices, mapLimit, type SeriesGroup } from '../core/io/series';
import type { DataSource, LoadProgress, SeriesSummary, StudyQuery, StudySummary } from './types';

/** What the local source accepts: browser File objects, or anything with a name and a bytes() reader. */
export type LocalFile = { name: string; bytes(): Promise<ArrayBuffer | Uint8Array> } | File;

export interface LocalSource extends DataSource {
  /** Files that were skipped while indexing (not DICOM, DICOMDIR, unreadable), one sentence each. */
  readonly warnings: string[];
  /** Reads all headers now (otherwise done on the first search/list). */
  index(): Promise<void>;
}

export interface LocalSourceOptions {
  kind?: 'local' | 'sample';
  label?: string;
  /** Header reads in flight at once (default 8). */
  concurrency?: number;
}

function fileName(f: LocalFile): string {
  const rel = (f as File).webkitRelativePath;
  return rel || f.name;
}

async function readBytes(f: LocalFile): Promise<Uint8Array> {
  // Prefer arrayBuffer(): browsers' File now also has bytes(), with a different return type.
  const ab = typeof (f as File).arrayBuffer === 'function' ? await (f as File).arrayBuffer() : await (f as { bytes(): Promise<ArrayBuffer | Uint8Array> }).bytes();
  return ab instanceof Uint8Array ? ab : new Uint8Array(ab);
}

/** Header bytes a DICOM file rarely exceeds before its pixel data; bigger headers fall back to a full read. */
const HEADER_PROBE_BYTES = 256 * 1024;

/** Parses a file's header; for large browser Files reads only the first 256 KB (a folder may hold GBs). */
async function readHeader(f: LocalFile, name: string): Promise<DicomSlice> {
  const blob = f as File;
  if (typeof blob.slice === 'function' && typeof blob.size === 'number' && blob.size > HEADER_PROBE_BYTES) {
    try {
      return parseDicom(new Uint8Array(await blob.slice(0, HEADER_PROBE_BYTES).arrayBuffer()), name, { headerOnly: true });
    } catch (e) {
      if (isPsoasError(e) && e.code === 'NOT_DICOM') throw e;
      // CORRUPT_FILE here may just mean "header longer than the probe": read the whole file.
    }
  }
  return parseDicom(await readBytes(f), name, { headerOnly: true });
}

const isNifti = (name: string) => /\.nii(\.gz)?$/i.test(name);
const isDicomDir = (name: string) => /(^|[\\/])DICOMDIR$/i.test(name);

function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

interface NiftiEntry {
  file: LocalFile;
  name: string;
  studyId: string;
  seriesId: string;
}

export function createLocalSource(files: LocalFile[], opts: LocalSourceOptions = {}): LocalSource {
  const warnings: string[] = [];
  const fileOf = new Map<DicomSlice, LocalFile>();
  let groups: SeriesGroup[] = [];
  const niftis: NiftiEntry[] = [];
  let indexing: Promise<void> | undefined;

  function index(): Promise<void> {
    if (!indexing) {
      indexing = (async () => {
        const slices: DicomSlice[] = [];
        await mapLimit(files, opts.concurrency ?? 8, async (f) => {
          const name = fileName(f);
          if (isNifti(name)) {
            const id = hash(name);
            niftis.push({ file: f, name, studyId: `nifti-study-${id}`, seriesId: `nifti-series-${id}` });
            return;
          }
          if (isDicomDir(name)) {
            warnings.push(`${name}: DICOMDIR ignored (the image files themselves are read)`);
            return;
          }
          try {
            const s = await readHeader(f, name);
            fileOf.set(s, f);
            slices.push(s);
          } catch (e) {
            if (isPsoasError(e) && e.code === 'NOT_DICOM') warnings.push(`${name}: not a DICOM file, ignored`);
            else warnings.push(`${name}: ${isPsoasError(e) ? e.message : describeError(e)}; ignored`);
          }
        });
        // Stable order regardless of read completion order.
        slices.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
        niftis.sort((a, b) => (a.name < b.name ? -1 : 1));
        groups = groupSlices(slices);
      })();
      indexing.catch(() => (indexing = undefined));
    }
    return indexing;
  }

  function studyOf(g: SeriesGroup): string {
    return g.studyInstanceUid || g.studyId;
  }

  async function searchStudies(query: StudyQuery = {}): Promise<StudySummary[]> {
    await index();
    const studies = new Map<string, StudySummary>();
    for (const g of groups) {
      const s0 = g.slices[0];
      const uid = studyOf(g);
      let st = studies.get(uid);
      if (!st) {
        st = {
          studyInstanceUid: uid,
          patientName: s0.patientName,
          patientId: s0.patientId,
          studyDate: s0.studyDate,
          studyDescription: s0.studyDescription,
          modalities: [],
          numberOfSeries: 0,
          numberOfInstances: 0,
        };
        studies.set(uid, st);
      }
      if (g.modality && !st.modalities.includes(g.modality)) st.modalities.push(g.modality);
      st.numberOfSeries = (st.numberOfSeries ?? 0) + 1;
      st.numberOfInstances = (st.numberOfInstances ?? 0) + g.slices.length;
    }
    for (const n of niftis) {
      studies.set(n.studyId, {
        studyInstanceUid: n.studyId,
        patientName: '',
        patientId: '',
        studyDate: '',
        studyDescription: n.name,
        modalities: ['CT'],
        numberOfSeries: 1,
        numberOfInstances: 1,
      });
    }
    return [...studies.values()].filter((s) => matches(s, query));
  }

  async function listSeries(studyUid: string): Promise<SeriesSummary[]> {
    await index();
    const n = niftis.find((x) => x.studyId === studyUid);
    if (n) {
      return [{ studyInstanceUid: studyUid, seriesInstanceUid: n.seriesId, modality: 'CT', seriesDescription: n.name, numberOfInstances: 1, isAxial: true }];
    }
    const gs = groups.filter((g) => studyOf(g) === studyUid);
    if (gs.length === 0) throw new PsoasError('STUDY_NOT_FOUND', `Study ${studyUid} is not among the ${files.length} local files`, studyUid, 'local files');
    return gs.map((g) => ({
      studyInstanceUid: studyUid,
      seriesInstanceUid: g.id,
      modality: g.modality,
      seriesDescription: g.seriesDescription + (g.isLocalizer ? ' (localizer)' : ''),
      seriesNumber: g.seriesNumber,
      numberOfInstances: g.slices.length,
      sliceThicknessMm: g.slices[0].sliceThicknessMm,
      convolutionKernel: g.slices[0].convolutionKernel || undefined,
      isAxial: g.nonImageReason ? undefined : g.isAxial && !g.isLocalizer,
    }));
  }

  async function loadSeries(studyUid: string, seriesId: string, onProgress?: (p: LoadProgress) => void, signal?: AbortSignal): Promise<Volume> {
    await index();
    const n = niftis.find((x) => x.seriesId === seriesId);
    if (n) {
      onProgress?.({ fraction: 0, stage: 'pixels' });
      const bytes = await readBytes(n.file); // .nii or .nii.gz: readNifti inflates gzip itself
      const { readNifti } = await import('../core/io/nifti'); // loaded only when a NIfTI is opened
      const vol = readNifti(bytes, n.name);
      vol.meta = { ...vol.meta, source: n.name, studyInstanceUid: undefined, seriesInstanceUid: undefined, seriesId: n.seriesId, studyId: n.studyId };
      onProgress?.({ fraction: 1, stage: 'assemble' });
      return vol;
    }
    const g = groups.find((x) => x.id === seriesId && studyOf(x) === studyUid) ?? groups.find((x) => x.id === seriesId);
    if (!g) throw new PsoasError('BAD_ARGUMENT', `Series ${seriesId} is not among the local files`, seriesId, 'local files');
    const total = g.slices.length;
    const folder = commonFolder(g.slices.map((s) => s.source));
    const vol = await assembleVolume(g.slices, {
      allowMissingUids: true,
      seriesId: g.id,
      source: folder,
      signal,
      pixels: async (header) => {
        const f = fileOf.get(header)!;
        const full = parseDicom(await readBytes(f), header.source);
        return decodePixels(full);
      },
      onProgress: (done) => onProgress?.({ fraction: (0.95 * done) / Math.max(1, total), stage: 'pixels', loaded: done, total }),
    });
    if (!vol.meta.studyInstanceUid) vol.meta.studyId = g.studyId;
    if (warnings.length) vol.meta.warnings = [...(vol.meta.warnings ?? []), `${warnings.length} file(s) skipped while reading the folder: ${warnings.slice(0, 3).join('; ')}${warnings.length > 3 ? '; …' : ''}`];
    onProgress?.({ fraction: 1, stage: 'assemble', loaded: total, total });
    return vol;
  }

  return {
    kind: opts.kind ?? 'local',
    label: opts.label ?? 'Local files',
    warnings,
    index,
    searchStudies,
    listSeries,
    loadSeries,
  };
}

function commonFolder(names: string[]): string {
  const dirs = names.map((n) => n.replace(/[\\/][^\\/]*$/, ''));
  const same = dirs.every((d) => d === dirs[0]) && dirs[0] !== names[0];
  return same ? dirs[0] : `${names.length} local files`;
}

/** DICOM-style matching of a study against a query: '*' and '?' wildcards, case-insensitive; date ranges. */
function matches(s: StudySummary, q: StudyQuery): boolean {
  const wild = (pattern: string | undefined, value: string) => {
    if (!pattern) return true;
    const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
    return re.test(value);
  };
  if (!wild(q.patientName, s.patientName)) return false;
  if (!wild(q.patientId, s.patientId)) return false;
  if (q.modality && !s.modalities.some((m) => m.toUpperCase() === q.modality!.toUpperCase())) return false;
  if (q.studyDate) {
    const [from, to] = q.studyDate.includes('-') ? q.studyDate.split('-') : [q.studyDate, q.studyDate];
    if ((from && s.studyDate < from) || (to && s.studyDate > to)) return false;
  }
  return true;
}
