/**
 * zustand stores, one per concern. They hold ids, small metadata and UI state only — never voxel arrays
 * (volumes live in src/viewer/registry.ts, looked up by `volumeId`).
 */
import { create } from 'zustand';
import type { LoadProgress, SeriesSummary, StudySummary } from '../sources/types';
import type { ErrorCode } from '../core/errors';
import type { Vec3 } from '../core/geometry';
import type { PrimaryTool } from '../viewer/cornerstone';

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
  set: (p: Partial<Omit<ViewerUiStore, 'set'>>) => void;
}

export const useViewerUiStore = create<ViewerUiStore>((set) => ({
  primaryTool: 'windowLevel',
  presetId: 'soft',
  helpOpen: false,
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
