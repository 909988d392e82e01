import type { Volume } from '../core/volume';

/**
 * The one data-source interface (cf. OHIF data sources). DICOMweb, local files and the built-in sample study
 * all implement it; the viewer only talks to this.
 */
export interface StudyQuery {
  patientName?: string; // DICOM wildcard allowed (e.g. "PHANTOM*")
  patientId?: string;
  /** DICOM date or range: "20260101" or "20260101-20261231". */
  studyDate?: string;
  modality?: string; // e.g. "CT"
}

export interface StudySummary {
  studyInstanceUid: string;
  patientName: string;
  patientId: string;
  studyDate: string;
  studyDescription: string;
  modalities: string[];
  numberOfSeries?: number;
  numberOfInstances?: number;
}

export interface SeriesSummary {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  modality: string;
  seriesDescription: string;
  seriesNumber?: number;
  numberOfInstances: number;
  /** Known after metadata is read (DICOMweb series metadata or local headers); used to pick the best series. */
  sliceThicknessMm?: number;
  convolutionKernel?: string;
  isAxial?: boolean;
}

export interface LoadProgress {
  /** 0..1 */
  fraction: number;
  stage: 'metadata' | 'pixels' | 'assemble';
  loaded?: number;
  total?: number;
}

export interface DataSource {
  readonly kind: 'dicomweb' | 'local' | 'sample';
  /** Human-readable name shown in the UI (e.g. the PACS URL, "Local files", "Sample study"). */
  readonly label: string;
  searchStudies(query?: StudyQuery): Promise<StudySummary[]>;
  listSeries(studyInstanceUid: string): Promise<SeriesSummary[]>;
  /**
   * Loads a whole series as one volume in patient space (HU for CT). Throws PsoasError with a specific code for
   * bad input (missing UIDs, non-CT, missing/duplicated slices, mixed orientation/size, corrupt files, PACS errors).
   */
  loadSeries(
    studyInstanceUid: string,
    seriesInstanceUid: string,
    onProgress?: (p: LoadProgress) => void,
    signal?: AbortSignal,
  ): Promise<Volume>;
}
