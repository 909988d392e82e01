import { beforeEach, describe, expect, it, vi } from 'vitest';
import { PsoasError } from '../core/errors';
import type { DataSource, SeriesSummary } from '../sources/types';
import { makeSyntheticVolume } from '../viewer/synthetic';

// The loader's collaborators that need a browser (Cornerstone) or the real sources are replaced here; the
// loader logic itself (series choice, errors → store, volume registry) runs for real.
vi.mock('../viewer/cornerstone', () => ({ releaseCornerstoneVolume: vi.fn() }));
const fake: { source: DataSource | null } = { source: null };
vi.mock('./dataSources', () => ({
  sampleSource: async () => fake.source,
  dicomWebSource: async () => fake.source,
  localSource: async () => fake.source,
  syntheticSource: () => fake.source,
  bestSeries: async (s: SeriesSummary[]) => [...s].sort((a, b) => b.numberOfInstances - a.numberOfInstances)[0],
}));

const { openFromQuery, toUiError } = await import('./loader');
const { useLoadStore } = await import('./stores');
const { getVolume } = await import('../viewer/registry');

function series(uid: string, n: number): SeriesSummary {
  return { studyInstanceUid: 'S1', seriesInstanceUid: uid, modality: 'CT', seriesDescription: uid, numberOfInstances: n };
}

function source(load: DataSource['loadSeries']): DataSource {
  return {
    kind: 'dicomweb',
    label: 'http://pacs.example/dicomweb',
    searchStudies: async () => [],
    listSeries: async () => [series('scout', 2), series('thin', 300), series('thick', 60)],
    loadSeries: load,
  };
}

beforeEach(() => {
  vi.spyOn(console, 'error').mockImplementation(() => {});
  (globalThis as { location?: unknown }).location = { search: '', href: 'http://localhost/viewer' };
  useLoadStore.setState({ state: 'idle', error: null, volumeId: null, header: null, series: [] });
});

describe('openFromQuery', () => {
  it('opens the best series of a PACS study and publishes ids and header, not voxels', async () => {
    const loaded: string[] = [];
    fake.source = source(async (_st, se, onProgress) => {
      loaded.push(se);
      onProgress?.({ fraction: 0.5, stage: 'pixels', loaded: 1, total: 2 });
      const v = makeSyntheticVolume();
      v.meta.warnings = ['uneven slice spacing 3.0–6.0 mm'];
      return v;
    });
    await openFromQuery('?StudyInstanceUIDs=S1');
    const st = useLoadStore.getState();
    expect(st.error).toBeNull();
    expect(st.state).toBe('ready');
    expect(loaded).toEqual(['thin']); // most instances under the mocked pickBestSeries
    expect(st.series.map((s) => s.seriesInstanceUid)).toEqual(['scout', 'thin', 'thick']);
    expect(st.header?.dimensions).toEqual([128, 112, 60]);
    expect(st.header?.spacing).toEqual([2.5, 2.5, 4]);
    expect(st.header?.orientation).toBe('LPS');
    expect(st.header?.warnings).toEqual(['uneven slice spacing 3.0–6.0 mm']);
    expect(getVolume(st.volumeId)?.data.length).toBe(128 * 112 * 60);
    // The store never holds the voxel array itself.
    expect(Object.values(st).some((x) => ArrayBuffer.isView(x))).toBe(false);
  });

  it('honours SeriesInstanceUIDs and rejects a series that is not in the study', async () => {
    const loaded: string[] = [];
    fake.source = source(async (_st, se) => {
      loaded.push(se);
      return makeSyntheticVolume();
    });
    await openFromQuery('?StudyInstanceUIDs=S1&SeriesInstanceUIDs=thick');
    expect(loaded).toEqual(['thick']);
    await openFromQuery('?StudyInstanceUIDs=S1&SeriesInstanceUIDs=nope');
    const st = useLoadStore.getState();
    expect(st.state).toBe('error');
    expect(st.error?.code).toBe('STUDY_NOT_FOUND');
    expect(st.error?.message).toContain('nope');
  });

  it.each([
    [new PsoasError('MISSING_UID', 'SeriesInstanceUID (0020,000E) is empty in IM-0001.dcm', '', 'IM-0001.dcm'), 'MISSING_UID', 'IM-0001.dcm'],
    [new PsoasError('PACS_HTTP_ERROR', 'PACS answered HTTP 503 for /dicomweb/studies/S1/series', 503), 'PACS_HTTP_ERROR', '503'],
    [new Error('boom'), 'INTERNAL', 'boom'],
  ])('a failing load shows its code and message (%s)', async (err, code, text) => {
    fake.source = source(async () => {
      throw err;
    });
    await openFromQuery('?StudyInstanceUIDs=S1');
    const st = useLoadStore.getState();
    expect(st.state).toBe('error');
    expect(st.error?.code).toBe(code);
    expect(st.error?.message).toContain(text);
  });

  it('a URL naming nothing is a BAD_ARGUMENT that says what is expected', async () => {
    await openFromQuery('');
    const st = useLoadStore.getState();
    expect(st.error?.code).toBe('BAD_ARGUMENT');
    expect(st.error?.message).toContain('StudyInstanceUIDs');
  });

  it('local files lost by a reload are reported, not a blank viewer', async () => {
    await openFromQuery('?local=f999');
    expect(useLoadStore.getState().error?.code).toBe('BAD_ARGUMENT');
    expect(useLoadStore.getState().error?.message).toMatch(/no longer in memory/);
  });
});

describe('toUiError', () => {
  it('keeps the PsoasError code and appends its source', () => {
    expect(toUiError(new PsoasError('NOT_CT', 'Modality is MR, not CT', 'MR', 'a.dcm'))).toEqual({ code: 'NOT_CT', message: 'Modality is MR, not CT (a.dcm)' });
    expect(toUiError('x')).toEqual({ code: 'INTERNAL', message: 'x' });
  });
});

describe('local files that contain no image', () => {
  it.each([
    [['a.txt: not a DICOM file, ignored', 'b.doc: not a DICOM file, ignored'], 'NOT_DICOM'],
    [['a.dcm: Pixel Data (7FE0,0010) is truncated; ignored'], 'CORRUPT_FILE'],
  ])('%j → %s naming the files', async (warnings, code) => {
    fake.source = { ...source(async () => makeSyntheticVolume()), kind: 'local', label: 'Local files', warnings } as DataSource;
    await openFromQuery('?synthetic=1');
    const st = useLoadStore.getState();
    expect(st.error?.code).toBe(code);
    expect(st.error?.message).toContain(warnings[0].split(':')[0]);
  });
});

describe('cancelLoading', () => {
  it('aborts the source load and leaves no error behind', async () => {
    const { cancelLoading } = await import('./loader');
    let seen: AbortSignal | undefined;
    fake.source = source(
      (_st, _se, _p, signal) =>
        new Promise((_res, rej) => {
          seen = signal;
          signal?.addEventListener('abort', () => rej(new DOMException('aborted', 'AbortError')));
        }),
    );
    const done = openFromQuery('?StudyInstanceUIDs=S1');
    await vi.waitFor(() => expect(seen).toBeDefined());
    expect(useLoadStore.getState().state).toBe('loading');
    cancelLoading();
    await done;
    expect(seen?.aborted).toBe(true);
    expect(useLoadStore.getState().state).toBe('idle');
    expect(useLoadStore.getState().error).toBeNull();
  });
});
