/** Synthetic abdominal CT phantom: public entry points. */
export { generatePhantom, phantomGrid, GENERATOR_VERSION, PRESETS, PSOAS_SCALE_LIMITS, OBLIQUE_TILT_MAX_DEG } from './generate';
export type { PhantomOptions, PhantomPreset, PhantomResult, PhantomTruth, SliceOrder } from './generate';
export type { PsoasTruth } from './truth';
export { LABELS, LABEL } from './labels';
export type { LabelValue } from './labels';
export { buildAnatomy } from './anatomy';
export type { Anatomy, Structure } from './anatomy';
export { Tube, ellipsoid, box, prism, zCylinder, union, intersect, subtract, offset, halfSpace, axisAngle } from './shapes';
export type { Shape, Box, TubePoint, ZKnot } from './shapes';
export { mulberry32, hash32, Rng } from './rng';
