/**
 * Patient-orientation marker letters for a 2D view of patient space (pure; no Cornerstone, no DOM).
 *
 * Inputs are LPS unit vectors (patient mm space): `screenUp` is the patient direction that points towards the top
 * of the screen, `screenRight` the one towards the right edge. For a Cornerstone camera:
 * screenUp = viewUp, screenRight = cross(viewUp, viewPlaneNormal) (negated for a flipped camera).
 * Each edge is labelled with the patient direction it points towards: e.g. a radiological axial view has
 * A top, P bottom, R left, L right (patient's left on the image's right).
 */
import type { Vec3 } from '../core/geometry';
import { cross } from '../core/geometry';

export interface OrientationMarkers {
  top: string;
  bottom: string;
  left: string;
  right: string;
}

/** Letters of the LPS axes: index 0 = towards negative, 1 = towards positive. */
const AXIS_LETTERS: ReadonlyArray<readonly [string, string]> = [
  ['R', 'L'],
  ['A', 'P'],
  ['I', 'S'],
];

/**
 * Letters of the patient direction a vector points to, dominant component first. Components whose share of the
 * vector is below `minShare` (default 0.25, i.e. about 14° of obliquity) are omitted so a near-axial view is
 * labelled with one letter instead of three.
 */
export function directionLetters(v: Vec3, minShare = 0.25): string {
  const n = Math.hypot(v[0], v[1], v[2]);
  if (!(n > 0)) return '';
  const order = [0, 1, 2].sort((a, b) => Math.abs(v[b]) - Math.abs(v[a]));
  let out = '';
  for (const a of order) {
    const c = v[a] / n;
    if (a !== order[0] && Math.abs(c) < minShare) continue;
    out += AXIS_LETTERS[a][c >= 0 ? 1 : 0];
  }
  return out;
}

function neg(v: Vec3): Vec3 {
  return [-v[0], -v[1], -v[2]];
}

export function markersFromScreenAxes(screenUp: Vec3, screenRight: Vec3): OrientationMarkers {
  return {
    top: directionLetters(screenUp),
    bottom: directionLetters(neg(screenUp)),
    left: directionLetters(neg(screenRight)),
    right: directionLetters(screenRight),
  };
}

/**
 * Markers from a Cornerstone-style camera: viewPlaneNormal points from the focal point towards the camera
 * (out of the screen), so the screen's right is viewUp × viewPlaneNormal.
 */
export function markersFromCamera(
  viewUp: Vec3,
  viewPlaneNormal: Vec3,
  flipHorizontal = false,
  flipVertical = false,
): OrientationMarkers {
  const right = cross(viewUp, viewPlaneNormal);
  return markersFromScreenAxes(flipVertical ? neg(viewUp) : viewUp, flipHorizontal ? neg(right) : right);
}
