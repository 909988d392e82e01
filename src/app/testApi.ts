/**
 * `window.__psoasview`: a tiny, always-present hook for end-to-end tests (and for power users in the console).
 * Coordinates: `lps` = patient LPS mm; canvas results are CSS px relative to the viewport element's top-left.
 */
import type { Vec3, VolumeGeometry } from '../core/geometry';
import { getVolume } from '../viewer/registry';
import { valueAtIndex, valueAtWorld } from '../viewer/sampling';
import { activeController } from '../viewer/active';
import type { ViewName } from '../viewer/cornerstone';
import type { OrientationMarkers } from '../viewer/orientation';
import { useLoadStore, useSegmentationStore, type LoadState, type SegPhase } from './stores';
import { labelCounts, runLengths } from './maskStats';

/** The segmentation panel as e2e specs see it (window.__psoasview.segmentation). */
export interface SegmentationTestApi {
  /** 'ready' when idle; else what runs now. */
  readonly state: SegPhase;
  readonly note: string | null;
  readonly error?: { code: string; message: string };
  /** Progress of the run: stage, fraction within it, tile done/total during inference. */
  readonly progress: { stage: string; fraction: number; tile?: { done: number; total: number } } | null;
  /** The model loaded in the worker (name, version, sha256, fromCache, verified, backend, threads). */
  readonly model: { name: string; version: string; sha256: string; fromCache: boolean; verified: boolean; backend: string; numThreads: number; fallbackReason?: string } | null;
  /** Backend of the last finished run, e.g. 'onnxruntime-web/wasm'. */
  readonly backend: string | null;
  readonly numThreads: number | null;
  readonly fallbackReason: string | null;
  /** True once a result is shown. */
  readonly hasResult: boolean;
  /** The measurement level (patient z, LPS mm) and height (m) in use. */
  readonly levelZmm: number | null;
  readonly heightM: number | null;
  readonly overlay: { visible: boolean; opacity: number; viewsWithOverlay: number };
  /** measureAll's output for the result (structures, tpa/pmi), as shown in the panel. */
  measurements(): unknown;
  /** measurements.json as "Download measurements.json" saves it. */
  report(): unknown;
  /** Voxels per label of the result mask (on the CT grid); null without a result. */
  maskLabelCounts(): Record<number, number> | null;
  /** The result mask run-length encoded in linear voxel order [value, count, …] (maskStats.ts). */
  maskRunLengths(): number[] | null;
  /** Registry id of the result mask and its geometry. */
  mask(): { id: string; dimensions: Vec3; spacing: Vec3; origin: Vec3; direction: number[] } | null;
}

export interface PsoasviewTestApi {
  readonly state: LoadState;
  readonly error?: { code: string; message: string };
  volume(): {
    dimensions: Vec3;
    spacing: Vec3;
    origin: Vec3;
    direction: number[];
    source: string;
    seriesInstanceUid: string;
    /** The same geometry as one object (copy), plus the value units: for specs that use core geometry helpers. */
    geometry: VolumeGeometry;
    units: string;
    warnings: string[];
  } | null;
  huAtIndex(i: number, j: number, k: number): number;
  huAtWorld(lps: Vec3): number;
  worldToCanvas(view: ViewName, lps: Vec3): [number, number];
  jumpTo(lps: Vec3): void;
  orientationMarkers(view: ViewName): OrientationMarkers;
  /** True once the three views have rendered the current volume. */
  readonly viewsReady: boolean;
  readonly segmentation: SegmentationTestApi;
}

declare global {
  interface Window {
    __psoasview: PsoasviewTestApi;
  }
}

function current() {
  return getVolume(useLoadStore.getState().volumeId);
}

function controller() {
  const c = activeController();
  if (!c) throw new Error('psoasview: no viewer is mounted');
  return c;
}

function resultMask() {
  const r = useSegmentationStore.getState().result;
  return r ? getVolume(r.maskId) : undefined;
}

const segmentationApi: SegmentationTestApi = {
  get state() {
    return useSegmentationStore.getState().phase;
  },
  get note() {
    return useSegmentationStore.getState().note;
  },
  get error() {
    const e = useSegmentationStore.getState().error;
    return e ? { code: String(e.code), message: e.message } : undefined;
  },
  get progress() {
    const p = useSegmentationStore.getState().progress;
    return p ? { stage: p.stage, fraction: p.fraction, ...(p.tile ? { tile: { ...p.tile } } : {}) } : null;
  },
  get model() {
    const m = useSegmentationStore.getState().model;
    return m
      ? { name: m.name, version: m.version, sha256: m.sha256, fromCache: m.fromCache, verified: m.verified, backend: m.backend, numThreads: m.numThreads, fallbackReason: m.fallbackReason }
      : null;
  },
  get backend() {
    return useSegmentationStore.getState().result?.backend ?? null;
  },
  get numThreads() {
    return useSegmentationStore.getState().result?.numThreads ?? null;
  },
  get fallbackReason() {
    return useSegmentationStore.getState().result?.fallbackReason ?? null;
  },
  get hasResult() {
    return !!useSegmentationStore.getState().result;
  },
  get levelZmm() {
    return useSegmentationStore.getState().levelZmm;
  },
  get heightM() {
    return useSegmentationStore.getState().heightM;
  },
  get overlay() {
    const s = useSegmentationStore.getState();
    const c = activeController();
    const lm = c && !c.isDestroyed() ? c.labelmapState() : null;
    return {
      visible: s.overlayVisible,
      opacity: s.overlayOpacity,
      viewsWithOverlay: lm && lm.maskRegistryId === (s.result?.maskId ?? null) ? lm.viewsWithOverlay : 0,
    };
  },
  measurements() {
    return useSegmentationStore.getState().measurements;
  },
  report() {
    return useSegmentationStore.getState().report;
  },
  maskLabelCounts() {
    const m = resultMask();
    return m ? labelCounts(m.data as Uint8Array) : null;
  },
  maskRunLengths() {
    const m = resultMask();
    return m ? runLengths(m.data as Uint8Array) : null;
  },
  mask() {
    const id = useSegmentationStore.getState().result?.maskId;
    const m = resultMask();
    if (!id || !m) return null;
    const g = m.geometry;
    return { id, dimensions: [...g.dimensions], spacing: [...g.spacing], origin: [...g.origin], direction: [...g.direction] };
  },
};

export function installTestApi(): void {
  const api: PsoasviewTestApi = {
    segmentation: segmentationApi,
    get state() {
      return useLoadStore.getState().state;
    },
    get error() {
      const e = useLoadStore.getState().error;
      return e ? { code: String(e.code), message: e.message } : undefined;
    },
    get viewsReady() {
      const c = activeController();
      return !!c && c.shows(useLoadStore.getState().volumeId) && useLoadStore.getState().state === 'ready';
    },
    volume() {
      const v = current();
      if (!v) return null;
      const g = v.geometry;
      return {
        dimensions: [...g.dimensions],
        spacing: [...g.spacing],
        origin: [...g.origin],
        direction: [...g.direction],
        source: v.meta.source ?? '',
        seriesInstanceUid: v.meta.seriesInstanceUid ?? '',
        geometry: { dimensions: [...g.dimensions], spacing: [...g.spacing], origin: [...g.origin], direction: [...g.direction] },
        units: v.units,
        warnings: [...(v.meta.warnings ?? [])],
      };
    },
    huAtIndex(i, j, k) {
      const v = current();
      return v ? valueAtIndex(v, i, j, k) : NaN;
    },
    huAtWorld(lps) {
      const v = current();
      return v ? valueAtWorld(v, lps) : NaN;
    },
    worldToCanvas(view, lps) {
      return controller().worldToCanvas(view, lps);
    },
    jumpTo(lps) {
      controller().jumpTo(lps);
    },
    orientationMarkers(view) {
      return controller().viewState(view).markers;
    },
  };
  window.__psoasview = api;
}
