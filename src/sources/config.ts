/**
 * The one place that decides which DICOMweb server the app talks to.
 *
 * Order: URL parameter `?dicomweb=` (only a same-origin path/URL, or an origin listed in
 * VITE_DICOMWEB_ALLOWED_ORIGINS, comma-separated) → `import.meta.env.VITE_DICOMWEB_URL` → `/dicomweb`
 * (the dev/preview server proxies it to Orthanc, so the PACS is same-origin: no CORS, COEP-safe).
 * A foreign URL in the query string is ignored (it could make the viewer send patient data elsewhere).
 */

export const DEFAULT_DICOMWEB_URL = '/dicomweb';

export interface DicomWebUrlInputs {
  /** The page URL (window.location.href in the app). */
  pageUrl?: string;
  /** VITE_DICOMWEB_URL. */
  envUrl?: string;
  /** Extra origins allowed in `?dicomweb=` (VITE_DICOMWEB_ALLOWED_ORIGINS). */
  allowedOrigins?: string[];
}

export interface ResolvedDicomWebUrl {
  url: string;
  from: 'query' | 'env' | 'default';
  /** Set when `?dicomweb=` was given but refused, with the reason (show it to the user). */
  rejected?: string;
}

/** Pure resolution (testable without a browser). */
export function resolveDicomWebUrl(inputs: DicomWebUrlInputs): ResolvedDicomWebUrl {
  let rejected: string | undefined;
  if (inputs.pageUrl) {
    let page: URL | undefined;
    try {
      page = new URL(inputs.pageUrl);
    } catch {
      page = undefined;
    }
    const q = page?.searchParams.get('dicomweb');
    if (page && q) {
      let target: URL | undefined;
      try {
        target = new URL(q, page);
      } catch {
        target = undefined;
      }
      const allowed = new Set([page.origin, ...(inputs.allowedOrigins ?? []).map((o) => o.trim().replace(/\/+$/, ''))]);
      if (target && (target.protocol === 'http:' || target.protocol === 'https:') && allowed.has(target.origin)) {
        // Keep same-origin URLs relative to the page's origin (the proxy path), others absolute.
        const url = target.origin === page.origin ? target.pathname.replace(/\/+$/, '') + target.search : target.href.replace(/\/+$/, '');
        return { url: url || '/', from: 'query' };
      }
      rejected = `?dicomweb=${q} ignored: only this site's own paths or origins listed in VITE_DICOMWEB_ALLOWED_ORIGINS are allowed`;
    }
  }
  if (inputs.envUrl && inputs.envUrl.trim()) return { url: inputs.envUrl.trim().replace(/\/+$/, ''), from: 'env', rejected };
  return { url: DEFAULT_DICOMWEB_URL, from: 'default', rejected };
}

function viteEnv(): Record<string, string | undefined> {
  // import.meta.env exists under Vite/vitest only; a Node CLI (tsx) has none.
  return ((import.meta as unknown as { env?: Record<string, string | undefined> }).env ?? {}) as Record<string, string | undefined>;
}

/** The configured DICOMweb base URL for this page. */
export function getDicomWebUrl(): string {
  const env = viteEnv();
  const loc = (globalThis as { location?: { href?: string } }).location;
  return resolveDicomWebUrl({
    pageUrl: loc?.href,
    envUrl: env.VITE_DICOMWEB_URL,
    allowedOrigins: env.VITE_DICOMWEB_ALLOWED_ORIGINS?.split(',').filter(Boolean),
  }).url;
}
