/**
 * zustand stores, one per concern. They hold ids, small metadata and UI state only — never voxel arrays
 * (volumes live in src/viewer/registry.ts, looked up by `volumeId`).
 */
import { create } from 'zustand';
import type { LoadProgress, SeriesSummary, StudySummary } from '../sources/types';
import type { ErrorCode } from '../core/errors';
import type { Vec3 } from '../core/geometry';
import type { PrimaryTool } from '../viewer/cornerstone';
import type { AllMeasurements } from '../measure';

export interface UiError {
  code: ErrorCode | string;
  message: string;
}

/** Header facts of the loaded series (copied scalars, no voxel data). */
export interface SeriesHeader {
  patientName: string;
  patientId: string;
  studyDate: string;
  seriesDescription: string;
  modality: string;
  dimensions: Vec3;
  /** mm */
  spacing: Vec3;
  orientation: string;
  source: string;
  warnings: string[];
}

export type LoadState = 'idle' | 'loading' | 'ready' | 'error';

interface LoadStore {
  state: LoadState;
  progress: LoadProgress | null;
  error: UiError | null;
  /** Registry id of the displayed volume (src/viewer/registry.ts). */
  volumeId: string | null;
  header: SeriesHeader | null;
  sourceKind: 'dicomweb' | 'local' | 'sample' | null;
  sourceLabel: string;
  studyInstanceUid: string | null;
  seriesInstanceUid: string | null;
  series: SeriesSummary[];
  set: (p: Partial<Omit<LoadStore, 'set'>>) => void;
}

export const useLoadStore = create<LoadStore>((set) => ({
  state: 'idle',
  progress: null,
  error: null,
  volumeId: null,
  header: null,
  sourceKind: null,
  sourceLabel: '',
  studyInstanceUid: null,
  seriesInstanceUid: null,
  series: [],
  set: (p) => set(p),
}));

interface ViewerUiStore {
  primaryTool: PrimaryTool;
  presetId: string | null;
  helpOpen: boolean;
  /** The segmentation panel on the right (hidden: the views take the whole width). */
  segPanelOpen: boolean;
  set: (p: Partial<Omit<ViewerUiStore, 'set'>>) => void;
}

export const useViewerUiStore = create<ViewerUiStore>((set) => ({
  primaryTool: 'windowLevel',
  presetId: 'soft',
  helpOpen: false,
  segPanelOpen: true,
  set: (p) => set(p),
}));

interface PacsStore {
  url: string;
  studies: StudySummary[];
  searching: boolean;
  searched: boolean;
  selectedStudy: string | null;
  series: SeriesSummary[];
  error: UiError | null;
  set: (p: Partial<Omit<PacsStore, 'set'>>) => void;
}

export const usePacsStore = create<PacsStore>((set) => ({
  url: '',
  studies: [],
  searching: false,
  searched: false,
  selectedStudy: null,
  series: [],
  error: null,
  set: (p) => set(p),
}));

/** What the segmentation panel is doing now (ready = idle, waiting for the user). */
export type SegPhase = 'ready' | 'loading-model' | 'segmenting' | 'measuring';

/** A model package the panel can pick: served (/models/index.json), a local file pair, or a URL the user gave. */
export interface ModelChoice {
  key: string;
  kind: 'served' | 'files' | 'url';
  /** Shown in the picker, e.g. "psoas-unet3d 0.1.0-draft". */
  label: string;
  name?: string;
  version?: string;
  sha256?: string;
}

/** The model the inference worker has loaded (copied scalars of LoadModelResult). */
export interface LoadedModelInfo {
  /** ModelChoice.key + backend preference it was loaded for. */
  key: string;
  name: string;
  version: string;
  sha256: string;
  verified: boolean;
  fromCache: boolean;
  /** Manifest URL or local file names. */
  source: string;
  backend: string;
  numThreads: number;
  fallbackReason?: string;
}

/** Facts of the last successful segmentation (no voxels: the mask is in the registry under `maskId`). */
export interface SegResultInfo {
  /** Registry id of the label map (src/viewer/registry.ts), on the grid of CT `volumeId`. */
  maskId: string;
  volumeId: string;
  model: { name: string; version: string; sha256: string; source: string };
  backend: string;
  numThreads: number;
  fallbackReason?: string;
  /** Structure name → label value in the mask (as measurements.json "mask.labels"). */
  labels: Record<string, number>;
  /** Milliseconds: pipeline stages, segment_total, measure. */
  timings: Record<string, number>;
  steps: string[];
  tiles: number;
  wallMs: number;
}

export interface SegProgress {
  stage: string;
  /** 0..1 within the stage. */
  fraction: number;
  tile?: { done: number; total: number };
  /** 1-based position of the stage among all stages, and their count. */
  step?: number;
  steps?: number;
}

interface SegmentationStore {
  phase: SegPhase;
  progress: SegProgress | null;
  /** A short outcome line: "Cancelled", "Done in 8.1 s". */
  note: string | null;
  error: UiError | null;
  choices: ModelChoice[];
  selectedKey: string | null;
  backendPreference: 'auto' | 'webgpu' | 'wasm';
  model: LoadedModelInfo | null;
  /** Model package download/verify progress text while loading. */
  modelProgress: string | null;
  result: SegResultInfo | null;
  /** measureAll's result for `result` (small: figures and polylines, no voxels). */
  measurements: AllMeasurements | null;
  /** measurements.json as the CLI writes it (built from `measurements`). */
  report: object | null;
  /** Measurement level chosen by the user: patient z (LPS mm, +z = head), e.g. mid-L3. */
  levelZmm: number | null;
  /** Axial slice number (1-based, of the axial view) the level was taken from, for display. */
  levelSlice: string | null;
  /** Height text as typed, and the valid value in metres (null when empty or invalid). */
  heightText: string;
  heightM: number | null;
  heightError: string | null;
  overlayVisible: boolean;
  /** Fill opacity 0..1. */
  overlayOpacity: number;
  set: (p: Partial<Omit<SegmentationStore, 'set'>>) => void;
}

export const useSegmentationStore = create<SegmentationStore>((set) => ({
  phase: 'ready',
  progress: null,
  note: null,
  error: null,
  choices: [],
  selectedKey: null,
  backendPreference: 'auto',
  model: null,
  modelProgress: null,
  result: null,
  measurements: null,
  report: null,
  levelZmm: null,
  levelSlice: null,
  heightText: '',
  heightM: null,
  heightError: null,
  overlayVisible: true,
  overlayOpacity: 0.5,
  set: (p) => set(p),
}));
