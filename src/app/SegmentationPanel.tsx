/**
 * Right-hand panel of the viewer: model package (served list, local file pair, URL), "Segment psoas" with backend,
 * progress and cancel, the overlay (legend, show/hide, opacity), and the measurements per side with the level
 * (from the axial view), height, TPA/PMI, warnings and the downloads (measurements.json, mask .nii.gz).
 * State lives in useSegmentationStore; actions in segmentation.ts. No voxel data here.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { PSOAS_LABEL_STYLES, cssColour } from '../viewer/labels';
import { getVolume } from '../viewer/registry';
import { ErrorNotice } from './ErrorBoundary';
import {
  cancelSegmentation,
  clearLevel,
  dismissError,
  downloadMask,
  downloadReport,
  goToLevel,
  initSegmentation,
  isCt,
  loadLocalPackage,
  loadUrlPackage,
  segmentPsoas,
  selectModel,
  setBackendPreference,
  setHeightText,
  setOverlay,
  takeLevelFromAxialView,
} from './segmentation';
import { RESULT_ROWS, backendLine, formatFigure, overallFraction, progressLine, rowText, shortSha, truncationText, type BrowserReport } from './segmentResults';
import { useLoadStore, useSegmentationStore } from './stores';

function ModelSection() {
  const { choices, selectedKey, model, modelProgress, backendPreference, phase } = useSegmentationStore();
  const [url, setUrl] = useState('');
  const busy = phase !== 'ready';
  const selected = choices.find((c) => c.key === selectedKey);
  // Facts of the loaded model when it is the selected one; else what the index says about the selection.
  const loaded = model && selected && model.key.startsWith(`${selected.key}#`) ? model : null;
  const onUrl = (e: FormEvent) => {
    e.preventDefault();
    void loadUrlPackage(url);
  };
  return (
    <section className="seg-section" aria-labelledby="seg-model-h">
      <h3 id="seg-model-h">Model</h3>
      <div className="seg-row">
        <select
          data-testid="model-select"
          aria-label="Model package"
          value={selectedKey ?? ''}
          disabled={busy || choices.length === 0}
          onChange={(e) => selectModel(e.target.value)}
        >
          {choices.length === 0 ? <option value="">(no model package served)</option> : null}
          {choices.map((c) => (
            <option key={c.key} value={c.key}>
              {c.label}
            </option>
          ))}
        </select>
        <select
          data-testid="backend-select"
          aria-label="Inference backend"
          title="Where the model runs: WebGPU when the browser has it, else multithreaded WebAssembly"
          value={backendPreference}
          disabled={busy}
          onChange={(e) => setBackendPreference(e.target.value as 'auto' | 'webgpu' | 'wasm')}
        >
          <option value="auto">auto</option>
          <option value="webgpu">WebGPU</option>
          <option value="wasm">WASM</option>
        </select>
      </div>
      <div className="seg-model-info small" data-testid="model-info">
        {loaded ? (
          <>
            <strong>{loaded.name}</strong> {loaded.version} · sha256 <code title={loaded.sha256}>{shortSha(loaded.sha256)}</code> ·{' '}
            {loaded.verified ? 'verified' : 'not verified (no sha256 in manifest)'} ·{' '}
            <span data-testid="model-cache">{selected?.kind === 'files' ? 'local files' : loaded.fromCache ? 'from cache' : 'downloaded'}</span>
          </>
        ) : selected ? (
          <>
            <strong>{selected.name ?? selected.label}</strong> {selected.version ?? ''}
            {selected.sha256 ? (
              <>
                {' '}
                · sha256 <code title={selected.sha256}>{shortSha(selected.sha256)}</code>
              </>
            ) : null}{' '}
            · <span className="dim">loaded when you segment</span>
          </>
        ) : (
          <span className="dim">No model yet: load a package below.</span>
        )}
      </div>
      {modelProgress ? (
        <div className="small dim" data-testid="model-progress" role="status">
          {modelProgress}…
        </div>
      ) : null}
      <details className="seg-load">
        <summary>Load package…</summary>
        <div className="seg-row">
          <label className="button file-button" title="A model package: its manifest.json and its .onnx file">
            Files (manifest.json + .onnx)…
            <input
              type="file"
              multiple
              accept=".json,.onnx,application/json"
              data-testid="model-files"
              disabled={busy}
              onChange={(e) => {
                const files = Array.from(e.target.files ?? []);
                e.target.value = '';
                if (files.length) void loadLocalPackage(files);
              }}
            />
          </label>
        </div>
        <form className="seg-row" onSubmit={onUrl}>
          <input
            type="text"
            inputMode="url"
            placeholder="https://…/manifest.json"
            aria-label="Model package manifest URL"
            data-testid="model-url"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
          />
          <button type="submit" data-testid="model-url-load" disabled={busy}>
            Load
          </button>
        </form>
      </details>
    </section>
  );
}

function RunSection() {
  const { phase, progress, note, error, result, model } = useSegmentationStore();
  const { volumeId, state } = useLoadStore();
  const ct = getVolume(volumeId);
  const ctReady = !!ct && state === 'ready' && isCt(ct);
  const busy = phase !== 'ready';
  const pct = progress ? Math.round(100 * overallFraction(progress.stage, progress.fraction)) : 0;
  // The backend of the last run; before any run, the one the loaded model got.
  const ran = result ?? (model ? { backend: model.backend, numThreads: model.numThreads, fallbackReason: model.fallbackReason } : null);
  return (
    <section className="seg-section" aria-labelledby="seg-run-h">
      <h3 id="seg-run-h" className="sr-only">
        Segment
      </h3>
      <div className="seg-row">
        <button
          type="button"
          className="primary"
          data-testid="segment-button"
          disabled={!ctReady || busy}
          title={ctReady ? 'Segment the left and right psoas in this CT' : ct ? 'The model segments CT (Hounsfield units) only' : 'Open a CT series first'}
          onClick={() => void segmentPsoas()}
        >
          Segment psoas
        </button>
        {busy ? (
          <button type="button" data-testid="cancel-button" disabled={phase === 'measuring'} onClick={() => cancelSegmentation()}>
            Cancel
          </button>
        ) : null}
      </div>
      {busy ? (
        <div className="seg-progress" data-testid="seg-progress" role="status" aria-live="polite">
          <div data-testid="seg-progress-text">
            {phase === 'loading-model'
              ? 'Loading the model'
              : phase === 'measuring'
                ? 'Measuring'
                : progress
                  ? `${progress.step ? `Step ${progress.step}/${progress.steps} · ` : ''}${progressLine(progress)}`
                  : 'Starting'}
          </div>
          <progress max={100} value={phase === 'segmenting' ? pct : undefined} />
        </div>
      ) : null}
      {ran ? (
        <div className="small" data-testid="seg-backend">
          Backend: <code>{backendLine(ran.backend, ran.numThreads)}</code>
          {ran.fallbackReason ? (
            <div className="dim" data-testid="seg-fallback">
              {ran.fallbackReason}
            </div>
          ) : null}
        </div>
      ) : null}
      {note ? (
        <div className="small seg-note" data-testid="seg-note" role="status">
          {note}
        </div>
      ) : null}
      {error ? <ErrorNotice code={String(error.code)} message={error.message} onDismiss={dismissError} testId="seg-error" /> : null}
    </section>
  );
}

function OverlaySection() {
  const { overlayVisible, overlayOpacity, result } = useSegmentationStore();
  return (
    <section className="seg-section" aria-labelledby="seg-overlay-h">
      <h3 id="seg-overlay-h">Overlay</h3>
      <ul className="legend" data-testid="legend">
        {PSOAS_LABEL_STYLES.map((s) => (
          <li key={s.value}>
            <span className="swatch" style={{ background: cssColour(s) }} aria-hidden="true" />
            {s.title} <span className="dim">· label {s.value}</span>
          </li>
        ))}
      </ul>
      <div className="seg-row">
        <label className="check">
          <input
            type="checkbox"
            data-testid="overlay-toggle"
            checked={overlayVisible}
            disabled={!result}
            onChange={(e) => setOverlay({ visible: e.target.checked })}
          />
          Show
        </label>
        <label className="opacity">
          Opacity
          <input
            type="range"
            min={0}
            max={100}
            step={5}
            data-testid="overlay-opacity"
            value={Math.round(overlayOpacity * 100)}
            disabled={!result}
            onChange={(e) => setOverlay({ opacity: Number(e.target.value) / 100 })}
          />
          <span className="dim">{Math.round(overlayOpacity * 100)} %</span>
        </label>
      </div>
    </section>
  );
}

function ResultsSection() {
  const { measurements, report, levelZmm, levelSlice, heightText, heightError, result } = useSegmentationStore();
  if (!measurements || !result) {
    return (
      <section className="seg-section" aria-labelledby="seg-results-h">
        <h3 id="seg-results-h">Results</h3>
        <p className="small dim">Segment the psoas to see volume, length, cross-section and density per side.</p>
      </section>
    );
  }
  const rows = RESULT_ROWS.filter((r) => !r.atLevel || levelZmm !== null);
  const warnings = (report as BrowserReport | null)?.warnings ?? [];
  return (
    <section className="seg-section" aria-labelledby="seg-results-h" data-testid="results">
      <h3 id="seg-results-h">Results</h3>
      <table className="results">
        <thead>
          <tr>
            <th scope="col">
              <span className="sr-only">Figure</span>
            </th>
            {PSOAS_LABEL_STYLES.map((s) => (
              <th key={s.name} scope="col" title={s.title}>
                <span className="swatch" style={{ background: cssColour(s) }} aria-hidden="true" />
                {s.value === 1 ? 'Left' : s.value === 2 ? 'Right' : s.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id}>
              <th scope="row">
                {r.label} <span className="dim">({r.unit})</span>
              </th>
              {PSOAS_LABEL_STYLES.map((s) => {
                const m = measurements.structures[s.name];
                const v = m?.present ? r.value(m) : null;
                return (
                  <td key={s.name} data-testid={`m-${r.id}-${s.name}`} data-value={v ?? ''}>
                    {rowText(r, m)}
                  </td>
                );
              })}
            </tr>
          ))}
          <tr>
            <th scope="row">Truncated</th>
            {PSOAS_LABEL_STYLES.map((s) => {
              const t = truncationText(measurements.structures[s.name]);
              return (
                <td key={s.name} data-testid={`m-truncated-${s.name}`} className={t ? 'warn' : ''} title={t ? 'The mask touches the edge of the scan: volume, length and extent are lower limits' : ''}>
                  {measurements.structures[s.name]?.present ? (t ? `⚠ ${t}` : 'no') : 'absent'}
                </td>
              );
            })}
          </tr>
        </tbody>
      </table>

      <div className="seg-level">
        <div className="seg-row">
          <button type="button" data-testid="level-from-axial" onClick={() => takeLevelFromAxialView()} title="The slice the axial view shows now becomes the level (e.g. mid-L3)">
            Use current axial slice as L3
          </button>
          {levelZmm !== null ? (
            <>
              <button type="button" className="link" data-testid="level-goto" onClick={() => goToLevel()}>
                Go to
              </button>
              <button type="button" className="link" data-testid="level-clear" onClick={() => clearLevel()}>
                Clear
              </button>
            </>
          ) : null}
        </div>
        <div className="small" data-testid="level-value" data-value={levelZmm ?? ''}>
          {levelZmm !== null ? (
            <>
              L3 level: z = {formatFigure(levelZmm, 1)} mm <span className="dim">({levelSlice})</span>
            </>
          ) : (
            <span className="dim">No level yet: scroll the axial view to mid-L3, then press the button.</span>
          )}
        </div>
        <label className="seg-row height">
          Height (m)
          <input
            type="text"
            inputMode="decimal"
            placeholder="e.g. 1.75"
            data-testid="height-input"
            value={heightText}
            aria-invalid={!!heightError}
            onChange={(e) => setHeightText(e.target.value)}
          />
        </label>
        {heightError ? (
          <div className="small field-error" data-testid="height-error">
            {heightError}
          </div>
        ) : null}
        {levelZmm !== null ? (
          <div className="seg-totals">
            <div>
              Total psoas area (TPA) at level:{' '}
              <strong data-testid="tpa" data-value={measurements.tpa_cm2 ?? ''}>
                {formatFigure(measurements.tpa_cm2, 2)} cm²
              </strong>
            </div>
            <div>
              Psoas muscle index (PMI):{' '}
              <strong data-testid="pmi" data-value={measurements.pmi_cm2_per_m2 ?? ''}>
                {measurements.pmi_cm2_per_m2 !== undefined ? `${formatFigure(measurements.pmi_cm2_per_m2, 2)} cm²/m²` : '– (enter the height)'}
              </strong>
            </div>
          </div>
        ) : null}
      </div>

      {warnings.length > 0 ? (
        <div className="warning-notice seg-warnings" data-testid="seg-warnings" role="note">
          <ul>
            {warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </div>
      ) : null}

      <div className="seg-row downloads">
        <button type="button" data-testid="download-report" onClick={() => downloadReport()}>
          Download measurements.json
        </button>
        <button type="button" data-testid="download-mask" onClick={() => void downloadMask()}>
          Download mask (.nii.gz)
        </button>
      </div>
      <div className="small dim" data-testid="result-provenance">
        {result.model.name} {result.model.version} · {result.tiles} tiles · mask on the CT grid (1 = left, 2 = right)
      </div>
    </section>
  );
}

export function SegmentationPanel() {
  useEffect(() => initSegmentation(), []);
  return (
    <aside className="seg-panel" data-testid="seg-panel" aria-label="Segmentation">
      <h2>Psoas segmentation</h2>
      <ModelSection />
      <RunSection />
      <OverlaySection />
      <ResultsSection />
      <p className="small dim">Research software — not a medical device.</p>
    </aside>
  );
}
