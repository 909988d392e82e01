/**
 * Three-view MPR (axial, coronal, sagittal) of one registered volume, with orientation markers, per-view info
 * overlay (slice position in mm, window, HU and LPS position under the cursor), and optionally a label map
 * (registered mask on the same grid) drawn as a coloured segmentation overlay in all three views.
 */
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { Vec3 } from '../core/geometry';
import type { Volume } from '../core/volume';
import { worldToIndex } from '../core/geometry';
import { getVolume } from './registry';
import { valueAtWorld } from './sampling';
import { MprController, VIEW_NAMES, initCornerstone, type ViewName, type ViewState } from './cornerstone';
import { activeController, maximizedView, setActiveController, setHoveredView, setMaximizedView, subscribeMaximized } from './active';

const TITLES: Record<ViewName, string> = { axial: 'Axial', coronal: 'Coronal', sagittal: 'Sagittal' };
/** The LPS axis a view's slice position is reported along, for the standard orientations. */
const AXIS_LABEL = ['x', 'y', 'z'];

interface Probe {
  lps: Vec3;
  hu: number;
}

function fmt(n: number, d = 1): string {
  return Number.isFinite(n) ? n.toFixed(d) : '–';
}

function ViewOverlay({ name, state, probe, volumeId }: { name: ViewName; state: ViewState | null; probe: Probe | null; volumeId: string }) {
  if (!state) return null;
  const m = state.markers;
  // Slice position: coordinate of the slice plane along its dominant LPS axis (mm), e.g. z for axial.
  const n = state.normal;
  let ax = 0;
  for (let a = 1; a < 3; a++) if (Math.abs(n[a]) > Math.abs(n[ax])) ax = a;
  const v = getVolume(volumeId);
  let voxel = '';
  if (probe && v) {
    const idx = worldToIndex(v.geometry, probe.lps).map((x) => Math.round(x));
    voxel = `[${idx.join(', ')}]`;
  }
  return (
    <div className="vp-overlay" aria-hidden="false">
      <span className="marker marker-top" data-testid={`marker-${name}-top`}>{m.top}</span>
      <span className="marker marker-bottom" data-testid={`marker-${name}-bottom`}>{m.bottom}</span>
      <span className="marker marker-left" data-testid={`marker-${name}-left`}>{m.left}</span>
      <span className="marker marker-right" data-testid={`marker-${name}-right`}>{m.right}</span>
      <div className="corner corner-tl">
        <div className="view-title">{TITLES[name]}</div>
        <div data-testid={`slice-${name}`}>
          Slice {state.sliceIndex + 1}/{state.sliceCount} · {AXIS_LABEL[ax]} = {fmt(state.focalPoint[ax])} mm
        </div>
      </div>
      <div className="corner corner-bl" data-testid={`wl-${name}`}>
        W {Math.round(state.window.width)} / L {Math.round(state.window.center)}
      </div>
      <div className="corner corner-br" data-testid={`probe-${name}`}>
        {probe ? (
          <>
            <div>{Number.isFinite(probe.hu) ? `${Math.round(probe.hu)} HU` : 'outside volume'}</div>
            <div>
              LPS ({fmt(probe.lps[0])}, {fmt(probe.lps[1])}, {fmt(probe.lps[2])}) mm
            </div>
            <div className="dim">voxel {voxel}</div>
          </>
        ) : null}
      </div>
    </div>
  );
}

/** A label map overlay: registry id of the mask (on the CT's grid), visibility and fill opacity 0..1. */
export interface MprOverlay {
  maskId: string | null;
  visible: boolean;
  opacity: number;
}

export function MprViewer({
  volumeId,
  onError,
  overlay,
  onOverlayError,
}: {
  volumeId: string;
  onError: (e: unknown) => void;
  overlay?: MprOverlay;
  /** Overlay failures are reported here, not to onError: the CT stays on screen. */
  onOverlayError?: (e: unknown) => void;
}) {
  const gridRef = useRef<HTMLDivElement>(null);
  const els = useRef<Partial<Record<ViewName, HTMLDivElement>>>({});
  const [controller, setController] = useState<MprController | null>(null);
  const [probe, setProbe] = useState<Partial<Record<ViewName, Probe | null>>>({});
  const [tick, setTick] = useState(0);
  const maximized = useSyncExternalStore(subscribeMaximized, maximizedView);

  // One view alone or three: the grid keeps its size, so tell Cornerstone the canvases changed.
  useEffect(() => {
    if (!controller) return;
    const raf = requestAnimationFrame(() => controller.resize(true));
    return () => cancelAnimationFrame(raf);
  }, [controller, maximized]);

  // Leaving the viewer restores the three-view layout for the next study.
  useEffect(() => () => setMaximizedView(null), []);

  // Create the rendering engine once per mount.
  useEffect(() => {
    let c: MprController | null = null;
    let cancelled = false;
    initCornerstone()
      .then(() => {
        if (cancelled) return;
        c = new MprController(els.current as Record<ViewName, HTMLDivElement>);
        setActiveController(c);
        setController(c);
      })
      .catch(onError);
    return () => {
      cancelled = true;
      if (c) {
        if (activeController() === c) setActiveController(null);
        c.destroy();
      }
    };
  }, [onError]);

  // Show the volume.
  useEffect(() => {
    if (!controller) return;
    const v = getVolume(volumeId);
    if (!v) return;
    controller.setVolume(volumeId, v).then(
      () => setTick((t) => t + 1),
      (e: unknown) => {
        // A viewer unmounted mid-load (route change, series switch) is not an error.
        if (!controller.isDestroyed()) onError(e);
      },
    );
  }, [controller, volumeId, onError]);

  // The label map overlay follows the mask id (the controller waits for the CT and replaces any earlier overlay).
  const maskId = overlay?.maskId ?? null;
  useEffect(() => {
    if (!controller) return;
    const mask = maskId ? (getVolume(maskId) as Volume<Uint8Array> | undefined) : undefined;
    controller.setLabelmap(mask ? maskId : null, mask).catch((e: unknown) => {
      if (controller.isDestroyed()) return;
      console.error(e);
      onOverlayError?.(e);
    });
  }, [controller, maskId, volumeId, onOverlayError]);

  const overlayVisible = overlay?.visible ?? true;
  const overlayOpacity = overlay?.opacity ?? 0.5;
  useEffect(() => {
    controller?.setLabelmapStyle({ visible: overlayVisible, opacity: overlayOpacity });
  }, [controller, overlayVisible, overlayOpacity, maskId]);

  // Re-render overlays on camera/VOI changes (throttled to animation frames).
  useEffect(() => {
    if (!controller) return;
    let raf = 0;
    return controller.subscribe(() => {
      if (raf) return;
      raf = requestAnimationFrame(() => {
        raf = 0;
        setTick((t) => t + 1);
      });
    });
  }, [controller]);

  // Keep the canvases matched to their boxes.
  useEffect(() => {
    if (!controller || !gridRef.current) return;
    const ro = new ResizeObserver(() => controller.resize());
    ro.observe(gridRef.current);
    return () => ro.disconnect();
  }, [controller]);

  const onMove = (name: ViewName) => (e: React.MouseEvent<HTMLDivElement>) => {
    setHoveredView(name);
    const v = getVolume(volumeId);
    if (!controller || !v) return;
    const r = e.currentTarget.getBoundingClientRect();
    const lps = controller.canvasToWorld(name, [e.clientX - r.left, e.clientY - r.top]);
    setProbe((p) => ({ ...p, [name]: { lps, hu: valueAtWorld(v, lps) } }));
  };

  return (
    <div className={`mpr-grid${maximized ? ' max' : ''}`} ref={gridRef} data-testid="mpr" data-maximized={maximized ?? ''}>
      {VIEW_NAMES.map((name) => {
        let st: ViewState | null = null;
        if (controller && tick > 0) {
          try {
            st = controller.viewState(name);
          } catch {
            st = null;
          }
        }
        return (
          <div
            key={name}
            className={`viewport${maximized === name ? ' maximized' : ''}`}
            data-testid={`viewport-${name}`}
            title="Double-click: this view alone / all three"
            onDoubleClick={() => setMaximizedView(maximized === name ? null : name)}
            onMouseMove={onMove(name)}
            onMouseLeave={() => setProbe((p) => ({ ...p, [name]: null }))}
            onContextMenu={(e) => e.preventDefault()}
          >
            <div
              className="cs-element"
              ref={(el) => {
                if (el) els.current[name] = el;
              }}
            />
            <ViewOverlay name={name} state={st} probe={probe[name] ?? null} volumeId={volumeId} />
          </div>
        );
      })}
    </div>
  );
}
