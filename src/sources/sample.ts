/**
 * The built-in sample study, served by the app itself (public/sample/, written by scripts/ensure-sample):
 * `index.json` lists the DICOM files; they load through the local DICOM path.
 */
import { PsoasError } from '../core/errors';
import { createLocalSource, type LocalSource } from './local';

export interface SampleIndex {
  /** Paths relative to `<baseUrl>dicom/` (a leading "dicom/" is accepted too). */
  files: string[];
  studyInstanceUid: string;
  seriesInstanceUid: string;
  patientName: string;
  description: string;
  /** Ground truth of the phantom (volumes, lengths...), as written by the generator. */
  truth?: unknown;
}

export interface SampleSource extends LocalSource {
  /** The parsed index.json (after the first search/list/load). */
  getIndex(): Promise<SampleIndex>;
}

export function createSampleSource(baseUrl = '/sample/', fetchImpl: typeof fetch = (...a) => fetch(...a)): SampleSource {
  const base = baseUrl.endsWith('/') ? baseUrl : baseUrl + '/';
  let indexPromise: Promise<SampleIndex> | undefined;
  let local: LocalSource | undefined;

  async function get(url: string): Promise<Response> {
    let res: Response;
    try {
      res = await fetchImpl(url);
    } catch (e) {
      throw new PsoasError('PACS_UNREACHABLE', `Cannot fetch the sample study file ${url} (${e instanceof Error ? e.message : String(e)})`, url, url);
    }
    if (!res.ok) {
      throw new PsoasError('PACS_HTTP_ERROR', `${url} answered HTTP ${res.status} ${res.statusText}${res.status === 404 ? ' (run `npm run build` or scripts/ensure-sample to create the sample study)' : ''}`, { url, status: res.status }, url);
    }
    return res;
  }

  function getIndex(): Promise<SampleIndex> {
    if (!indexPromise) {
      indexPromise = (async () => {
        const url = base + 'index.json';
        const text = await (await get(url)).text();
        let idx: SampleIndex;
        try {
          idx = JSON.parse(text) as SampleIndex;
        } catch {
          throw new PsoasError('PACS_BAD_RESPONSE', `${url} is not JSON (starts with "${text.slice(0, 40)}")`, url, url);
        }
        if (!Array.isArray(idx.files) || idx.files.length === 0) {
          throw new PsoasError('PACS_BAD_RESPONSE', `${url} lists no files`, url, url);
        }
        return idx;
      })();
      indexPromise.catch(() => (indexPromise = undefined));
    }
    return indexPromise;
  }

  async function getLocal(): Promise<LocalSource> {
    if (!local) {
      const idx = await getIndex();
      const cache = new Map<string, Promise<Uint8Array>>(); // the sample is small: fetch each file once
      const files = idx.files.map((rel) => {
        const path = rel.startsWith('dicom/') ? rel : `dicom/${rel}`;
        const url = base + path;
        return {
          name: path,
          bytes: () => {
            let p = cache.get(url);
            if (!p) {
              p = get(url).then(async (r) => new Uint8Array(await r.arrayBuffer()));
              p.catch(() => cache.delete(url));
              cache.set(url, p);
            }
            return p;
          },
        };
      });
      local = createLocalSource(files, { kind: 'sample', label: 'Sample study' });
    }
    return local;
  }

  return {
    kind: 'sample',
    label: 'Sample study',
    get warnings() {
      return local?.warnings ?? [];
    },
    getIndex,
    index: async () => (await getLocal()).index(),
    searchStudies: async (q) => (await getLocal()).searchStudies(q),
    listSeries: async (uid) => (await getLocal()).listSeries(uid),
    loadSeries: async (st, se, onProgress, signal) => (await getLocal()).loadSeries(st, se, onProgress, signal),
  };
}
