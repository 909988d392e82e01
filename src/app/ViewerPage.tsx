/**
 * /viewer route: loads what the URL names (PACS study/series, sample, local files), shows progress, the
 * patient/series header, warnings, the series switcher, toolbar, help, and the three-view MPR.
 */
import { useCallback, useEffect, useMemo, useSyncExternalStore } from 'react';
import { MprViewer } from '../viewer/MprViewer';
import { activeController, hoveredView, maximizedView, setMaximizedView, subscribeActive } from '../viewer/active';
import { DEFAULT_PRESET, WINDOW_PRESETS } from '../viewer/presets';
import type { PrimaryTool } from '../viewer/cornerstone';
import { ErrorNotice } from './ErrorBoundary';
import { formatDicomDate, formatPersonName, formatSpacing } from './format';
import { cancelLoading, openFromQuery, switchSeries } from './loader';
import { toUiError } from './uiError';
import { navigate, useRoute } from './router';
import { useLoadStore, useSegmentationStore, useViewerUiStore } from './stores';
import { SegmentationPanel } from './SegmentationPanel';
import { reportOverlayError } from './segmentation';

const TOOLS: Array<{ id: PrimaryTool; label: string; key: string }> = [
  { id: 'windowLevel', label: 'W/L', key: 'w' },
  { id: 'pan', label: 'Pan', key: 'p' },
  { id: 'zoom', label: 'Zoom', key: 'z' },
  { id: 'crosshairs', label: 'Crosshairs', key: 'c' },
];

export const SHORTCUTS: Array<[string, string]> = [
  ...WINDOW_PRESETS.map((p): [string, string] => [p.key, `${p.label} window (W${p.width} / L${p.center})`]),
  ['w', 'Left mouse: window/level (drag)'],
  ['p', 'Left mouse: pan'],
  ['z', 'Left mouse: zoom'],
  ['c', 'Crosshairs on/off'],
  ['↑ / ↓', 'Previous / next slice in the view under the mouse'],
  ['Page Up / Down', '10 slices'],
  ['r', 'Reset views (zoom, pan, slices, window)'],
  ['m / double-click', 'The view under the mouse alone / all three'],
  ['?', 'This help'],
  ['Wheel', 'Scroll slices'],
  ['Middle drag', 'Pan'],
  ['Right drag', 'Zoom'],
];

function LoadStatus() {
  const { state, progress } = useLoadStore();
  if (state !== 'loading') return null;
  const pct = Math.round(100 * (progress?.fraction ?? 0));
  const what = progress?.stage === 'pixels' ? 'Loading images' : progress?.stage === 'assemble' ? 'Assembling volume' : 'Reading metadata';
  return (
    <div className="load-status" data-testid="load-status" role="status" aria-live="polite">
      <div>
        {what}
        {progress?.total ? ` (${progress.loaded ?? 0}/${progress.total})` : ''}… {pct}%
      </div>
      <progress max={100} value={pct} />
    </div>
  );
}

function Header() {
  const { header, series, seriesInstanceUid, state, sourceLabel } = useLoadStore();
  return (
    <header className="viewer-header">
      <button type="button" className="link brand" onClick={() => navigate('/')} title="Back to the start page">
        psoasview
      </button>
      {header ? (
        <div className="patient" data-testid="patient-header">
          <strong>{formatPersonName(header.patientName) || 'Anonymous'}</strong>
          <span>ID {header.patientId || '–'}</span>
          <span>{formatDicomDate(header.studyDate) || 'no date'}</span>
          <span title={header.source}>{header.seriesDescription || '(no series description)'}</span>
          <span data-testid="volume-dims">
            {header.dimensions.join(' × ')} vox · {formatSpacing(header.spacing)} mm · <span title="patient directions of the stored i, j, k axes">ijk→{header.orientation}</span>
          </span>
          <span className="dim">{sourceLabel}</span>
        </div>
      ) : (
        <div className="patient dim">{state === 'loading' ? 'Loading…' : ''}</div>
      )}
      {series.length > 0 ? (
        <label className="series-switcher">
          Series
          <select
            data-testid="series-switcher"
            value={seriesInstanceUid ?? ''}
            disabled={state === 'loading'}
            onChange={(e) => void switchSeries(e.target.value)}
          >
            {series.map((s) => (
              <option key={s.seriesInstanceUid} value={s.seriesInstanceUid}>
                {s.seriesNumber != null ? `#${s.seriesNumber} ` : ''}
                {s.modality} {s.seriesDescription || '(no description)'} · {s.numberOfInstances} img
                {s.sliceThicknessMm ? ` · ${s.sliceThicknessMm} mm` : ''}
              </option>
            ))}
          </select>
        </label>
      ) : null}
    </header>
  );
}

/**
 * The window (W/L, HU) the views show now, as "W/L" text, following drags and presets; '' before a volume shows.
 * (A string snapshot so useSyncExternalStore can compare it.)
 */
function useCurrentWindow(): string {
  return useSyncExternalStore(
    (onChange) => {
      let unsubController: (() => void) | undefined;
      const attach = () => {
        unsubController?.();
        unsubController = activeController()?.subscribe(onChange);
        onChange();
      };
      const unsubActive = subscribeActive(attach);
      attach();
      return () => {
        unsubActive();
        unsubController?.();
      };
    },
    () => {
      try {
        const w = activeController()?.viewState('axial').window;
        return w ? `${Math.round(w.width)}/${Math.round(w.center)}` : '';
      } catch {
        return '';
      }
    },
  );
}

function Toolbar() {
  const ui = useViewerUiStore();
  // A preset button is lit only while the views really show that window (a W/L drag turns it off).
  const current = useCurrentWindow();
  const setTool = (t: PrimaryTool) => {
    activeController()?.setPrimaryTool(t);
    ui.set({ primaryTool: t });
  };
  return (
    <div className="toolbar" role="toolbar" aria-label="Viewer tools">
      {TOOLS.map((t) => (
        <button
          key={t.id}
          type="button"
          className={ui.primaryTool === t.id ? 'active' : ''}
          aria-pressed={ui.primaryTool === t.id}
          data-testid={`tool-${t.id}`}
          title={`${t.label} (${t.key})`}
          onClick={() => setTool(ui.primaryTool === t.id && t.id === 'crosshairs' ? 'windowLevel' : t.id)}
        >
          {t.label}
        </button>
      ))}
      <span className="sep" />
      {WINDOW_PRESETS.map((p) => (
        <button
          key={p.id}
          type="button"
          className={current === `${p.width}/${p.center}` ? 'active' : ''}
          aria-pressed={current === `${p.width}/${p.center}`}
          data-testid={`preset-${p.id}`}
          title={`W${p.width} / L${p.center} (${p.key})`}
          onClick={() => {
            activeController()?.setWindow(p.width, p.center);
            ui.set({ presetId: p.id });
          }}
        >
          {p.label}
        </button>
      ))}
      <span className="sep" />
      <button type="button" data-testid="reset" title="Reset (r)" onClick={() => resetAll()}>
        Reset
      </button>
      <button type="button" data-testid="help-button" aria-expanded={ui.helpOpen} title="Keyboard shortcuts (?)" onClick={() => ui.set({ helpOpen: !ui.helpOpen })}>
        ?
      </button>
      <span className="sep" />
      <button
        type="button"
        data-testid="seg-panel-toggle"
        className={ui.segPanelOpen ? 'active' : ''}
        aria-pressed={ui.segPanelOpen}
        title="Show or hide the psoas segmentation panel"
        onClick={() => ui.set({ segPanelOpen: !ui.segPanelOpen })}
      >
        Segmentation
      </button>
    </div>
  );
}

function resetAll() {
  const c = activeController();
  if (!c) return;
  c.resetViews();
  c.setWindow(DEFAULT_PRESET.width, DEFAULT_PRESET.center);
  useViewerUiStore.getState().set({ presetId: DEFAULT_PRESET.id });
}

function Help() {
  const { helpOpen, set } = useViewerUiStore();
  if (!helpOpen) return null;
  return (
    <div className="help-popover" role="dialog" aria-label="Keyboard shortcuts" data-testid="help">
      <div className="help-title">
        Keyboard and mouse
        <button type="button" className="link" onClick={() => set({ helpOpen: false })} aria-label="Close help">
          ×
        </button>
      </div>
      <table>
        <tbody>
          {SHORTCUTS.map(([k, d]) => (
            <tr key={k}>
              <td>
                <kbd>{k}</kbd>
              </td>
              <td>{d}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function useShortcuts() {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const ui = useViewerUiStore.getState();
      const c = activeController();
      const preset = WINDOW_PRESETS.find((p) => p.key === e.key);
      if (e.key === '?') ui.set({ helpOpen: !ui.helpOpen });
      else if (e.key === 'Escape') ui.set({ helpOpen: false });
      else if (!c) return;
      else if (preset) {
        c.setWindow(preset.width, preset.center);
        ui.set({ presetId: preset.id });
      } else if (e.key === 'r') resetAll();
      else if (e.key === 'm') {
        const v = hoveredView();
        setMaximizedView(maximizedView() === v ? null : v);
      }
      else if (e.key === 'c') {
        const next: PrimaryTool = ui.primaryTool === 'crosshairs' ? 'windowLevel' : 'crosshairs';
        c.setPrimaryTool(next);
        ui.set({ primaryTool: next });
      } else if (e.key === 'w' || e.key === 'p' || e.key === 'z') {
        const next: PrimaryTool = e.key === 'w' ? 'windowLevel' : e.key === 'p' ? 'pan' : 'zoom';
        c.setPrimaryTool(next);
        ui.set({ primaryTool: next });
      } else if (e.key === 'ArrowUp' || e.key === 'ArrowDown' || e.key === 'PageUp' || e.key === 'PageDown') {
        const step = e.key.startsWith('Page') ? 10 : 1;
        c.scroll(hoveredView(), e.key === 'ArrowUp' || e.key === 'PageUp' ? -step : step);
      } else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

export function ViewerPage() {
  const search = useRoute((r) => r.search);
  const { state, error, volumeId, header } = useLoadStore();
  const panelOpen = useViewerUiStore((s) => s.segPanelOpen);
  const maskId = useSegmentationStore((s) => s.result?.maskId ?? null);
  const overlayVisible = useSegmentationStore((s) => s.overlayVisible);
  const overlayOpacity = useSegmentationStore((s) => s.overlayOpacity);
  const overlay = useMemo(() => ({ maskId, visible: overlayVisible, opacity: overlayOpacity }), [maskId, overlayVisible, overlayOpacity]);
  useShortcuts();

  useEffect(() => {
    void openFromQuery(search);
    return () => cancelLoading();
  }, [search]);

  const onViewerError = useCallback((e: unknown) => {
    console.error(e);
    useLoadStore.getState().set({ state: 'error', error: toUiError(e) });
  }, []);

  return (
    <div className="viewer-page">
      <Header />
      <Toolbar />
      <Help />
      {error ? <ErrorNotice code={String(error.code)} message={error.message} /> : null}
      {header && header.warnings.length > 0 ? (
        <div className="warning-notice" data-testid="warnings" role="note">
          <strong>Warning{header.warnings.length > 1 ? 's' : ''}:</strong>
          <ul>
            {header.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </div>
      ) : null}
      <LoadStatus />
      <div className="viewer-body">
        <div className="viewer-main">
          {volumeId && state !== 'error' ? <MprViewer volumeId={volumeId} onError={onViewerError} overlay={overlay} onOverlayError={reportOverlayError} /> : null}
          {state === 'error' ? (
            <div className="empty-state">
              <button type="button" onClick={() => navigate('/')}>
                Back to the start page
              </button>
            </div>
          ) : null}
        </div>
        {panelOpen && state !== 'error' ? <SegmentationPanel /> : null}
      </div>
    </div>
  );
}
