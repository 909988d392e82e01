/** Data sources: the one import for the app, the CLI and tests. */
export type { DataSource, StudyQuery, StudySummary, SeriesSummary, LoadProgress } from './types';
export { createDicomWebSource, sliceFromDicomJson, parseMultipart, transferSyntaxOfPart, FRAME_ACCEPT } from './dicomweb';
export type { DicomWebOptions, DicomJson } from './dicomweb';
export { createLocalSource } from './local';
export type { LocalFile, LocalSource, LocalSourceOptions } from './local';
export { createSampleSource } from './sample';
export type { SampleIndex, SampleSource } from './sample';
export { pickBestSeries, kernelScore } from './select';
export { getDicomWebUrl, resolveDicomWebUrl, DEFAULT_DICOMWEB_URL } from './config';
