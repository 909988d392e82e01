/**
 * Start page: the built-in sample study, the PACS (DICOMweb) study browser, and local files (DICOM / NIfTI).
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { StudyQuery } from '../sources/types';
import { bestSeries, dicomWebSource, dicomWebUrl } from './dataSources';
import { ErrorNotice } from './ErrorBoundary';
import { filesFromDataTransfer, stashLocalFiles } from './localFiles';
import { toUiError } from './uiError';
import { navigate, viewerUrl } from './router';
import { usePacsStore } from './stores';
import { formatDicomDate, formatPersonName, toDicomDateQuery } from './format';

function SampleCard() {
  return (
    <section className="card" aria-labelledby="sample-h">
      <h2 id="sample-h">Sample study</h2>
      <p>A synthetic abdominal CT with known psoas anatomy, built into the app. No data leaves the browser.</p>
      <button type="button" className="primary" data-testid="open-sample" onClick={() => navigate(viewerUrl({ sample: true }))}>
        Open sample study
      </button>
    </section>
  );
}

function PacsPanel() {
  const s = usePacsStore();
  const [q, setQ] = useState<StudyQuery>({ modality: 'CT' });

  useEffect(() => {
    dicomWebUrl().then(
      // Shown absolute so the user sees which server a relative (same-origin proxy) URL reaches.
      (url) => usePacsStore.getState().set({ url: new URL(url, location.href).href }),
      () => {},
    );
  }, []);

  const search = async (e?: FormEvent) => {
    e?.preventDefault();
    const set = usePacsStore.getState().set;
    set({ searching: true, error: null, selectedStudy: null, series: [] });
    try {
      const src = await dicomWebSource();
      const query: StudyQuery = {};
      if (q.patientName?.trim()) query.patientName = q.patientName.trim();
      if (q.patientId?.trim()) query.patientId = q.patientId.trim();
      if (q.studyDate?.trim()) query.studyDate = toDicomDateQuery(q.studyDate.trim());
      if (q.modality?.trim()) query.modality = q.modality.trim();
      const studies = await src.searchStudies(query);
      set({ studies, searching: false, searched: true });
    } catch (err) {
      set({ searching: false, searched: true, studies: [], error: toUiError(err) });
    }
  };

  const openStudy = async (studyUid: string) => {
    const set = usePacsStore.getState().set;
    set({ selectedStudy: studyUid, series: [], error: null });
    try {
      const src = await dicomWebSource();
      const series = await src.listSeries(studyUid);
      set({ series });
      const best = await bestSeries(series);
      if (best) navigate(viewerUrl({ studyUid, seriesUid: best.seriesInstanceUid }));
      else set({ error: { code: 'NO_IMAGE_SERIES', message: `Study ${studyUid} has no image series to show` } });
    } catch (err) {
      set({ error: toUiError(err) });
    }
  };

  return (
    <section className="card wide" aria-labelledby="pacs-h">
      <h2 id="pacs-h">PACS</h2>
      <p className="dim">
        DICOMweb server: <code data-testid="pacs-url">{s.url || '…'}</code>
      </p>
      <form className="search-form" onSubmit={search} data-testid="study-search">
        <label>
          Patient name
          <input value={q.patientName ?? ''} placeholder="e.g. DOE*" onChange={(e) => setQ({ ...q, patientName: e.target.value })} name="patientName" />
        </label>
        <label>
          Patient ID
          <input value={q.patientId ?? ''} onChange={(e) => setQ({ ...q, patientId: e.target.value })} name="patientId" />
        </label>
        <label>
          Study date
          <input value={q.studyDate ?? ''} placeholder="YYYYMMDD or range A-B" onChange={(e) => setQ({ ...q, studyDate: e.target.value })} name="studyDate" />
        </label>
        <label>
          Modality
          <select value={q.modality ?? ''} onChange={(e) => setQ({ ...q, modality: e.target.value })} name="modality">
            <option value="">any</option>
            <option value="CT">CT</option>
            <option value="MR">MR</option>
            <option value="PT">PT</option>
          </select>
        </label>
        <button type="submit" className="primary" disabled={s.searching} data-testid="study-search-submit">
          {s.searching ? 'Searching…' : 'Search'}
        </button>
      </form>
      {s.error ? <ErrorNotice code={String(s.error.code)} message={s.error.message} /> : null}
      <table className="study-list" data-testid="study-list">
        <thead>
          <tr>
            <th>Patient name</th>
            <th>Patient ID</th>
            <th>Date</th>
            <th>Description</th>
            <th>Modalities</th>
            <th># series</th>
          </tr>
        </thead>
        <tbody>
          {s.studies.map((st) => (
            <tr
              key={st.studyInstanceUid}
              data-testid="study-row"
              className={st.studyInstanceUid === s.selectedStudy ? 'selected' : ''}
              tabIndex={0}
              onClick={() => openStudy(st.studyInstanceUid)}
              onKeyDown={(e) => e.key === 'Enter' && openStudy(st.studyInstanceUid)}
              title={st.studyInstanceUid}
            >
              <td>{formatPersonName(st.patientName)}</td>
              <td>{st.patientId}</td>
              <td>{formatDicomDate(st.studyDate)}</td>
              <td>{st.studyDescription}</td>
              <td>{st.modalities.join(', ')}</td>
              <td>{st.numberOfSeries ?? ''}</td>
            </tr>
          ))}
          {s.searched && !s.searching && s.studies.length === 0 && !s.error ? (
            <tr>
              <td colSpan={6} className="dim">
                No studies match.
              </td>
            </tr>
          ) : null}
          {!s.searched ? (
            <tr>
              <td colSpan={6} className="dim">
                Press Search to list studies.
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
      {s.series.length > 0 ? (
        <table className="series-list" data-testid="series-list">
          <thead>
            <tr>
              <th>#</th>
              <th>Series</th>
              <th>Modality</th>
              <th>Images</th>
              <th>Slice (mm)</th>
            </tr>
          </thead>
          <tbody>
            {s.series.map((se) => (
              <tr
                key={se.seriesInstanceUid}
                data-testid="series-row"
                tabIndex={0}
                onClick={() => navigate(viewerUrl({ studyUid: se.studyInstanceUid, seriesUid: se.seriesInstanceUid }))}
              >
                <td>{se.seriesNumber ?? ''}</td>
                <td>{se.seriesDescription}</td>
                <td>{se.modality}</td>
                <td>{se.numberOfInstances}</td>
                <td>{se.sliceThicknessMm ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

const ACCEPT = '.dcm,.dicom,.nii,.nii.gz,.gz,application/dicom';

function LocalPanel() {
  const [over, setOver] = useState(false);
  const folderRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    // webkitdirectory is not in React's typed attributes: set it on the element.
    folderRef.current?.setAttribute('webkitdirectory', '');
    folderRef.current?.setAttribute('directory', '');
  }, []);

  const open = (files: File[]) => {
    if (files.length === 0) return;
    navigate(viewerUrl({ local: stashLocalFiles(files) }));
  };

  return (
    <section className="card" aria-labelledby="local-h">
      <h2 id="local-h">Local files</h2>
      <p>DICOM files or a folder of one series, or a NIfTI volume (.nii / .nii.gz). Files are read in the browser, never uploaded.</p>
      <div
        className={`drop-zone${over ? ' over' : ''}`}
        data-testid="local-drop"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          filesFromDataTransfer(e.dataTransfer).then(open, () => open([...e.dataTransfer.files]));
        }}
      >
        Drop files or a folder here
      </div>
      <div className="file-buttons">
        <label className="button">
          Choose files…
          <input type="file" multiple accept={ACCEPT} data-testid="local-files" onChange={(e) => open([...(e.target.files ?? [])])} />
        </label>
        <label className="button">
          Choose folder…
          <input type="file" multiple ref={folderRef} data-testid="local-folder" onChange={(e) => open([...(e.target.files ?? [])])} />
        </label>
      </div>
    </section>
  );
}

export function StartPage() {
  return (
    <main className="start">
      <header className="start-header">
        <h1>psoasview</h1>
        <p>Zero-footprint CT viewer that segments and measures the left and right psoas muscles in your browser.</p>
      </header>
      <div className="cards">
        <SampleCard />
        <LocalPanel />
        <PacsPanel />
      </div>
      <footer className="dim small">Research software — not a medical device. Keyboard help in the viewer: press ?</footer>
    </main>
  );
}
