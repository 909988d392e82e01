/**
 * The phantom's anatomy: a list of analytic structures (shape + HU mean/sd + label + priority) in the ANATOMY
 * frame (LPS axes, mm; z = 0 at the top of S1, x = 0 on the midline, y = 0 at the centre of the body outline).
 * The generator maps the anatomy frame to patient LPS by a per-seed translation.
 *
 * Painting rule: structures are painted in increasing `priority` (ties keep list order); a later structure
 * overwrites the HU (blended by partial volume) and the label (voxel centre inside) of earlier ones. The psoas
 * muscles are painted last, so their labels are exactly "voxel centre inside the analytic shape" and the
 * analytic truth applies to the label map.
 *
 * To add a structure: push a `Structure` in `buildAnatomy` with a shape from ./shapes.
 */
import type { Vec3 } from '../geometry';
import { LABEL } from './labels';
import { Rng, hash32 } from './rng';
import {
  type Shape,
  type TubePoint,
  type ZKnot,
  Tube,
  axisAngle,
  box,
  ellipsoid,
  halfSpace,
  intersect,
  offset,
  prism,
  rotMul,
  union,
  zCylinder,
} from './shapes';

export interface Structure {
  name: string;
  /** Label value written where the voxel centre is inside (0 = clears labels of structures below). */
  label: number;
  /** Mean HU and texture/noise sd (HU). */
  hu: number;
  sd: number;
  priority: number;
  shape: Shape;
  /**
   * Bones: a core (cancellous bone / marrow) deeper than `depth` mm inside the shape gets `hu`/`sd` instead
   * (the outer `depth` mm is the cortex). One distance evaluation serves both.
   */
  core?: { hu: number; sd: number; depth: number };
}

export interface Anatomy {
  seed: number;
  structures: Structure[];
  psoasLeft: Tube;
  psoasRight: Tube;
  /** Craniocaudal positions (anatomy z, mm) of landmarks used by the presets. */
  levels: {
    T1top: number;
    T11top: number;
    T12L1: number;
    L3mid: number;
    L5top: number;
    S1top: number;
    femoralHead: number;
    lesserTrochanter: number;
  };
  /** Largest half-width / half-depth of the body outline between two z (mm), for choosing the in-plane FOV. */
  bodyHalfExtent(zmin: number, zmax: number): { halfWidth: number; halfDepth: number };
  /** Per-seed variation actually drawn (for provenance / debugging). */
  params: Record<string, number>;
}

interface Vertebra {
  name: string;
  zb: number;
  zt: number;
  a: number;
  b: number;
}

const lerp = (a: number, b: number, t: number) => a + (b - a) * t;

/** Piecewise-linear function through (x, y) knots, clamped at the ends. */
function pwl(knots: [number, number][]): (x: number) => number {
  const k = [...knots].sort((p, q) => p[0] - q[0]);
  return (x) => {
    if (x <= k[0][0]) return k[0][1];
    if (x >= k[k.length - 1][0]) return k[k.length - 1][1];
    let i = 0;
    while (k[i + 1][0] < x) i++;
    return lerp(k[i][1], k[i + 1][1], (x - k[i][0]) / (k[i + 1][0] - k[i][0]));
  };
}

/** Replaces a per-seed parameter with a given value; every other draw of the seed stays as it was. */
export interface AnatomyOverrides {
  /**
   * Psoas size factor (its cross-section semi-axes and the quadratus lumborum's width; drawn per seed 0.79..1.21).
   * For experiments that change only the muscle's size in an otherwise identical body (model card: volume bias
   * against muscle size).
   */
  psoasScale?: number;
}

export function buildAnatomy(seed: number, overrides: AnatomyOverrides = {}): Anatomy {
  const rng = new Rng(hash32(seed, 'anatomy'));
  const S: Structure[] = [];
  const add = (name: string, label: number, hu: number, sd: number, priority: number, shape: Shape) =>
    S.push({ name, label, hu, sd, priority, shape });

  // ---- per-seed parameters --------------------------------------------------------------------------------
  const bodyScaleX = rng.clippedNormal(1.0, 0.08);
  const bodyScaleY = rng.clippedNormal(1.0, 0.1) * lerp(1, bodyScaleX, 0.5);
  const fatT = rng.uniform(8, 32); // subcutaneous fat thickness (mm)
  const spineScale = rng.clippedNormal(1.0, 0.05); // vertebral heights
  const spineX = rng.normal(0, 2.5); // midline offset of the spine (mm)
  const spineY = rng.normal(0, 6); // AP offset of the spine relative to the body outline (mm)
  const scoliosis = rng.normal(0, 3); // lateral bow amplitude (mm)
  const drawnPsoasScale = rng.clippedNormal(1.0, 0.13, 1.6); // sarcopenia ↔ athletic (0.79..1.21)
  const psoasScale = overrides.psoasScale ?? drawnPsoasScale; // drawn either way: the later draws stay the same
  const psoasAspect = rng.clippedNormal(1.0, 0.08);
  const pelvisW = rng.clippedNormal(1.0, 0.05) * lerp(1, bodyScaleX, 0.3);
  const musc = rng.clippedNormal(50, 5); // skeletal muscle HU (psoas, paraspinal, QL... all the same)
  const fat = rng.clippedNormal(-100, 6);
  const visceralFat = fat + rng.uniform(5, 25);
  const params: Record<string, number> = {
    bodyScaleX, bodyScaleY, fatT, spineScale, spineX, spineY, scoliosis, psoasScale, psoasAspect, pelvisW, musc, fat,
  };

  // ---- spine: levels from S1 (z = 0) upwards --------------------------------------------------------------
  const names = ['L5', 'L4', 'L3', 'L2', 'L1', 'T12', 'T11', 'T10', 'T9', 'T8', 'T7', 'T6', 'T5', 'T4', 'T3', 'T2', 'T1'];
  const bodyH = [27, 28, 28, 27, 26, 24, 22, 21, 20, 20, 19, 19, 18, 18, 17, 17, 16];
  const discH = [11, 11, 10, 10, 9, 7, 6, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5]; // disc BELOW each vertebra
  const va = [25, 24.5, 24, 23, 22, 21, 20, 19, 18, 17, 16.5, 16, 15.5, 15, 14.5, 14, 14];
  const vb = [18, 18, 18, 17.5, 17, 16.5, 16, 15.5, 15, 15, 14.5, 14, 13.5, 13, 12.5, 12, 12];
  const verts: Vertebra[] = [];
  let z = 0;
  for (let i = 0; i < names.length; i++) {
    const dh = discH[i] * spineScale * rng.uniform(0.92, 1.08);
    const bh = bodyH[i] * spineScale * rng.uniform(0.95, 1.05);
    const zb = z + dh;
    verts.push({ name: names[i], zb, zt: zb + bh, a: va[i] * rng.uniform(0.95, 1.05), b: vb[i] * rng.uniform(0.95, 1.05) });
    z = zb + bh;
  }
  const V = Object.fromEntries(verts.map((v) => [v.name, v])) as Record<string, Vertebra>;
  const mid = (v: Vertebra) => (v.zb + v.zt) / 2;
  const T1top = V.T1.zt;
  const T11top = V.T11.zt;
  const T12L1 = (V.T12.zb + V.L1.zt) / 2;
  const L3mid = mid(V.L3);
  const L5top = V.L5.zt;
  const femoralHead = -rng.uniform(88, 102);
  const lesserTrochanter = femoralHead - rng.uniform(50, 60);

  // vertebral body centre line: lumbar lordosis (L3-L4 most anterior), thoracic kyphosis
  const yV = pwl([
    [-120, 60], [-60, 45], [-10, 38], [40, 28], [90, 24], [150, 27], [210, 34], [300, 45], [400, 50], [520, 42],
  ]);
  const yVs = (zz: number) => yV(zz) + spineY;
  const xs = (zz: number) => spineX + scoliosis * Math.sin(((zz - 100) / 300) * Math.PI);

  // ---- body outline ------------------------------------------------------------------------------------------
  const zH = femoralHead;
  const trunkKnots: [number, number, number][] = [
    // z, half-width a, half-depth b (before per-seed scaling)
    [zH - 78, 105, 62],
    [zH - 60, 160, 96],
    [zH - 20, 178, 110],
    [zH + 40, 175, 112],
    [L5top, 162, 112],
    [L3mid, 150, 112],
    [T12L1, 152, 113],
    [T11top + 40, 158, 116],
    [T11top + 150, 160, 118],
    [T1top - 40, 155, 112],
    [T1top + 30, 150, 100],
  ];
  const bodyA = (a: number) => a * bodyScaleX;
  const bodyB = (b: number) => b * bodyScaleY;
  const trunkZmin = zH - 78;
  const trunkZmax = T1top + 30;
  const knotsWith = (inset: number): ZKnot[] =>
    trunkKnots.map(([kz, a, b]) => ({ z: kz, cx: 0, cy: 0, a: Math.max(10, bodyA(a) - inset), b: Math.max(10, bodyB(b) - inset) }));
  const trunk = zCylinder(knotsWith(0), trunkZmin, trunkZmax, 30);
  const thighR = 78 * lerp(1, bodyScaleX, 0.7);
  const xThigh = 88 * pelvisW + 12;
  const yThigh = 8; // thighs sit slightly posterior of the trunk centre (mm)
  const thighZmax = zH;
  const thighZmin = zH - 700;
  const thigh = (side: number, inset: number) =>
    zCylinder(
      [
        { z: thighZmin, cx: side * xThigh, cy: yThigh, a: thighR * 0.8 - inset, b: thighR * 0.8 - inset },
        { z: zH - 120, cx: side * xThigh, cy: yThigh, a: thighR - inset, b: thighR - inset },
        { z: zH - 55, cx: side * xThigh, cy: yThigh, a: thighR + 4 - inset, b: thighR - inset },
        // the top of each thigh lies inside the trunk, so the outline has no step at the groin
        { z: thighZmax, cx: side * (xThigh - 20), cy: yThigh, a: thighR * 0.6 - inset, b: thighR * 0.6 - inset },
      ],
      thighZmin,
      thighZmax,
      20,
    );
  const wallT = rng.uniform(9, 15); // abdominal / thoracic wall muscle thickness (mm)
  const trunkInner = zCylinder(knotsWith(fatT), trunkZmin + 5, trunkZmax - 5, 30);
  const thighInnerL = thigh(1, fatT * 0.7);
  const thighInnerR = thigh(-1, fatT * 0.7);
  const bodyInner = union(trunkInner, thighInnerL, thighInnerR);
  const cavity = zCylinder(knotsWith(fatT + wallT), zH - 55, trunkZmax - 20, 30);
  const bodyHalfExtent = (zmin: number, zmax: number) => {
    let hw = 0;
    let hd = 0;
    for (let zz = zmin; zz <= zmax; zz += 2) {
      const knots = knotsWith(0);
      const f = pwl(knots.map((k) => [k.z, k.a]));
      const g = pwl(knots.map((k) => [k.z, k.b]));
      if (zz >= trunkZmin) {
        hw = Math.max(hw, f(zz));
        hd = Math.max(hd, g(zz));
      }
      if (zz <= thighZmax) {
        hw = Math.max(hw, xThigh + thighR + 10);
        hd = Math.max(hd, thighR + 5 + Math.abs(yThigh));
      }
    }
    return { halfWidth: hw, halfDepth: hd };
  };

  // unions painted as separate structures (cheaper than evaluating every member everywhere)
  add('subcutaneous_fat', 0, fat, 12, 0, trunk);
  add('subcutaneous_fat_thigh', 0, fat, 12, 0, thigh(1, 0));
  add('subcutaneous_fat_thigh', 0, fat, 12, 0, thigh(-1, 0));
  add('body_wall_muscle', 0, musc, 12, 1, trunkInner);
  add('thigh_muscle', 0, musc, 12, 1, thighInnerL);
  add('thigh_muscle', 0, musc, 12, 1, thighInnerR);
  add('abdominal_cavity', 0, visceralFat, 14, 2, cavity);

  // ---- thorax ------------------------------------------------------------------------------------------------
  const zDia = T11top + rng.uniform(15, 35); // diaphragm dome (mm)
  const lungBottom = T11top - 25;
  const lungTop = T1top + 25;
  for (const side of [1, -1]) {
    const lung = ellipsoid(
      [side * 78 * bodyScaleX, 8, (lungBottom + lungTop) / 2],
      [62 * bodyScaleX, 78 * bodyScaleY, (lungTop - lungBottom) / 2],
    );
    add(side > 0 ? 'lung_left' : 'lung_right', LABEL.lungs, -850, 30, 3, intersect(lung, offset(cavity, -3)));
  }
  add('heart', LABEL.heart, 40, 12, 4, ellipsoid([22, -38, zDia + 70], [58, 48, 62], axisAngle([0, 1, 0], 25)));
  add('mediastinum_fat', 0, fat + 30, 15, 3.5, prism(0, -20, 35, 55, zDia + 60, T1top + 10));

  // ---- abdominal organs -------------------------------------------------------------------------------------
  // stomach with an anterior gas cap
  const stomach = ellipsoid([48, -42, T12L1 + 45], [45, 33, 55], axisAngle([0, 1, 0], -25));
  add('stomach', LABEL.gastrointestinal_tract, 28, 18, 5, intersect(stomach, offset(cavity, -2)));
  add('stomach_gas', LABEL.gastrointestinal_tract, -1000, 6, 6,
    intersect(ellipsoid([50, -62, T12L1 + 60], [32, 14, 24]), offset(stomach, -3)));
  // colon: a tube around the abdomen, with gas pockets
  const colonPts: Vec3[] = [
    [-80, -25, L5top - 20], [-92, 0, mid(V.L3)], [-85, -10, mid(V.L1)], [-50, -70, mid(V.L2) + 10],
    [0, -85, mid(V.L3)], [45, -70, mid(V.L2) + 10], [85, 5, mid(V.T12)], [95, 20, mid(V.L2)],
    [92, 10, mid(V.L5)], [60, -40, zH + 45], [10, -35, zH + 30], [0, 0, zH + 10], [0, 15, zH - 25],
  ];
  const colon = new Tube(
    colonPts.map((p) => ({
      p: [p[0] * bodyScaleX + rng.normal(0, 4), p[1] * bodyScaleY + rng.normal(0, 4), p[2] + rng.normal(0, 4)] as Vec3,
      a: rng.uniform(17, 24),
      b: rng.uniform(15, 22),
    })),
    { ds: 1 },
  );
  add('colon', LABEL.gastrointestinal_tract, rng.uniform(-20, 25), 35, 5, intersect(colon, offset(cavity, -2)));
  const colonInner = offset(colon, -2.5);
  const nGas = rng.int(3, 7);
  for (let g = 0; g < nGas; g++) {
    const c = colon.pointAt(rng.uniform(0.05, 0.9) * colon.length);
    const r = rng.uniform(6, 16);
    add('colon_gas', LABEL.gastrointestinal_tract, -1000, 6, 6,
      intersect(ellipsoid([c[0], c[1] - r * 0.6, c[2]], [r * 1.3, r, r * 1.5]), colonInner));
  }
  // small bowel loops: random walks in the anterior-central abdomen
  const nLoops = rng.int(3, 6);
  for (let l = 0; l < nLoops; l++) {
    const pts: TubePoint[] = [];
    let p: Vec3 = [rng.uniform(-50, 50), rng.uniform(-80, -40) * bodyScaleY, rng.uniform(L5top, mid(V.L2))];
    for (let q = 0; q < 6; q++) {
      pts.push({ p: [...p] as Vec3, a: 12, b: 11 });
      p = [
        Math.max(-65, Math.min(65, p[0] + rng.normal(0, 25))),
        Math.max(-95 * bodyScaleY, Math.min(-30, p[1] + rng.normal(0, 15))),
        Math.max(zH + 50, Math.min(mid(V.L1), p[2] + rng.normal(0, 25))),
      ];
    }
    const loop = new Tube(pts, { ds: 1 });
    add('small_bowel', LABEL.gastrointestinal_tract, rng.uniform(15, 40), 15, 5, intersect(loop, offset(cavity, -2)));
    if (rng.random() < 0.5) {
      const c = loop.pointAt(rng.uniform(0.2, 0.8) * loop.length);
      add('small_bowel_gas', LABEL.gastrointestinal_tract, -1000, 6, 6,
        intersect(ellipsoid([c[0], c[1] - 5, c[2]], [9, 7, 9]), offset(loop, -2)));
    }
  }
  add('urinary_bladder', LABEL.urinary_bladder, 8, 10, 5.5,
    intersect(ellipsoid([0, -55 * bodyScaleY, zH + 12], [rng.uniform(25, 42), rng.uniform(22, 35), rng.uniform(22, 35)]), offset(cavity, -2)));
  // liver, gallbladder, spleen
  const liver = ellipsoid([-62 * bodyScaleX, -8, zDia - 55], [95 * bodyScaleX, 82 * bodyScaleY, 92], axisAngle([0, 1, 0], 12));
  add('liver', LABEL.liver, rng.uniform(50, 65), 10, 7, intersect(liver, offset(cavity, -1)));
  add('gallbladder', 0, 8, 8, 7.1, ellipsoid([-55 * bodyScaleX, -58 * bodyScaleY, zDia - 110], [14, 14, 32], axisAngle([1, 0, 0], 20)));
  add('spleen', LABEL.spleen, rng.uniform(42, 52), 10, 7,
    intersect(ellipsoid([82 * bodyScaleX, 32, zDia - 60], [26, 52, 55], axisAngle([0, 0, 1], 35)), offset(cavity, -1)));
  // kidneys (left higher than right), with renal sinus fat
  for (const side of [1, -1]) {
    const zc = mid(V.L1) - 8 + (side < 0 ? -12 : 0) + rng.normal(0, 5);
    const c: Vec3 = [side * (76 + rng.normal(0, 3)) + spineX, yVs(zc) + 10, zc];
    // hilum faces anteromedially (30° about z), upper pole tilted medially (12° about y)
    const rot = rotMul(axisAngle([0, 0, 1], side * 30), axisAngle([0, 1, 0], side * -12));
    const kidney = ellipsoid(c, [25, 22, rng.uniform(48, 58)], rot);
    const lbl = side > 0 ? LABEL.kidney_left : LABEL.kidney_right;
    add(side > 0 ? 'kidney_left' : 'kidney_right', lbl, 32, 10, 8, kidney);
    add('renal_sinus', lbl, -60, 15, 8.1, ellipsoid([c[0] - side * 12, c[1] - 4, c[2]], [8, 7, 22], rot));
  }

  // ---- muscles (same HU as the psoas: the model must learn shape, not intensity) ---------------------------
  const canalY = (zz: number, v?: Vertebra) => yVs(zz) + (v ? v.b : 17) + 10;
  for (const side of [1, -1]) {
    // erector spinae + multifidus
    const knots: ZKnot[] = [];
    for (let zz = -80; zz <= T1top + 20; zz += 20) {
      const lumbar = zz > 0 && zz < T12L1 + 20;
      const a = lumbar ? 26 : zz <= 0 ? 18 : 20;
      const b = lumbar ? 24 : zz <= 0 ? 14 : 18;
      knots.push({ z: zz, cx: xs(zz) + side * (a * 0.9 + 8), cy: canalY(zz) + 10 + b * 0.75, a, b });
    }
    add('paraspinal', LABEL.paraspinal_muscles, musc, 12, 9, intersect(zCylinder(knots, -80, T1top + 20, 40), bodyInner));
    // quadratus lumborum: 12th rib → iliac crest, lateral to the transverse processes, behind the psoas
    const ql = new Tube(
      [
        { p: [side * 44 + xs(V.T12.zb), canalY(V.T12.zb) - 2, mid(V.T12)], a: 8, b: 6 },
        { p: [side * 58 + xs(mid(V.L2)), canalY(mid(V.L2)) - 2, mid(V.L2)], a: 18 * psoasScale, b: 9 },
        { p: [side * 68 + xs(mid(V.L4)), canalY(mid(V.L4)), mid(V.L4)], a: 20 * psoasScale, b: 9 },
        { p: [side * 72, canalY(V.L5.zb) + 6, V.L5.zb], a: 12, b: 7 },
      ],
      { e1Hint: [1, 0, 0] },
    );
    add('quadratus_lumborum', LABEL.quadratus_lumborum, musc, 12, 9, ql);
    // gluteal muscles (posterolateral to the iliac wings)
    add('gluteal', LABEL.gluteal_muscles, musc, 12, 9,
      intersect(ellipsoid([side * 100 * pelvisW, yVs(-40) + 45, zH + 5], [55, 42, 85], axisAngle([0, 0, 1], side * -20)), bodyInner));
  }

  // ---- vessels (non-contrast blood ≈ +40 HU) ----------------------------------------------------------------
  const aortaPts: TubePoint[] = [
    { p: [-5, -40, zDia + 95], a: 14, b: 14 },
    { p: [0, -30, zDia + 160], a: 13, b: 13 },
    { p: [10, yVs(zDia + 150) - 35, zDia + 165], a: 12, b: 12 },
    { p: [16 + spineX, yVs(zDia + 100) - 20, zDia + 100], a: 12, b: 12 },
    { p: [14 + spineX, yVs(T12L1) - 25, T12L1], a: 11, b: 11 },
    { p: [10 + xs(mid(V.L3)), yVs(mid(V.L3)) - 30, mid(V.L3)], a: 10, b: 10 },
    { p: [5 + xs(mid(V.L4)), yVs(mid(V.L4)) - 30, mid(V.L4)], a: 9.5, b: 9.5 },
  ];
  const aortaTube = new Tube(aortaPts, { ds: 1 });
  add('aorta', LABEL.aorta_iliac_arteries, 42, 10, 10, aortaTube);
  const bif = aortaPts[aortaPts.length - 1].p;
  const ivcTop = T11top + 10;
  const ivcPts: TubePoint[] = [
    { p: [-20 + xs(mid(V.L5)), yVs(mid(V.L5)) - 28, mid(V.L5)], a: 12, b: 9 },
    { p: [-22 + xs(mid(V.L3)), yVs(mid(V.L3)) - 30, mid(V.L3)], a: 13, b: 9 },
    { p: [-24 + xs(T12L1), yVs(T12L1) - 32, T12L1], a: 13, b: 10 },
    { p: [-25, yVs(ivcTop) - 38, ivcTop], a: 13, b: 11 },
  ];
  add('ivc', LABEL.ivc_iliac_veins, 38, 10, 10, new Tube(ivcPts, { ds: 1 }));
  for (const side of [1, -1]) {
    const end: Vec3 = [side * 68 * pelvisW, -15, zH + 30];
    add('common_iliac_artery', LABEL.aorta_iliac_arteries, 42, 10, 10,
      new Tube([
        { p: [bif[0], bif[1], bif[2] + 2], a: 6.5, b: 6.5 },
        { p: [side * 25, yVs(V.L5.zb) - 30, V.L5.zb], a: 6, b: 6 },
        { p: end, a: 5, b: 5 },
      ], { ds: 1 }));
    const v0 = ivcPts[0].p;
    add('common_iliac_vein', LABEL.ivc_iliac_veins, 38, 10, 10,
      new Tube([
        { p: [v0[0], v0[1], v0[2] + 2], a: 8, b: 7 },
        { p: [side * 25, yVs(-10) - 22, -10], a: 7.5, b: 6.5 },
        { p: [end[0] - side * 6, end[1] + 8, end[2] - 4], a: 7, b: 6 },
      ], { ds: 1 }));
  }

  // ---- bones ----------------------------------------------------------------------------------------------
  const CORT = 650;
  const addBone = (name: string, label: number, shape: Shape, core: number, cortexMm: number, pr = 11) =>
    S.push({ name, label, hu: CORT, sd: 30, priority: pr, shape, core: { hu: core, sd: 25, depth: cortexMm } });
  // vertebrae: body, disc below, neural arch, pedicles, spinous + transverse processes
  for (const v of verts) {
    const zc = mid(v);
    const xc = xs(zc);
    const yc = yVs(zc);
    const lumbar = v.name.startsWith('L');
    addBone('vertebral_body_' + v.name, LABEL.vertebrae, prism(xc, yc, v.a, v.b, v.zb, v.zt), 230, 1.5, 11);
    const below = verts.indexOf(v) === 0 ? 0 : verts[verts.indexOf(v) - 1].zt;
    const zd = (below + v.zb) / 2;
    add('disc_' + v.name, LABEL.intervertebral_discs, 85, 10, 11,
      prism(xs(zd), yVs(zd), v.a + 0.5, v.b + 0.5, below, v.zb));
    const ca = lumbar ? 11 : 8.5;
    const cb = lumbar ? 8.5 : 7.5;
    const ycan = canalY(zc, v);
    const archOuter = prism(xc, ycan, ca + 5.5, cb + 6, v.zb + 1, v.zt - 1);
    const arch = intersect(archOuter, halfSpace([0, ycan - 1, 0], [0, -1, 0], { min: [xc - ca - 6, ycan - 1, v.zb], max: [xc + ca + 6, ycan + cb + 6, v.zt] }));
    add('vertebral_arch_' + v.name, LABEL.vertebrae, 450, 30, 11.5, arch);
    for (const side of [1, -1]) {
      const py0 = yc + v.b - 2;
      const py1 = ycan;
      add('pedicle', LABEL.vertebrae, 450, 30, 11.5,
        box([xc + side * (ca + 2.5), (py0 + py1) / 2, zc + 2], [3.5, (py1 - py0) / 2 + 2, v.zt - v.zb > 20 ? 7 : 5]));
      const tpLen = lumbar ? (v.name === 'L3' ? 24 : 20) : v.name === 'T12' ? 8 : 15;
      const tpRot = lumbar ? axisAngle([0, 0, 1], 0) : axisAngle([0, 0, 1], side * -30);
      add('transverse_process', LABEL.vertebrae, 450, 30, 11.5,
        box([xc + side * (ca + 5 + tpLen / 2), ycan + (lumbar ? 0 : 6), zc + 2], [tpLen / 2, 4, lumbar ? 5 : 4.5], tpRot));
    }
    const spLen = lumbar ? 30 : 34;
    add('spinous_process', LABEL.vertebrae, 450, 30, 11.5,
      box([xc, ycan + cb + 3 + spLen / 2, zc - (lumbar ? 3 : 12)], [3.5, spLen / 2, lumbar ? 10 : 5], axisAngle([1, 0, 0], lumbar ? 0 : -35)));
  }
  // spinal canal (CSF / cord), cut through all posterior elements
  {
    const knots: ZKnot[] = [];
    for (const v of verts) {
      const lumbar = v.name.startsWith('L');
      knots.push({ z: mid(v), cx: xs(mid(v)), cy: canalY(mid(v), v), a: lumbar ? 11 : 8.5, b: lumbar ? 8.5 : 7.5 });
    }
    knots.push({ z: -40, cx: xs(-40), cy: yVs(-40) + 32, a: 9, b: 5 });
    add('spinal_canal', LABEL.spinal_canal, 20, 10, 13, zCylinder(knots, -60, T1top, 20));
  }
  // sacrum: tapering, posteriorly curved plate below S1
  const sacrum = new Tube(
    [
      { p: [xs(0), yVs(0) - 2, -2], a: 48 * pelvisW, b: 18 },
      { p: [xs(-35), yVs(-35) + 10, -35], a: 42 * pelvisW, b: 15 },
      { p: [xs(-70), yVs(-70) + 22, -70], a: 28, b: 11 },
      { p: [xs(-105), yVs(-105) + 30, -105], a: 12, b: 6 },
    ],
    { e1Hint: [1, 0, 0] },
  );
  addBone('sacrum', LABEL.sacrum, sacrum, 220, 1.5);
  // hip bones: iliac wing (flattened ellipsoid), acetabulum, ischium, pubic rami; femur: head, neck, shaft
  const xH = 88 * pelvisW;
  const yH = yVs(0) - 45;
  const rh = rng.uniform(21, 25);
  for (const side of [1, -1]) {
    const hipLabel = side > 0 ? LABEL.hip_left : LABEL.hip_right;
    const femLabel = side > 0 ? LABEL.femur_left : LABEL.femur_right;
    // wing: from the SI joint (posteromedial) to the ASIS (anterolateral); crest near L4
    const siJ: Vec3 = [side * 50 * pelvisW, yVs(-10) + 25, -10];
    const asis: Vec3 = [side * 120 * pelvisW, yH - 45, 0];
    const wc: Vec3 = [(siJ[0] + asis[0]) / 2, (siJ[1] + asis[1]) / 2, -5];
    const wdir = [asis[0] - siJ[0], asis[1] - siJ[1]];
    const wang = (Math.atan2(wdir[1], wdir[0]) * 180) / Math.PI;
    const wlen = Math.hypot(wdir[0], wdir[1]) / 2 + 8;
    const wrot = axisAngle([0, 0, 1], wang);
    const crest = mid(V.L4) + rng.uniform(-8, 8);
    const wing = ellipsoid(wc, [wlen, 7, crest - wc[2]], wrot);
    addBone('iliac_wing', hipLabel, wing, 260, 1.5);
    // iliacus on the inner (anteromedial) face of the wing
    const inward: Vec3 = [-side * Math.abs(Math.sin((wang * Math.PI) / 180)), -Math.abs(Math.cos((wang * Math.PI) / 180)), 0];
    add('iliacus', LABEL.iliacus, musc, 12, 9,
      ellipsoid([wc[0] + inward[0] * 15, wc[1] + inward[1] * 15, wc[2] - 5], [wlen * 0.75, 9, (crest - wc[2]) * 0.85], wrot));
    const ilBody = ellipsoid([side * (xH + 5), yH + 18, zH + 42], [16, 28, 42], axisAngle([1, 0, 0], -20));
    addBone('ilium_body', hipLabel, ilBody, 260, 1.5);
    addBone('acetabulum', hipLabel, ellipsoid([side * (xH + 8), yH + 6, zH + 6], [rh + 9, rh + 8, rh + 9]), 280, 2);
    addBone('ischium', hipLabel, new Tube([
      { p: [side * (xH + 2), yH + 18, zH - 5], a: 12, b: 12 },
      { p: [side * (xH - 20), yH + 35, zH - 50], a: 13, b: 11 },
      { p: [side * (xH - 45), yH + 25, zH - 70], a: 7, b: 7 },
      { p: [side * 15, yH - 45, zH - 45], a: 6, b: 6 },
    ]), 250, 1.5);
    addBone('pubic_ramus', hipLabel, new Tube([
      { p: [side * (xH - 12), yH - 15, zH - 2], a: 9, b: 8 },
      { p: [side * 35, yH - 50, zH - 20], a: 8, b: 7 },
      { p: [side * 4, yH - 58, zH - 30], a: 9, b: 7 },
    ]), 250, 1.5);
    add('hip_joint_space', 0, 30, 10, 12.5, ellipsoid([side * xH, yH, zH], [rh + 1.5, rh + 1.5, rh + 1.5]));
    addBone('femoral_head', femLabel, ellipsoid([side * xH, yH, zH], [rh, rh, rh]), 300, 2, 14);
    addBone('femoral_neck', femLabel, new Tube([
      { p: [side * (xH + 8), yH + 2, zH - 6], a: 15, b: 14 },
      { p: [side * (xH + 30), yH + 8, zH - 22], a: 15, b: 14 },
      { p: [side * (xH + 40), yH + 12, zH - 32], a: 16, b: 15 },
    ]), 260, 2, 13.5);
    addBone('greater_trochanter', femLabel, ellipsoid([side * (xH + 44), yH + 14, zH - 22], [13, 18, 24]), 240, 2, 13.6);
    const shaft = new Tube([
      { p: [side * (xH + 36), yH + 12, zH - 28], a: 17, b: 17 },
      { p: [side * (xH + 33), yH + 11, zH - 90], a: 14, b: 14 },
      { p: [side * (xH + 24), yH + 6, zH - 420], a: 13, b: 13 },
    ], { ds: 1 });
    addBone('femoral_shaft', femLabel, shaft, -30, 5, 13.7);
    addBone('lesser_trochanter', femLabel, ellipsoid([side * (xH + 18), yH + 22, lesserTrochanter], [8, 8, 11]), 240, 2, 13.8);
  }
  // ribs 1-12 (paired) and the sternum
  const outline = (zz: number) => {
    const ka = pwl(trunkKnots.map(([kz, a]) => [kz, bodyA(a)]));
    const kb = pwl(trunkKnots.map(([kz, , b]) => [kz, bodyB(b)]));
    return [ka(zz) - fatT - wallT * 0.4, kb(zz) - fatT - wallT * 0.4];
  };
  const thoracic = verts.filter((v) => v.name.startsWith('T'));
  for (const v of thoracic) {
    const num = Number(v.name.slice(1));
    const zc = mid(v);
    const ycan = canalY(zc, v);
    const endAngle = num <= 7 ? 160 : num <= 10 ? 145 : num === 11 ? 100 : 75;
    for (const side of [1, -1]) {
      const pts: TubePoint[] = [{ p: [xs(zc) + side * 24, ycan + 4, zc], a: 5.5, b: 4 }];
      for (const phi of [35, 70, 105, 140, 160].filter((p) => p <= endAngle)) {
        const [A, B] = outline(zc - phi * 0.35);
        const r = (phi * Math.PI) / 180;
        pts.push({ p: [side * A * Math.sin(r), B * Math.cos(r), zc - phi * 0.35], a: 6.5, b: 4.5 });
      }
      if (pts.length < 2) continue;
      addBone('rib_' + num, LABEL.ribs_sternum, new Tube(pts, { e1Hint: [0, 0, 1], ds: 1 }), 300, 1.2, 11);
    }
  }
  {
    const zs0 = mid(V.T9);
    const zs1 = mid(V.T2);
    const [, B] = outline((zs0 + zs1) / 2);
    addBone('sternum', LABEL.ribs_sternum, box([0, -B + 8, (zs0 + zs1) / 2], [14, 5, (zs1 - zs0) / 2]), 250, 1.5, 11);
  }

  // ---- psoas major (painted last: top priority) ---------------------------------------------------------------
  const makePsoas = (side: number): Tube => {
    const asym = rng.clippedNormal(1, 0.05);
    const sc = psoasScale * asym;
    const j = () => rng.normal(0, 2.5);
    // cross-section semi-axes (mm): a lateral, b antero-posterior, scaled per seed and side
    const r = (a: number, b: number) => ({ a: a * sc * psoasAspect, b: (b * sc) / psoasAspect });
    const L1 = V.L1, L3 = V.L3, L4 = V.L4;
    // control points: [lateral offset from the spine midline (mm), AP offset from the vertebral-body centre
    // (mm, + = posterior), z (anatomy mm), semi-axes]. Origin beside T12/L1, widest around L4-L5.
    const r0 = r(6.5, 6), r1 = r(11, 10), r2 = r(17, 15), r3 = r(21, 18), r4 = r(18, 16);
    const defs: [number, number, number, { a: number; b: number }][] = [
      [L1.a + r0.a - 2, 4, (V.T12.zb + L1.zt) / 2, r0],
      [L1.a + 7 + r1.a * 0.4, 0, L1.zb - 4, r1],
      [L3.a + 14 + r2.a * 0.25, -6, mid(L3), r2],
      [L4.a + 20 + r3.a * 0.2, -14, L4.zb - 5, r3],
      [55 * pelvisW + r4.a * 0.2, -30, -8, r4],
    ];
    const pts: TubePoint[] = defs.map(([dx, dy, zz, rr]) => ({
      p: [xs(zz) + side * (dx + j()), yVs(zz) + dy + j(), zz + j()] as Vec3,
      a: rr.a,
      b: rr.b,
    }));
    // over the pelvic brim, in front of the hip joint, then back to the lesser trochanter
    const r5 = r(13, 12);
    pts.push({ p: [side * (xH - 12 + j()), yH - 28 + j(), zH + 40], a: r5.a, b: r5.b });
    const r6 = Math.max(6, 9 * sc);
    pts.push({ p: [side * (xH - 8), yH - rh - r6 - 3, zH], a: r6, b: r6 });
    pts.push({ p: [side * (xH + 4), yH - 14, zH - 30], a: Math.max(5, 7 * sc), b: Math.max(5, 7 * sc) });
    pts.push({ p: [side * (xH + 12), yH + 12, lesserTrochanter + 3], a: 5, b: 5 });
    return new Tube(pts, { e1Hint: [1, 0, 0], ds: 0.5 });
  };
  const psoasLeft = makePsoas(1);
  const psoasRight = makePsoas(-1);
  add('psoas_left', LABEL.psoas_left, musc, 12, 20, psoasLeft);
  add('psoas_right', LABEL.psoas_right, musc, 12, 20, psoasRight);

  // stable sort by priority
  const sorted = S.map((s, i) => ({ s, i })).sort((p, q) => p.s.priority - q.s.priority || p.i - q.i).map((x) => x.s);
  return {
    seed,
    structures: sorted,
    psoasLeft,
    psoasRight,
    levels: { T1top, T11top, T12L1, L3mid, L5top, S1top: 0, femoralHead, lesserTrochanter },
    bodyHalfExtent,
    params,
  };
}
