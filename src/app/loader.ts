/**
 * Opens what the /viewer URL names: the sample study, stashed local files, or a PACS study
 * (`StudyInstanceUIDs` / `SeriesInstanceUIDs`, OHIF-compatible). Loads through the DataSource, registers the
 * volume and publishes ids/metadata to the load store. Every failure lands in the store as {code, message}.
 */
import type { DataSource, SeriesSummary } from '../sources/types';
import { PsoasError } from '../core/errors';
import { orientationCode } from '../core/geometry';
import type { Volume } from '../core/volume';
import { getVolume, registerVolume, releaseVolume } from '../viewer/registry';
import { bestSeries, dicomWebSource, localSource, sampleSource, syntheticSource } from './dataSources';
import { takeLocalFiles } from './localFiles';
import { useLoadStore, type SeriesHeader } from './stores';
import { toUiError } from './uiError';

export { toUiError };

/** Frees the Cornerstone copy of a volume (lazy import: Cornerstone is only loaded by the viewer route). */
function releaseCornerstoneVolume(id: string): void {
  import('../viewer/cornerstone').then((m) => m.releaseCornerstoneVolume(id), () => {});
}

let source: DataSource | null = null;
let abort: AbortController | null = null;

function headerOf(v: Volume): SeriesHeader {
  const m = v.meta;
  const g = v.geometry;
  return {
    patientName: m.patientName ?? '',
    patientId: m.patientId ?? '',
    studyDate: m.studyDate ?? '',
    seriesDescription: m.seriesDescription ?? '',
    modality: m.modality ?? '',
    dimensions: [...g.dimensions],
    spacing: [...g.spacing],
    orientation: orientationCode(g),
    source: m.source ?? '',
    warnings: [...(m.warnings ?? [])],
  };
}

async function sourceFor(params: URLSearchParams): Promise<DataSource> {
  if (params.get('sample')) return sampleSource();
  // Built-in synthetic orientation volume (developer/test aid): ?synthetic=1, or ?synthetic=flipped for the same
  // anatomy stored with i → Right, j → Anterior.
  const synth = params.get('synthetic');
  if (synth) return syntheticSource({ flipped: synth === 'flipped' });
  const local = params.get('local');
  if (local) {
    const files = takeLocalFiles(local);
    if (!files) {
      throw new PsoasError('BAD_ARGUMENT', 'The local files of this link are no longer in memory (the page was reloaded): open them again from the start page', local);
    }
    return localSource(files);
  }
  if (params.get('StudyInstanceUIDs')) return dicomWebSource();
  throw new PsoasError('BAD_ARGUMENT', 'Nothing to open: the viewer URL needs StudyInstanceUIDs=<uid> (optionally SeriesInstanceUIDs=<uid>), sample=1 or local files', location.search);
}

/** Opens the study/series named by a /viewer query string. Returns when loaded or failed (never throws). */
export async function openFromQuery(search: string): Promise<void> {
  const params = new URLSearchParams(search);
  const st = useLoadStore.getState();
  abort?.abort();
  abort = new AbortController();
  const signal = abort.signal;
  if (st.volumeId) {
    releaseVolume(st.volumeId);
    releaseCornerstoneVolume(st.volumeId);
  }
  st.set({ state: 'loading', progress: { fraction: 0, stage: 'metadata' }, error: null, series: [], header: null, volumeId: null });
  try {
    source = await sourceFor(params);
    let studyUid = params.get('StudyInstanceUIDs')?.split(',')[0] ?? null;
    if (!studyUid) {
      const studies = await source.searchStudies();
      if (studies.length === 0) {
        // A local source lists why it skipped files (not DICOM, unreadable): say that, naming the files.
        const skipped = (source as DataSource & { warnings?: string[] }).warnings ?? [];
        if (source.kind === 'local' && skipped.length > 0) {
          const all = skipped.every((w) => /not a DICOM file/i.test(w));
          throw new PsoasError(
            all ? 'NOT_DICOM' : 'CORRUPT_FILE',
            `No DICOM image or NIfTI volume among the chosen files: ${skipped.slice(0, 5).join('; ')}${skipped.length > 5 ? `; … (${skipped.length} in all)` : ''}`,
            skipped.length,
            source.label,
          );
        }
        throw new PsoasError('STUDY_NOT_FOUND', `No study found in ${source.label}`, source.label);
      }
      studyUid = studies[0].studyInstanceUid;
    }
    const series = await source.listSeries(studyUid);
    const wanted = params.get('SeriesInstanceUIDs')?.split(',')[0];
    let pick: SeriesSummary | undefined;
    if (wanted) {
      pick = series.find((s) => s.seriesInstanceUid === wanted);
      if (!pick) throw new PsoasError('STUDY_NOT_FOUND', `Series ${wanted} is not in study ${studyUid} (${source.label})`, wanted, source.label);
    } else {
      // pickBestSeries only considers multi-instance CT series; when it finds none (a NIfTI file is one
      // instance; a non-CT study) open the largest series anyway: the source then loads it or says precisely
      // why not (NOT_CT, TOO_FEW_SLICES...), which is more useful than a generic "nothing to show".
      pick = (await bestSeries(series)) ?? [...series].sort((a, b) => b.numberOfInstances - a.numberOfInstances)[0];
      if (!pick) throw new PsoasError('NO_IMAGE_SERIES', `Study ${studyUid} has no image series to show (${source.label})`, studyUid, source.label);
    }
    useLoadStore.getState().set({ series, studyInstanceUid: studyUid, sourceKind: source.kind, sourceLabel: source.label });
    await loadSeries(pick.seriesInstanceUid, signal);
  } catch (e) {
    if (signal.aborted) return;
    console.error(e);
    useLoadStore.getState().set({ state: 'error', error: toUiError(e), progress: null });
  }
}

async function loadSeries(seriesUid: string, signal: AbortSignal): Promise<void> {
  const st = useLoadStore.getState();
  if (!source || !st.studyInstanceUid) throw new PsoasError('INTERNAL', 'No data source is open', seriesUid);
  st.set({ state: 'loading', seriesInstanceUid: seriesUid, progress: { fraction: 0, stage: 'metadata' }, error: null });
  const vol = await source.loadSeries(st.studyInstanceUid, seriesUid, (p) => useLoadStore.getState().set({ progress: p }), signal);
  if (signal.aborted) return;
  if (vol.units === 'label') throw new PsoasError('NOT_IMAGE', `Series ${seriesUid} is a label map, not an image`, seriesUid);
  const old = useLoadStore.getState().volumeId;
  const id = registerVolume(vol);
  useLoadStore.getState().set({ state: 'ready', volumeId: id, header: headerOf(vol), progress: null });
  if (old && old !== id) {
    releaseVolume(old);
    releaseCornerstoneVolume(old);
  }
}

/** Stops an in-flight load (leaving the viewer); the sources receive the abort through their AbortSignal. */
export function cancelLoading(): void {
  abort?.abort();
  abort = null;
  if (useLoadStore.getState().state === 'loading') useLoadStore.getState().set({ state: 'idle', progress: null });
}

/** Switches the viewer to another series of the open study. */
export async function switchSeries(seriesUid: string): Promise<void> {
  abort?.abort();
  abort = new AbortController();
  const signal = abort.signal;
  try {
    await loadSeries(seriesUid, signal);
    const url = new URL(location.href);
    if (url.searchParams.has('StudyInstanceUIDs')) {
      url.searchParams.set('SeriesInstanceUIDs', seriesUid);
      history.replaceState(null, '', url.toString());
    }
  } catch (e) {
    if (signal.aborted) return;
    console.error(e);
    useLoadStore.getState().set({ state: 'error', error: toUiError(e), progress: null });
  }
}

export function currentVolume(): Volume | undefined {
  return getVolume(useLoadStore.getState().volumeId);
}
