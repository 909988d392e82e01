/**
 * Opening the CLI's inputs with the project's data sources (no reader of its own):
 * - a DICOMweb URL `http(s)://host/prefix/studies/<StudyUID>[/series/<SeriesUID>]` → createDicomWebSource;
 * - a .nii / .nii.gz file, or a folder of DICOM files (searched recursively) → createLocalSource;
 * - masks for `measure`: NIfTI label maps via core/io/nifti readNifti (units 'label').
 *
 * Everything that goes wrong becomes a PsoasError whose message names the file, folder or URL.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { PsoasError, isPsoasError } from '../../core/errors';
import { readNifti } from '../../core/io/nifti';
import type { Volume } from '../../core/volume';
import { createDicomWebSource, createLocalSource, pickBestSeries, type LocalFile, type SeriesSummary } from '../../sources';

export interface DicomWebSeriesRef {
  /** DICOMweb root, e.g. http://host:8042/dicom-web (no trailing slash). */
  baseUrl: string;
  studyInstanceUid: string;
  /** Absent for a study URL: the best CT series is picked. */
  seriesInstanceUid?: string;
}

const UID = /^[0-9]+(\.[0-9]+)*$/;

/**
 * Splits `http://host/dicom-web/studies/<S>/series/<SE>` (or a study URL, optionally with a trailing `/metadata`
 * or `/instances...`) into the DICOMweb base URL and the UIDs. Query strings and fragments are ignored.
 */
export function parseDicomWebUrl(url: string): DicomWebSeriesRef {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PsoasError('BAD_ARGUMENT', `"${url}" is not a valid URL`, url, url);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new PsoasError('BAD_ARGUMENT', `DICOMweb URL ${url}: protocol must be http or https, got ${u.protocol}`, url, url);
  const parts = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const si = parts.lastIndexOf('studies');
  if (si < 0 || si + 1 >= parts.length)
    throw new PsoasError(
      'BAD_ARGUMENT',
      `DICOMweb URL ${url} names no study: expected .../studies/<StudyInstanceUID>/series/<SeriesInstanceUID>`,
      url,
      url,
    );
  const studyInstanceUid = parts[si + 1];
  if (!UID.test(studyInstanceUid))
    throw new PsoasError('BAD_ARGUMENT', `DICOMweb URL ${url}: "${studyInstanceUid}" is not a DICOM UID (digits and dots)`, studyInstanceUid, url);
  let seriesInstanceUid: string | undefined;
  if (parts[si + 2] === 'series') {
    seriesInstanceUid = parts[si + 3];
    if (!seriesInstanceUid || !UID.test(seriesInstanceUid))
      throw new PsoasError('BAD_ARGUMENT', `DICOMweb URL ${url}: series UID "${seriesInstanceUid ?? ''}" is not a DICOM UID (digits and dots)`, seriesInstanceUid, url);
  }
  const baseUrl = `${u.protocol}//${u.host}${parts.length > 0 && si > 0 ? '/' + parts.slice(0, si).map(encodeURIComponent).join('/') : ''}`;
  return { baseUrl, studyInstanceUid, seriesInstanceUid };
}

export type InputKind = 'nifti' | 'dicom-folder' | 'dicomweb';

export interface LoadedInput {
  volume: Volume;
  kind: InputKind;
  /** What the user gave (path or URL). */
  source: string;
  /** The series that was loaded, with the other candidates when the input held several. */
  series?: SeriesSummary;
  /** Non-fatal remarks (files skipped, series picked among several...). */
  warnings: string[];
}

export interface LoadInputOptions {
  /** SeriesInstanceUID (or local series id) to load when a folder/study holds several series. */
  series?: string;
  onProgress?: (text: string) => void;
}

const isNiftiName = (n: string) => /\.nii(\.gz)?$/i.test(n);

/** Lists regular files under `dir` recursively (hidden entries skipped), sorted, as paths relative to `dir`. */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string) {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const r = rel ? path.join(rel, e.name) : e.name;
      if (e.isDirectory()) await walk(r);
      else if (e.isFile()) out.push(r);
    }
  }
  await walk('');
  return out.sort();
}

function localFile(absPath: string, name: string): LocalFile {
  return { name, bytes: async () => new Uint8Array(await readFile(absPath)) };
}

/** Picks the series to load: the one asked for, else the best CT series (sources/select.ts). */
function chooseSeries(all: SeriesSummary[], where: string, wanted?: string): { chosen: SeriesSummary; warnings: string[] } {
  const warnings: string[] = [];
  if (wanted) {
    const hit = all.find((s) => s.seriesInstanceUid === wanted);
    if (!hit)
      throw new PsoasError(
        'BAD_ARGUMENT',
        `--series ${wanted} is not in ${where}; it holds: ${all.map((s) => `${s.seriesInstanceUid} (${s.modality}, ${s.numberOfInstances} images)`).join(', ') || 'nothing'}`,
        wanted,
        where,
      );
    return { chosen: hit, warnings };
  }
  const best = pickBestSeries(all);
  if (!best) {
    const what = all.map((s) => `${s.modality || '?'} "${s.seriesDescription}" (${s.numberOfInstances} images)`).join(', ');
    throw new PsoasError('NO_IMAGE_SERIES', `${where} holds no CT series of more than one image${what ? `: found ${what}` : ''}`, all.length, where);
  }
  const others = all.filter((s) => s !== best && s.modality.toUpperCase() === 'CT');
  if (others.length > 0)
    warnings.push(
      `${where} holds ${others.length + 1} CT series; used ${best.seriesInstanceUid} "${best.seriesDescription}" (${best.numberOfInstances} images); choose another with --series <uid>`,
    );
  return { chosen: best, warnings };
}

/** Whether an input is a URL (scheme://…) rather than a local path. */
export const isUrl = (spec: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(spec);

/** Loads the CT to segment or measure: a DICOMweb URL, a NIfTI file or a DICOM folder (see the file comment). */
export async function loadImage(spec: string, opts: LoadInputOptions = {}): Promise<LoadedInput> {
  if (isUrl(spec)) return loadDicomWeb(spec, opts);
  let st;
  try {
    st = await stat(spec);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PsoasError(
      'BAD_ARGUMENT',
      code === 'ENOENT' ? `Input ${spec} does not exist` : `Cannot read input ${spec}: ${(e as Error).message}`,
      spec,
      spec,
    );
  }
  if (st.isDirectory()) return loadFolder(spec, opts);
  // The whole path as the file's name, so that reader errors name it as the user typed it.
  const name = spec;
  const source = createLocalSource([localFile(spec, name)]);
  const [study] = await source.searchStudies();
  if (!study) {
    const why = (source.warnings[0] ?? 'no image found').replace(`${name}: `, '').replace(/[;,] ignored$/, '');
    throw new PsoasError(
      'NOT_IMAGE',
      `${spec} is not an image psoasview can read (${why}); give a .nii/.nii.gz file, a folder of DICOM files or a DICOMweb series URL`,
      spec,
      spec,
    );
  }
  const [series] = await source.listSeries(study.studyInstanceUid);
  opts.onProgress?.(`reading ${spec}`);
  const volume = await source.loadSeries(study.studyInstanceUid, series.seriesInstanceUid);
  volume.meta.source = spec;
  const single = !isNiftiName(name);
  return {
    volume,
    kind: single ? 'dicom-folder' : 'nifti',
    source: spec,
    series: single ? series : undefined,
    warnings: [...(volume.meta.warnings ?? [])],
  };
}

async function loadFolder(dir: string, opts: LoadInputOptions): Promise<LoadedInput> {
  const rel = await listFiles(dir);
  if (rel.length === 0) throw new PsoasError('NOT_IMAGE', `Folder ${dir} holds no files`, dir, dir);
  const niftis = rel.filter(isNiftiName);
  if (niftis.length > 0 && niftis.length === rel.length)
    throw new PsoasError(
      'BAD_ARGUMENT',
      `Folder ${dir} holds NIfTI files (${niftis.slice(0, 3).join(', ')}${niftis.length > 3 ? ', …' : ''}), not DICOM: give one .nii/.nii.gz file itself`,
      dir,
      dir,
    );
  // NIfTI files inside a DICOM folder are left out: the folder input means "the DICOM series in it".
  const files = rel.filter((r) => !isNiftiName(r)).map((r) => localFile(path.join(dir, r), r));
  opts.onProgress?.(`indexing ${files.length} file(s) in ${dir}`);
  const source = createLocalSource(files);
  const studies = await source.searchStudies();
  const all: SeriesSummary[] = [];
  for (const s of studies) all.push(...(await source.listSeries(s.studyInstanceUid)));
  if (all.length === 0) {
    const why = source.warnings.slice(0, 3).join('; ');
    throw new PsoasError('NOT_IMAGE', `Folder ${dir} holds no DICOM image (${files.length} file(s) read${why ? `: ${why}` : ''})`, dir, dir);
  }
  const { chosen, warnings } = chooseSeries(all, `folder ${dir}`, opts.series);
  opts.onProgress?.(`reading series ${chosen.seriesInstanceUid} (${chosen.numberOfInstances} images)`);
  const volume = await source.loadSeries(chosen.studyInstanceUid, chosen.seriesInstanceUid);
  volume.meta.source = volume.meta.source ?? dir;
  return { volume, kind: 'dicom-folder', source: dir, series: chosen, warnings: [...warnings, ...(volume.meta.warnings ?? [])] };
}

async function loadDicomWeb(url: string, opts: LoadInputOptions): Promise<LoadedInput> {
  const ref = parseDicomWebUrl(url);
  const source = createDicomWebSource({ baseUrl: ref.baseUrl });
  const warnings: string[] = [];
  let series: SeriesSummary | undefined;
  let seriesUid = ref.seriesInstanceUid;
  if (opts.series && seriesUid && opts.series !== seriesUid)
    throw new PsoasError('BAD_ARGUMENT', `--series ${opts.series} contradicts the series in the URL ${url}`, opts.series, url);
  if (!seriesUid) {
    opts.onProgress?.(`listing the series of study ${ref.studyInstanceUid} on ${ref.baseUrl}`);
    const all = await source.listSeries(ref.studyInstanceUid);
    const c = chooseSeries(all, `study ${ref.studyInstanceUid} on ${ref.baseUrl}`, opts.series);
    series = c.chosen;
    seriesUid = c.chosen.seriesInstanceUid;
    warnings.push(...c.warnings);
  }
  opts.onProgress?.(`loading series ${seriesUid} from ${ref.baseUrl}`);
  let lastPct = -1;
  const volume = await source.loadSeries(ref.studyInstanceUid, seriesUid, (p) => {
    const pct = Math.floor(p.fraction * 10) * 10;
    if (pct !== lastPct && p.stage === 'pixels') {
      lastPct = pct;
      opts.onProgress?.(`  ${pct}% of frames`);
    }
  });
  volume.meta.source = url;
  return { volume, kind: 'dicomweb', source: url, series, warnings: [...warnings, ...(volume.meta.warnings ?? [])] };
}

/**
 * Reads a label map for `measure`: a NIfTI file whose values are integers 0..255 (uint8 or any integer type;
 * float files whose values are all integers pass too). The map is returned as Volume<Uint8Array>.
 */
export async function loadMask(file: string): Promise<Volume<Uint8Array>> {
  let bytes: Uint8Array;
  try {
    const st = await stat(file);
    if (st.isDirectory())
      throw new PsoasError('BAD_ARGUMENT', `--mask ${file} is a folder; give a NIfTI label map (.nii or .nii.gz)`, file, file);
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    if (isPsoasError(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new PsoasError('BAD_ARGUMENT', code === 'ENOENT' ? `Mask ${file} does not exist` : `Cannot read mask ${file}: ${(e as Error).message}`, file, file);
  }
  let vol: Volume;
  try {
    vol = readNifti(bytes, file, { units: 'label' });
  } catch (e) {
    if (isPsoasError(e) && e.code === 'NOT_NIFTI')
      throw new PsoasError('NOT_NIFTI', `Mask ${file} must be a NIfTI label map (.nii/.nii.gz): ${e.message}`, e.value, file);
    throw e;
  }
  if (!(vol.data instanceof Uint8Array)) {
    let bad: number | undefined;
    for (let i = 0; i < vol.data.length; i++) {
      const v = vol.data[i];
      if (!(Number.isInteger(v) && v >= 0 && v <= 255)) {
        bad = v;
        break;
      }
    }
    if (bad !== undefined)
      throw new PsoasError(
        'BAD_ARGUMENT',
        `Mask ${file} is not a label map: it holds the value ${bad} (labels must be integers 0..255; a probability map must be thresholded first)`,
        bad,
        file,
      );
    vol = { ...vol, data: Uint8Array.from(vol.data) };
  }
  return { ...vol, units: 'label', data: vol.data as Uint8Array };
}
