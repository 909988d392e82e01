import { describe, expect, it } from 'vitest';
import { formatDicomDate, formatPersonName, formatSpacing, toDicomDateQuery } from './format';

describe('DICOM formatting', () => {
  it.each([
    ['20260131', '2026-01-31'],
    ['', ''],
    ['2026', '2026'],
  ])('date %s → %s', (a, b) => expect(formatDicomDate(a)).toBe(b));
  it.each([
    ['DOE^JOHN', 'DOE, JOHN'],
    ['PHANTOM^PSOAS^^^', 'PHANTOM, PSOAS'],
    ['ANON', 'ANON'],
    ['', ''],
  ])('name %s → %s', (a, b) => expect(formatPersonName(a)).toBe(b));
  it.each([
    ['2026-01-31', '20260131'],
    ['20260131', '20260131'],
    ['2026-01-01 - 2026-12-31', '20260101-20261231'],
    ['20260101-20261231', '20260101-20261231'],
    [' 20260101- ', '20260101-'],
  ])('date query %j → %s', (a, b) => expect(toDicomDateQuery(a)).toBe(b));
  it.each([
    [[0.9765625, 0.9765625, 3], '0.98 × 0.98 × 3.0'],
    [[1.5, 1.5, 1.5], '1.50 × 1.50 × 1.50'],
  ])('spacing %j → %s', (a, b) => expect(formatSpacing(a)).toBe(b));
});
