/**
 * The only module that talks to Cornerstone3D. It turns a core Volume (LPS, HU) into a Cornerstone LOCAL volume
 * (no image loader: the app decoded the pixels itself) and drives three orthographic MPR viewports.
 *
 * Coordinate spaces:
 * - world = patient LPS mm (Cornerstone's world space is DICOM patient space, same as core geometry);
 * - canvas = CSS pixels relative to the top-left of a viewport's element (Cornerstone's canvas coordinates).
 */
import {
  Enums as CoreEnums,
  RenderingEngine,
  getRenderingEngine,
  init as coreInit,
  setVolumesForViewports,
  type Types,
} from '@cornerstonejs/core';
import {
  CrosshairsTool,
  Enums as ToolEnums,
  PanTool,
  StackScrollTool,
  SynchronizerManager,
  ToolGroupManager,
  WindowLevelTool,
  synchronizers,
  ZoomTool,
  addTool,
  init as toolsInit,
  segmentation,
} from '@cornerstonejs/tools';
import type { Vec3 } from '../core/geometry';
import type { Volume } from '../core/volume';
import { PsoasError } from '../core/errors';
import { markersFromCamera, type OrientationMarkers } from './orientation';
import { DEFAULT_PRESET, rangeToWindow, windowToRange } from './presets';
import { PSOAS_LABEL_STYLES, labelColourLut } from './labels';
import { createLocalVolumeInSlabs, removeLocalVolume } from './localVolume';

export type ViewName = 'axial' | 'coronal' | 'sagittal';
export const VIEW_NAMES: readonly ViewName[] = ['axial', 'coronal', 'sagittal'];

export type PrimaryTool = 'windowLevel' | 'pan' | 'zoom' | 'crosshairs';

const ENGINE_ID = 'psoasview-engine';
const TOOL_GROUP_ID = 'psoasview-mpr';
/** Links window/level across the three views (a radiologist windows the study, not one view). */
const VOI_SYNC_ID = 'psoasview-voi';
const ORIENTATION: Record<ViewName, CoreEnums.OrientationAxis> = {
  axial: CoreEnums.OrientationAxis.AXIAL,
  coronal: CoreEnums.OrientationAxis.CORONAL,
  sagittal: CoreEnums.OrientationAxis.SAGITTAL,
};

let initialised: Promise<void> | null = null;

/** Initialises Cornerstone core and tools once per page. Throws PsoasError('INTERNAL') when WebGL is missing. */
export function initCornerstone(): Promise<void> {
  if (!initialised) {
    initialised = (async () => {
      coreInit();
      toolsInit();
      for (const T of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool, CrosshairsTool]) addTool(T);
    })().catch((e: unknown) => {
      initialised = null;
      throw new PsoasError('INTERNAL', `Could not initialise the 3D renderer (WebGL2 needed): ${String(e)}`, String(e));
    });
  }
  return initialised;
}

/** Cornerstone's local volumes accept only these element types; other HU arrays are converted to Float32. */
function toCornerstoneArray(v: Volume): Int16Array | Uint16Array | Uint8Array | Float32Array {
  const d = v.data;
  if (d instanceof Int16Array || d instanceof Uint16Array || d instanceof Uint8Array || d instanceof Float32Array) return d;
  return Float32Array.from(d as ArrayLike<number>);
}

/**
 * Creates (or returns the cached) Cornerstone volume (id without ":" so Cornerstone never looks for an image
 * loader for its slices) for a registered core Volume, a few slices per task (localVolume.ts). The Cornerstone
 * volume shares the core voxel buffer where the type allows (no copy). Resolves to its id, or null when the volume
 * was released (releaseCornerstoneVolume) before it was ready.
 */
export function ensureCornerstoneVolume(registryId: string, v: Volume): Promise<string | null> {
  const volumeId = `psoasview-${registryId}`;
  const g = v.geometry;
  const scalarData = toCornerstoneArray(v);
  const bits = scalarData instanceof Float32Array ? 32 : scalarData instanceof Uint8Array ? 8 : 16;
  const iop = [g.direction[0], g.direction[1], g.direction[2], g.direction[3], g.direction[4], g.direction[5]];
  return createLocalVolumeInSlabs(volumeId, {
    scalarData,
    dimensions: [...g.dimensions] as Types.Point3,
    spacing: [...g.spacing] as Types.Point3,
    origin: [...g.origin] as Types.Point3,
    // Cornerstone's direction is 9 numbers: row (i) cosines, column (j) cosines, slice (k) direction — the
    // same layout as core's column-major Mat3.
    direction: [...g.direction] as Types.Mat3,
    metadata: {
      BitsAllocated: bits,
      BitsStored: bits,
      SamplesPerPixel: 1,
      HighBit: bits - 1,
      PhotometricInterpretation: 'MONOCHROME2',
      PixelRepresentation: scalarData instanceof Int16Array || scalarData instanceof Float32Array ? 1 : 0,
      Modality: v.meta.modality ?? 'CT',
      SeriesInstanceUID: v.meta.seriesInstanceUid,
      ImageOrientationPatient: iop,
      PixelSpacing: [g.spacing[1], g.spacing[0]],
      // Tools (crosshairs) link viewports that share a frame of reference: one per loaded volume.
      FrameOfReferenceUID: `psoasview-for-${registryId}`,
      Columns: g.dimensions[0],
      Rows: g.dimensions[1],
      voiLut: [{ windowWidth: DEFAULT_PRESET.width, windowCenter: DEFAULT_PRESET.center }],
      VOILUTFunction: 'LINEAR',
    },
  }).then((cached) => (cached ? volumeId : null));
}

export function releaseCornerstoneVolume(registryId: string): void {
  removeLocalVolume(`psoasview-${registryId}`);
}

/** Cornerstone volume / segmentation id of a label map registered under `maskRegistryId`. */
function labelmapVolumeId(maskRegistryId: string): string {
  return `psoasview-seg-${maskRegistryId}`;
}

/**
 * Creates (or returns the cached) Cornerstone labelmap volume for a label map on the CT's grid, a few slices per
 * task (localVolume.ts: in one go it froze the views for ~230 ms when a result arrived). The Uint8 label values
 * (1 = psoas_left, 2 = psoas_right) are shared with the core volume (no copy). It carries the CT's frame of
 * reference so Cornerstone accepts it as an overlay of the CT's viewports.
 */
function ensureLabelmapVolume(maskRegistryId: string, ctRegistryId: string, mask: Volume<Uint8Array>): Promise<string | null> {
  const volumeId = labelmapVolumeId(maskRegistryId);
  const g = mask.geometry;
  return createLocalVolumeInSlabs(volumeId, {
    scalarData: mask.data,
    dimensions: [...g.dimensions] as Types.Point3,
    spacing: [...g.spacing] as Types.Point3,
    origin: [...g.origin] as Types.Point3,
    direction: [...g.direction] as Types.Mat3,
    metadata: {
      BitsAllocated: 8,
      BitsStored: 8,
      SamplesPerPixel: 1,
      HighBit: 7,
      PhotometricInterpretation: 'MONOCHROME2',
      PixelRepresentation: 0,
      Modality: 'SEG',
      ImageOrientationPatient: [g.direction[0], g.direction[1], g.direction[2], g.direction[3], g.direction[4], g.direction[5]],
      PixelSpacing: [g.spacing[1], g.spacing[0]],
      FrameOfReferenceUID: `psoasview-for-${ctRegistryId}`,
      Columns: g.dimensions[0],
      Rows: g.dimensions[1],
      voiLut: [],
      VOILUTFunction: 'LINEAR',
    },
  }).then((cached) => (cached ? volumeId : null));
}

/** Index of the psoas colour LUT in Cornerstone's segmentation state (added once per page). */
let psoasLutIndex: number | null = null;
function psoasColourLutIndex(): number {
  if (psoasLutIndex === null) psoasLutIndex = segmentation.config.color.addColorLUT(labelColourLut() as Types.ColorLUT);
  return psoasLutIndex;
}

export interface LabelmapStyle {
  visible: boolean;
  /** Fill opacity 0..1 (the outline is drawn a little stronger so thin structures stay visible). */
  opacity: number;
}

function sub(a: Types.Point3 | Vec3, b: Types.Point3 | Vec3): Vec3 {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}
function dot3(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

export interface ViewState {
  markers: OrientationMarkers;
  /** LPS (mm) of the camera focal point, i.e. a point on the displayed slice. */
  focalPoint: Vec3;
  /** Unit LPS normal of the slice (towards the viewer). */
  normal: Vec3;
  window: { width: number; center: number };
  /** Current and total slice count along the view normal (Cornerstone's own slice indexing). */
  sliceIndex: number;
  sliceCount: number;
  zoom: number;
}

/**
 * Three linked MPR viewports on one Cornerstone rendering engine. One instance per mounted viewer.
 */
export class MprController {
  private engine: RenderingEngine;
  private volumeId: string | null = null;
  private shownRegistryId: string | null = null;
  private destroyed = false;
  private volume: Volume | null = null;
  /** Incremented per setVolume: a slower earlier call must not show its CT after a later one. */
  private showToken = 0;
  private primary: PrimaryTool = 'windowLevel';
  private listeners = new Set<() => void>();
  private changeQueued = false;
  /**
   * Camera/VOI events come in bursts (one per view and per camera step when a volume or overlay is added); the
   * listeners (view-state readers, each reading the viewport's properties) run once per burst, after the task
   * that fired them, not once per event.
   */
  private readonly onChange = () => {
    if (this.changeQueued) return;
    this.changeQueued = true;
    queueMicrotask(() => {
      this.changeQueued = false;
      if (!this.destroyed) this.listeners.forEach((l) => l());
    });
  };
  /** Resolves when the last setVolume() finished (overlays are added after the CT is in the views). */
  private volumeShown: Promise<void> = Promise.resolve();
  /** The label map overlay now shown: registry id of the mask and its Cornerstone segmentation/volume id. */
  private labelmap: { maskRegistryId: string; segmentationId: string } | null = null;
  private labelmapStyle: LabelmapStyle = { visible: true, opacity: 0.5 };
  /** setLabelmap calls run one after the other (each awaits the CT and removes the previous overlay). */
  private labelmapQueue: Promise<void> = Promise.resolve();

  constructor(private readonly elements: Record<ViewName, HTMLDivElement>) {
    getRenderingEngine(ENGINE_ID)?.destroy();
    this.engine = new RenderingEngine(ENGINE_ID);
    this.engine.setViewports(
      VIEW_NAMES.map((name) => ({
        viewportId: name,
        type: CoreEnums.ViewportType.ORTHOGRAPHIC,
        element: elements[name],
        defaultOptions: { orientation: ORIENTATION[name], background: [0, 0, 0] as Types.Point3 },
      })),
    );
    ToolGroupManager.destroyToolGroup(TOOL_GROUP_ID);
    const tg = ToolGroupManager.createToolGroup(TOOL_GROUP_ID);
    if (!tg) throw new PsoasError('INTERNAL', 'Could not create the Cornerstone tool group', TOOL_GROUP_ID);
    tg.addTool(WindowLevelTool.toolName);
    tg.addTool(PanTool.toolName);
    tg.addTool(ZoomTool.toolName);
    tg.addTool(StackScrollTool.toolName);
    tg.addTool(CrosshairsTool.toolName, {
      getReferenceLineColor: (id: string) => ({ axial: 'rgb(255, 80, 80)', coronal: 'rgb(80, 200, 80)', sagittal: 'rgb(255, 200, 0)' })[id as ViewName] ?? 'white',
      getReferenceLineControllable: () => true,
      getReferenceLineDraggableRotatable: () => false,
      getReferenceLineSlabThicknessControlsOn: () => false,
    });
    for (const name of VIEW_NAMES) tg.addViewport(name, ENGINE_ID);
    SynchronizerManager.destroySynchronizer(VOI_SYNC_ID);
    const voiSync = synchronizers.createVOISynchronizer(VOI_SYNC_ID, { syncInvertState: false, syncColormap: false });
    for (const name of VIEW_NAMES) voiSync.add({ renderingEngineId: ENGINE_ID, viewportId: name });
    this.applyBindings();
    for (const name of VIEW_NAMES) {
      elements[name].addEventListener(CoreEnums.Events.CAMERA_MODIFIED, this.onChange);
      elements[name].addEventListener(CoreEnums.Events.VOI_MODIFIED, this.onChange);
    }
  }

  /** Subscribes to any camera/VOI change in any view; returns the unsubscribe function. */
  subscribe(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private toolGroup() {
    const tg = ToolGroupManager.getToolGroup(TOOL_GROUP_ID);
    if (!tg) throw new PsoasError('INTERNAL', 'Cornerstone tool group is gone', TOOL_GROUP_ID);
    return tg;
  }

  /** Mouse bindings: primary = the chosen tool, middle = pan, right = zoom, wheel = slice scroll. */
  private applyBindings(): void {
    const tg = this.toolGroup();
    const { Primary, Auxiliary, Secondary, Wheel } = ToolEnums.MouseBindings;
    const primaryName = {
      windowLevel: WindowLevelTool.toolName,
      pan: PanTool.toolName,
      zoom: ZoomTool.toolName,
      crosshairs: CrosshairsTool.toolName,
    }[this.primary];
    for (const n of [WindowLevelTool.toolName, PanTool.toolName, ZoomTool.toolName, CrosshairsTool.toolName]) {
      if (n !== primaryName) tg.setToolPassive(n, { removeAllBindings: true });
    }
    if (this.primary === 'crosshairs') tg.setToolActive(CrosshairsTool.toolName, { bindings: [{ mouseButton: Primary }] });
    else {
      // Crosshairs off: disabled so the lines disappear (passive would still draw them).
      tg.setToolDisabled(CrosshairsTool.toolName);
      tg.setToolActive(primaryName, { bindings: [{ mouseButton: Primary }] });
    }
    if (primaryName !== PanTool.toolName) tg.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: Auxiliary }] });
    if (primaryName !== ZoomTool.toolName) tg.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: Secondary }] });
    tg.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: Wheel }] });
  }

  setPrimaryTool(t: PrimaryTool): void {
    this.primary = t;
    this.applyBindings();
    this.engine.render();
  }

  getPrimaryTool(): PrimaryTool {
    return this.primary;
  }

  setVolume(registryId: string, v: Volume): Promise<void> {
    const p = this.showVolume(registryId, v);
    this.volumeShown = p.catch(() => undefined);
    return p;
  }

  private async showVolume(registryId: string, v: Volume): Promise<void> {
    const token = ++this.showToken;
    this.shownRegistryId = null;
    // An overlay belongs to the CT it was computed on.
    this.removeLabelmap();
    const volumeId = await ensureCornerstoneVolume(registryId, v);
    // Closed, asked for another CT, or this CT was released while its Cornerstone volume was being built.
    if (this.destroyed || token !== this.showToken || volumeId === null) return;
    this.volume = v;
    this.volumeId = volumeId;
    await setVolumesForViewports(this.engine, [{ volumeId }], [...VIEW_NAMES]);
    if (this.destroyed) return;
    this.setWindow(DEFAULT_PRESET.width, DEFAULT_PRESET.center);
    this.resetViews();
    // The first frame after setVolumes can show a stale texture in one view (seen with SwiftShader on the axial
    // view); render once more on the next frame so every view shows the uploaded volume.
    await new Promise<void>((r) => requestAnimationFrame(() => r()));
    if (this.destroyed) return;
    this.engine.render();
    this.shownRegistryId = registryId;
  }

  /** True once the views display the volume registered under `registryId`. */
  shows(registryId: string | null): boolean {
    return registryId != null && this.shownRegistryId === registryId;
  }

  private viewport(name: ViewName): Types.IVolumeViewport {
    const vp = this.engine.getViewport(name) as Types.IVolumeViewport | undefined;
    if (!vp) throw new PsoasError('INTERNAL', `Viewport ${name} does not exist`, name);
    return vp;
  }

  /** Window width/center in HU applied to all three views. */
  setWindow(width: number, center: number): void {
    const { lower, upper } = windowToRange(width, center);
    for (const n of VIEW_NAMES) this.viewport(n).setProperties({ voiRange: { lower, upper } });
    this.engine.render();
    this.onChange();
  }

  /**
   * Zooms a view so the whole volume just fits (2% margin) with square pixels: the in-plane extent of the
   * volume's corner points along the screen axes (mm) against the canvas aspect ratio. Cornerstone's own reset
   * fits a bounding sphere, which leaves tall coronal/sagittal images cropped or small.
   */
  private fitToVolume(name: ViewName): void {
    const v = this.volume;
    const vp = this.viewport(name);
    const w = vp.element.clientWidth;
    const h = vp.element.clientHeight;
    if (!v || w <= 0 || h <= 0) return;
    const cam = vp.getCamera();
    const up = cam.viewUp as Vec3;
    const n = cam.viewPlaneNormal as Vec3;
    const right: Vec3 = [up[1] * n[2] - up[2] * n[1], up[2] * n[0] - up[0] * n[2], up[0] * n[1] - up[1] * n[0]];
    const g = v.geometry;
    let minU = Infinity;
    let maxU = -Infinity;
    let minR = Infinity;
    let maxR = -Infinity;
    for (const ci of [-0.5, g.dimensions[0] - 0.5])
      for (const cj of [-0.5, g.dimensions[1] - 0.5])
        for (const ck of [-0.5, g.dimensions[2] - 0.5]) {
          // LPS (mm) of a corner of the voxel grid (voxel edges, not centres)
          const a = ci * g.spacing[0];
          const b = cj * g.spacing[1];
          const c = ck * g.spacing[2];
          const d = g.direction;
          const p: Vec3 = [
            g.origin[0] + d[0] * a + d[3] * b + d[6] * c,
            g.origin[1] + d[1] * a + d[4] * b + d[7] * c,
            g.origin[2] + d[2] * a + d[5] * b + d[8] * c,
          ];
          const u = dot3(p, up);
          const r = dot3(p, right);
          minU = Math.min(minU, u);
          maxU = Math.max(maxU, u);
          minR = Math.min(minR, r);
          maxR = Math.max(maxR, r);
        }
    // parallelScale = half the world height (mm) shown by the canvas.
    const half = Math.max((maxU - minU) / 2, ((maxR - minR) / 2) * (h / w)) * 1.02;
    if (Number.isFinite(half) && half > 0) vp.setCamera({ parallelScale: half });
  }

  resetViews(): void {
    for (const n of VIEW_NAMES) {
      this.viewport(n).resetCamera();
      this.fitToVolume(n);
    }
    // Crosshairs keep their own centre: reset it to the new cameras.
    this.engine.render();
    this.onChange();
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }

  /**
   * Re-fits canvases to their boxes. `fit`: also re-zoom each view so the volume fills it again, keeping the
   * current slices (used when the layout changes between one view and three).
   */
  resize(fit = false): void {
    if (this.destroyed) return;
    this.engine.resize(true, true);
    if (fit) {
      for (const n of VIEW_NAMES) {
        const vp = this.viewport(n);
        // zero-size (hidden) views keep their camera
        if (vp.element.clientWidth > 0 && vp.element.clientHeight > 0) {
          vp.resetCamera({ resetPan: true, resetZoom: true, resetToCenter: false });
          this.fitToVolume(n);
        }
      }
      this.engine.render();
    }
    this.onChange();
  }

  /** Moves one view by `delta` slices (positive = along the view normal). */
  scroll(name: ViewName, delta: number): void {
    this.viewport(name).scroll(delta);
  }

  /** Moves every view's slice through the LPS point `p` (mm) without changing zoom or pan. */
  jumpTo(p: Vec3): void {
    for (const n of VIEW_NAMES) {
      const vp = this.viewport(n);
      const cam = vp.getCamera();
      const normal = cam.viewPlaneNormal as Types.Point3;
      const focal = cam.focalPoint as Types.Point3;
      const pos = cam.position as Types.Point3;
      const d = dot3(sub(p, focal), normal);
      vp.setCamera({
        focalPoint: [focal[0] + d * normal[0], focal[1] + d * normal[1], focal[2] + d * normal[2]],
        position: [pos[0] + d * normal[0], pos[1] + d * normal[1], pos[2] + d * normal[2]],
      });
    }
    this.engine.render();
    this.onChange();
  }

  /** Canvas CSS px (relative to the view element's top-left) of an LPS point. */
  worldToCanvas(name: ViewName, p: Vec3): [number, number] {
    const c = this.viewport(name).worldToCanvas(p as Types.Point3);
    return [c[0], c[1]];
  }

  canvasToWorld(name: ViewName, xy: [number, number]): Vec3 {
    const w = this.viewport(name).canvasToWorld(xy as Types.Point2);
    return [w[0], w[1], w[2]];
  }

  viewState(name: ViewName): ViewState {
    const vp = this.viewport(name);
    const cam = vp.getCamera();
    const up = cam.viewUp as Vec3;
    const normal = cam.viewPlaneNormal as Vec3;
    const props = vp.getProperties();
    const r = props?.voiRange ?? windowToRange(DEFAULT_PRESET.width, DEFAULT_PRESET.center);
    let sliceIndex = 0;
    let sliceCount = 0;
    try {
      sliceIndex = vp.getSliceIndex();
      sliceCount = vp.getNumberOfSlices();
    } catch {
      // before a volume is set
    }
    return {
      markers: markersFromCamera(up, normal, cam.flipHorizontal ?? false, cam.flipVertical ?? false),
      focalPoint: [...(cam.focalPoint as Vec3)] as Vec3,
      normal: [...normal] as Vec3,
      window: rangeToWindow(r.lower, r.upper),
      sliceIndex,
      sliceCount,
      zoom: vp.getZoom(),
    };
  }

  /**
   * Shows the label map registered under `maskRegistryId` (on the grid of the displayed CT) as a Cornerstone
   * labelmap segmentation over the three views, one colour per label (labels.ts); null removes the overlay.
   * Waits for the CT to be shown first; calls are serialised. The labelmap volume lives in Cornerstone's cache
   * (sharing the mask's voxels) and is removed from it with the overlay.
   */
  setLabelmap(maskRegistryId: string | null, mask?: Volume<Uint8Array>): Promise<void> {
    const run = this.labelmapQueue.then(() => this.applyLabelmap(maskRegistryId, mask));
    this.labelmapQueue = run.catch(() => undefined);
    return run;
  }

  private async applyLabelmap(maskRegistryId: string | null, mask?: Volume<Uint8Array>): Promise<void> {
    await this.volumeShown;
    if (this.destroyed) return;
    if ((this.labelmap?.maskRegistryId ?? null) === maskRegistryId) return;
    this.removeLabelmap();
    if (maskRegistryId === null) return;
    const ct = this.volume;
    const ctRegistryId = this.shownRegistryId;
    if (!mask || !ct || !ctRegistryId) throw new PsoasError('INTERNAL', `No label map or CT to overlay (mask ${maskRegistryId})`, maskRegistryId);
    const [a, b] = [ct.geometry.dimensions, mask.geometry.dimensions];
    if (a[0] !== b[0] || a[1] !== b[1] || a[2] !== b[2])
      throw new PsoasError('BAD_ARGUMENT', `The label map (${b.join('x')}) is not on the grid of the displayed CT (${a.join('x')})`, b, maskRegistryId);
    const still = () => !this.destroyed && this.shownRegistryId === ctRegistryId;
    let volumeId = await ensureLabelmapVolume(maskRegistryId, ctRegistryId, mask);
    // Another viewer that shared this creation may have given it up (closed) and removed it: build it again.
    if (volumeId === null && still()) volumeId = await ensureLabelmapVolume(maskRegistryId, ctRegistryId, mask);
    // Calls are serialised, but the viewer may have closed or shown another CT meanwhile: the volume is then
    // shown nowhere.
    if (!still() || volumeId === null) {
      removeLocalVolume(labelmapVolumeId(maskRegistryId));
      return;
    }
    const segmentationId = volumeId;
    const type = ToolEnums.SegmentationRepresentations.Labelmap;
    segmentation.addSegmentations([
      {
        segmentationId,
        representation: { type, data: { volumeId } },
        config: {
          label: 'psoas',
          segments: Object.fromEntries(PSOAS_LABEL_STYLES.map((s) => [s.value, { label: s.name }])),
        },
      },
    ]);
    this.labelmap = { maskRegistryId, segmentationId };
    const input = [{ segmentationId, type, config: { colorLUTOrIndex: psoasColourLutIndex() } }];
    segmentation.addLabelmapRepresentationToViewportMap(Object.fromEntries(VIEW_NAMES.map((n) => [n, input])));
    this.applyLabelmapStyle();
  }

  private removeLabelmap(): void {
    const lm = this.labelmap;
    if (!lm) return;
    this.labelmap = null;
    try {
      segmentation.removeSegmentation(lm.segmentationId);
    } catch (e) {
      console.warn('psoasview: removing the segmentation overlay failed', e);
    }
    removeLocalVolume(lm.segmentationId);
    if (!this.destroyed) this.engine.render();
  }

  /** Overlay visibility and fill opacity (kept for later overlays too). */
  setLabelmapStyle(style: LabelmapStyle): void {
    this.labelmapStyle = { visible: style.visible, opacity: Math.min(1, Math.max(0, style.opacity)) };
    this.applyLabelmapStyle();
  }

  private applyLabelmapStyle(): void {
    const lm = this.labelmap;
    if (!lm || this.destroyed) return;
    const { visible, opacity } = this.labelmapStyle;
    const type = ToolEnums.SegmentationRepresentations.Labelmap;
    segmentation.config.style.setStyle(
      { type, segmentationId: lm.segmentationId },
      {
        renderFill: true,
        fillAlpha: opacity,
        fillAlphaInactive: opacity,
        renderOutline: true,
        outlineWidth: 1,
        outlineOpacity: Math.min(1, opacity + 0.3),
        outlineOpacityInactive: Math.min(1, opacity + 0.3),
      },
    );
    for (const n of VIEW_NAMES) segmentation.config.visibility.setSegmentationRepresentationVisibility(n, { segmentationId: lm.segmentationId, type }, visible);
    this.engine.render();
  }

  /** Registry id of the label map shown as overlay, and in how many views Cornerstone has mounted it. */
  labelmapState(): { maskRegistryId: string | null; viewsWithOverlay: number } {
    const lm = this.labelmap;
    if (!lm || this.destroyed) return { maskRegistryId: null, viewsWithOverlay: 0 };
    let n = 0;
    for (const name of VIEW_NAMES) {
      const actors = this.viewport(name).getActors();
      // Labelmap actors are keyed by a representation UID that starts with the segmentation id.
      if (actors.some((a) => a.uid.startsWith(lm.segmentationId) || String(a.representationUID ?? '').startsWith(lm.segmentationId) || a.referencedId === lm.segmentationId)) n++;
    }
    return { maskRegistryId: lm.maskRegistryId, viewsWithOverlay: n };
  }

  render(): void {
    this.engine.render();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.removeLabelmap();
    this.destroyed = true;
    for (const name of VIEW_NAMES) {
      this.elements[name].removeEventListener(CoreEnums.Events.CAMERA_MODIFIED, this.onChange);
      this.elements[name].removeEventListener(CoreEnums.Events.VOI_MODIFIED, this.onChange);
    }
    this.listeners.clear();
    ToolGroupManager.destroyToolGroup(TOOL_GROUP_ID);
    SynchronizerManager.destroySynchronizer(VOI_SYNC_ID);
    this.engine.destroy();
  }
}
