import { describe, it, expect } from 'vitest';
import { resolveDicomWebUrl, getDicomWebUrl, DEFAULT_DICOMWEB_URL } from './config';

describe('resolveDicomWebUrl', () => {
  const page = 'https://viewer.example.org/app/';
  const cases = [
    { name: 'default', inputs: { pageUrl: page }, url: '/dicomweb', from: 'default', rejected: false },
    { name: 'env', inputs: { pageUrl: page, envUrl: 'https://pacs.example.org/dicom-web/' }, url: 'https://pacs.example.org/dicom-web', from: 'env', rejected: false },
    { name: 'same-origin path in query', inputs: { pageUrl: page + '?dicomweb=/orthanc/dicom-web', envUrl: '/x' }, url: '/orthanc/dicom-web', from: 'query', rejected: false },
    { name: 'same-origin absolute URL in query', inputs: { pageUrl: page + '?dicomweb=https://viewer.example.org/pacs' }, url: '/pacs', from: 'query', rejected: false },
    { name: 'foreign origin refused', inputs: { pageUrl: page + '?dicomweb=https://evil.example.com/dw', envUrl: '/dw' }, url: '/dw', from: 'env', rejected: true },
    { name: 'allowed foreign origin', inputs: { pageUrl: page + '?dicomweb=https://pacs.example.org/dw', allowedOrigins: ['https://pacs.example.org/'] }, url: 'https://pacs.example.org/dw', from: 'query', rejected: false },
    { name: 'javascript: URL refused', inputs: { pageUrl: page + '?dicomweb=javascript:alert(1)' }, url: '/dicomweb', from: 'default', rejected: true },
  ];
  it.each(cases)('$name', ({ inputs, url, from, rejected }) => {
    const r = resolveDicomWebUrl(inputs);
    expect(r.url).toBe(url);
    expect(r.from).toBe(from);
    expect(!!r.rejected).toBe(rejected);
  });

  it('getDicomWebUrl falls back to the default outside a page', () => {
    // vitest runs in Node: no location; VITE_DICOMWEB_URL is not set in the test environment.
    expect(getDicomWebUrl()).toBe(import.meta.env.VITE_DICOMWEB_URL ?? DEFAULT_DICOMWEB_URL);
  });
});
