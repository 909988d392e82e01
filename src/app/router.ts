/** A minimal history router: two routes ('/' and '/viewer'), query string parsed on demand. */
import { create } from 'zustand';

interface RouteStore {
  path: string;
  search: string;
}

const read = (): RouteStore => ({ path: location.pathname, search: location.search });

export const useRoute = create<RouteStore>(() => (typeof location === 'undefined' ? { path: '/', search: '' } : read()));

if (typeof window !== 'undefined') window.addEventListener('popstate', () => useRoute.setState(read()));

export function navigate(url: string, replace = false): void {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  useRoute.setState(read());
}

/** `/viewer` URL for a PACS study (OHIF-compatible parameter names). */
export function viewerUrl(p: { studyUid?: string; seriesUid?: string; sample?: boolean; local?: string }): string {
  const q = new URLSearchParams();
  if (p.sample) q.set('sample', '1');
  if (p.local) q.set('local', p.local);
  if (p.studyUid) q.set('StudyInstanceUIDs', p.studyUid);
  if (p.seriesUid) q.set('SeriesInstanceUIDs', p.seriesUid);
  return `/viewer?${q.toString()}`;
}
