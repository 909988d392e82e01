/**
 * Minimal typings for the parts of dcmjs 0.52 used by psoasview (the package ships no .d.ts).
 * Naturalized datasets are plain objects keyed by DICOM keyword.
 */
declare module 'dcmjs' {
  export type NaturalDataset = Record<string, unknown>;
  export interface DicomDictInstance {
    meta: Record<string, unknown>;
    dict: Record<string, unknown>;
    write(options?: Record<string, unknown>): ArrayBuffer;
  }
  const dcmjs: {
    data: {
      DicomDict: new (meta: Record<string, unknown>) => DicomDictInstance;
      DicomMessage: {
        readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): { meta: Record<string, unknown>; dict: Record<string, unknown> };
      };
      DicomMetaDictionary: {
        naturalizeDataset(dict: Record<string, unknown>): NaturalDataset;
        denaturalizeDataset(ds: NaturalDataset): Record<string, unknown>;
        uid(): string;
      };
    };
    log: { setLevel?(level: string | number): void; level?: unknown; disableAll?(): void };
  };
  export default dcmjs;
}
