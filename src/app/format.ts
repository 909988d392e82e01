/** Display/query formatting of DICOM values (pure). */

/** DICOM DA "20260131" → "2026-01-31" for display; anything else unchanged. */
export function formatDicomDate(da: string): string {
  return /^\d{8}$/.test(da) ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}` : da;
}

/** DICOM PN "Doe^John^^Dr" → "Doe, John"; only the family and given components are shown. */
export function formatPersonName(pn: string): string {
  const [family = '', given = ''] = pn.split('^');
  return given ? `${family}, ${given}` : family;
}

/**
 * A date typed in the search form → DICOM QIDO date matching: ISO dates "2026-01-31" become "20260131";
 * ranges keep their single "-" ("2026-01-01 - 2026-12-31" → "20260101-20261231"); spaces are dropped.
 */
export function toDicomDateQuery(s: string): string {
  return s.replace(/(\d{4})-(\d{2})-(\d{2})/g, '$1$2$3').replace(/\s+/g, '');
}

/** "0.9765625" mm → "0.98"; three spacings joined with " × ". */
export function formatSpacing(sp: readonly number[]): string {
  return sp.map((x) => (Math.abs(x - Math.round(x)) < 1e-6 ? x.toFixed(1) : x.toFixed(2))).join(' × ');
}
