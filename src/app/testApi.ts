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
import { useLoadStore, type LoadState } from './stores';

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

export function installTestApi(): void {
  const api: PsoasviewTestApi = {
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
