/**
 * Resolves the data-source factories (src/sources) for the app. They are looked up by export name across the
 * sources folder (lazy glob) so the app does not depend on how that folder splits its files; a missing
 * factory gives a clear PsoasError, and a missing sample source falls back to the built-in synthetic volume.
 */
import type { DataSource, SeriesSummary } from '../sources/types';
import type { Volume } from '../core/volume';
import { PsoasError } from '../core/errors';
import { makeSyntheticVolume } from '../viewer/synthetic';

type Factories = {
  createDicomWebSource?: (opts: { baseUrl: string }) => DataSource;
  createLocalSource?: (files: File[]) => DataSource;
  createSampleSource?: () => DataSource;
  pickBestSeries?: (series: SeriesSummary[]) => SeriesSummary | undefined;
  getDicomWebUrl?: () => string;
};

const modules = import.meta.glob(['../sources/**/*.ts', '!../sources/**/*.test.ts', '!../sources/**/*.d.ts']);

let factories: Promise<Factories> | null = null;

async function loadFactories(): Promise<Factories> {
  if (!factories) {
    factories = (async () => {
      const out: Record<string, unknown> = {};
      const loaded = await Promise.all(Object.values(modules).map((load) => load().catch(() => ({}))));
      for (const m of loaded) {
        for (const [k, v] of Object.entries(m as Record<string, unknown>)) if (typeof v === 'function' && !(k in out)) out[k] = v;
      }
      return out as Factories;
    })();
  }
  return factories;
}

/** The PACS base URL the app talks to: same-origin `/dicomweb` proxy unless configured otherwise. */
export async function dicomWebUrl(): Promise<string> {
  const f = await loadFactories();
  if (f.getDicomWebUrl) return f.getDicomWebUrl();
  return `${globalThis.location?.origin ?? ''}/dicomweb`;
}

export async function dicomWebSource(): Promise<DataSource> {
  const f = await loadFactories();
  if (!f.createDicomWebSource) throw new PsoasError('INTERNAL', 'The DICOMweb data source is not available in this build', 'createDicomWebSource');
  return f.createDicomWebSource({ baseUrl: await dicomWebUrl() });
}

export async function localSource(files: File[]): Promise<DataSource> {
  const f = await loadFactories();
  if (!f.createLocalSource) throw new PsoasError('INTERNAL', 'The local-file data source is not available in this build', 'createLocalSource');
  return f.createLocalSource(files);
}

export async function sampleSource(): Promise<DataSource> {
  const f = await loadFactories();
  return f.createSampleSource ? f.createSampleSource() : syntheticSource();
}

/** Best series of a study for psoas work; falls back to the series with the most instances. */
export async function bestSeries(series: SeriesSummary[]): Promise<SeriesSummary | undefined> {
  const f = await loadFactories();
  if (f.pickBestSeries) return f.pickBestSeries(series) ?? undefined;
  return [...series].sort((a, b) => b.numberOfInstances - a.numberOfInstances)[0];
}

/** A DataSource over the built-in synthetic volume (used when no sample source exists). */
export function syntheticSource(opts: { flipped?: boolean } = {}): DataSource {
  const vol = makeSyntheticVolume(opts);
  const m = vol.meta;
  return {
    kind: 'sample',
    label: 'Synthetic sample',
    async searchStudies() {
      return [
        {
          studyInstanceUid: m.studyInstanceUid!,
          patientName: m.patientName!,
          patientId: m.patientId!,
          studyDate: m.studyDate!,
          studyDescription: 'Synthetic',
          modalities: ['CT'],
          numberOfSeries: 1,
        },
      ];
    },
    async listSeries(study) {
      return [
        {
          studyInstanceUid: study,
          seriesInstanceUid: m.seriesInstanceUid!,
          modality: 'CT',
          seriesDescription: m.seriesDescription!,
          numberOfInstances: vol.geometry.dimensions[2],
          isAxial: true,
        },
      ];
    },
    async loadSeries(_s, _se, onProgress): Promise<Volume> {
      onProgress?.({ fraction: 1, stage: 'assemble' });
      return vol;
    },
  };
}
