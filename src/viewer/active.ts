/**
 * Which MPR controller is mounted (at most one) and which view the mouse is over. Kept apart from the
 * Cornerstone code (type-only import) so the start page and the test hook do not pull Cornerstone into the
 * first bundle.
 */
import type { MprController, ViewName } from './cornerstone';

let active: MprController | null = null;
const listeners = new Set<() => void>();
let hovered: ViewName = 'axial';

/** The controller of the mounted viewer, or null. */
export function activeController(): MprController | null {
  return active;
}

export function setActiveController(c: MprController | null): void {
  active = c;
  listeners.forEach((l) => l());
}

export function subscribeActive(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

/** The view under the mouse (keyboard slice scrolling acts on it); axial by default. */
export function hoveredView(): ViewName {
  return hovered;
}

export function setHoveredView(v: ViewName): void {
  hovered = v;
}

/** The view shown alone (double-click or "m"), or null for the three-view layout. */
let maximized: ViewName | null = null;
const maxListeners = new Set<() => void>();

export function maximizedView(): ViewName | null {
  return maximized;
}

export function setMaximizedView(v: ViewName | null): void {
  maximized = v;
  maxListeners.forEach((l) => l());
}

export function subscribeMaximized(l: () => void): () => void {
  maxListeners.add(l);
  return () => maxListeners.delete(l);
}
