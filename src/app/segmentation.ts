/**
 * What the segmentation panel does (no React here; the panel renders useSegmentationStore and calls these).
 *
 * - One inference worker per page (src/inference/client.ts), created on first use and reused. The model picked in
 *   the panel is loaded into it (download + sha256 check + session) when a run needs it, or at once for a package
 *   the user loads from files or a URL (so a bad package is reported straight away).
 * - A run sends a COPY of the displayed CT to the worker (transferred there and back): the CT the views draw is
 *   never detached, and the main thread only posts messages.
 * - The mask comes back on the CT's grid; it is registered (src/viewer/registry.ts) and shown by the viewer as a
 *   Cornerstone labelmap; the store only holds its id.
 * - Measurements are computed by the CLI's code with the CLI's options (measureAll via analysis.worker.ts,
 *   measureOptionsFor, buildReport), so the panel shows the numbers `psoasview segment` writes.
 * - Cancel aborts the worker's run; the earlier result stays. A new CT clears the result.
 */
import { PsoasError } from '../core/errors';
import { copyInChunks } from '../core/tasks';
import type { Volume } from '../core/volume';
import { createInferenceClient, isAbortError, listModelPackages, type InferenceClient, type ModelPackageSource } from '../inference/client';
import type { AllMeasurements } from '../measure';
import { STAGES } from '../pipeline/run';
import { activeController } from '../viewer/active';
import { getVolume, registerVolume, releaseVolume } from '../viewer/registry';
import { version as toolVersion } from '../../package.json';
import { clearAnalysis, maskNiftiInWorker, measureInWorker, setAnalysisInputs } from './analysisClient';
import { saveBlob } from './download';
import {
  MASK_FILE,
  REPORT_FILE,
  axialLevelZ,
  buildReport,
  doneNote,
  labelMapOf,
  maskDescription,
  measureOptionsFor,
  packageProgressText,
  parseHeightText,
  pickPackageFiles,
  stagePosition,
} from './segmentResults';
import { useLoadStore, useSegmentationStore, type LoadedModelInfo, type ModelChoice, type SegResultInfo } from './stores';
import { toUiError } from './uiError';

const S = () => useSegmentationStore.getState();
const set = (p: Parameters<ReturnType<typeof S>['set']>[0]) => S().set(p);

let client: InferenceClient | null = null;
/** The page's inference worker (created on first use). */
function inference(): InferenceClient {
  client ??= createInferenceClient();
  return client;
}

/** Package sources of the choices the user added (local File pairs, URLs), by choice key. */
const userSources = new Map<string, ModelPackageSource>();
/** Bumped by every run, cancel and CT change: a run whose token is stale drops what it gets. */
let runToken = 0;
let measureSeq = 0;
let userPackages = 0;

// ---- model packages ----

/** Lists the served packages (/models/index.json); keeps the user's own ones; selects the first when none is. */
export async function refreshModelList(): Promise<void> {
  try {
    const served = await listModelPackages();
    const choices: ModelChoice[] = served.map((m) => ({
      key: m.manifestUrl,
      kind: 'served',
      label: `${m.name} ${m.version}`,
      name: m.name,
      version: m.version,
      sha256: m.sha256,
    }));
    const own = S().choices.filter((c) => c.kind !== 'served');
    const all = [...choices, ...own];
    const selected = S().selectedKey;
    set({ choices: all, selectedKey: selected && all.some((c) => c.key === selected) ? selected : (all[0]?.key ?? null) });
  } catch (e) {
    console.error(e);
    set({ error: toUiError(e) });
  }
}

export function selectModel(key: string): void {
  if (S().choices.some((c) => c.key === key)) set({ selectedKey: key, error: null });
}

export function setBackendPreference(p: 'auto' | 'webgpu' | 'wasm'): void {
  set({ backendPreference: p });
}

function modelKey(choiceKey: string, pref: string): string {
  return `${choiceKey}#${pref}`;
}

/** Loads `source` into the worker; on success it becomes the selected, loaded model. Errors propagate. */
async function loadIntoWorker(choice: ModelChoice, source: ModelPackageSource, sourceText: string): Promise<LoadedModelInfo> {
  const preferred = S().backendPreference;
  set({ modelProgress: 'loading the model' });
  // Progress arrives on its own message channel: one may land after the load settled; it must not show then.
  let settled = false;
  try {
    const r = await inference().loadModel(source, { preferred }, (p) => {
      if (!settled) set({ modelProgress: packageProgressText(p) });
    });
    const info: LoadedModelInfo = {
      key: modelKey(choice.key, preferred),
      name: r.name,
      version: r.version,
      sha256: r.sha256,
      verified: r.verified,
      fromCache: r.fromCache,
      source: sourceText,
      backend: r.backend,
      numThreads: r.numThreads,
      fallbackReason: r.fallbackReason,
    };
    set({ model: info });
    return info;
  } finally {
    settled = true;
    set({ modelProgress: null });
  }
}

function sourceOf(choice: ModelChoice): { source: ModelPackageSource; text: string } {
  if (choice.kind === 'served') return { source: { url: choice.key }, text: choice.key };
  const s = userSources.get(choice.key);
  if (!s) throw new PsoasError('BAD_MODEL', `Model package ${choice.label} is no longer in memory: load it again`, choice.key);
  return { source: s, text: 'url' in s ? s.url : choice.label };
}

/** The selected package, loaded for the current backend preference (no-op when it already is). */
async function ensureModel(): Promise<LoadedModelInfo> {
  const st = S();
  const choice = st.choices.find((c) => c.key === st.selectedKey);
  if (!choice)
    throw new PsoasError(
      'BAD_MODEL',
      st.choices.length === 0
        ? 'No model package to segment with: /models/index.json lists none. Load a package (manifest.json + .onnx, or its URL) first.'
        : 'Choose a model package first',
      st.selectedKey,
    );
  if (st.model && st.model.key === modelKey(choice.key, st.backendPreference)) return st.model;
  const { source, text } = sourceOf(choice);
  return loadIntoWorker(choice, source, text);
}

/** A package the user added (files or URL): loaded at once, listed and selected only when it loads. */
async function addUserPackage(kind: 'files' | 'url', source: ModelPackageSource, sourceText: string): Promise<void> {
  if (busy()) return;
  const token = ++runToken;
  set({ phase: 'loading-model', error: null, note: null });
  const key = `${kind}:${++userPackages}:${sourceText}`;
  const provisional: ModelChoice = { key, kind, label: sourceText };
  try {
    const info = await loadIntoWorker(provisional, source, sourceText);
    if (token !== runToken) return;
    userSources.set(key, source);
    const choice: ModelChoice = {
      key,
      kind,
      label: `${info.name} ${info.version} (${kind === 'files' ? 'local files' : 'URL'})`,
      name: info.name,
      version: info.version,
      sha256: info.sha256,
    };
    set({ choices: [...S().choices, choice], selectedKey: key, phase: 'ready', note: `Loaded ${info.name} ${info.version}` });
  } catch (e) {
    if (token !== runToken) return;
    console.error(e);
    set({ phase: 'ready', error: toUiError(e) });
  }
}

/** "Load package…" from a local file pair (the package's manifest .json and its .onnx). */
export async function loadLocalPackage(files: readonly File[]): Promise<void> {
  let pair;
  try {
    pair = pickPackageFiles(files);
  } catch (e) {
    set({ error: toUiError(e) });
    return;
  }
  const text = `${pair.manifest.name} + ${pair.onnx.name}`;
  await addUserPackage('files', { files: { manifest: pair.manifest, onnx: pair.onnx, manifestName: pair.manifest.name, onnxName: pair.onnx.name } }, text);
}

/** "Load package…" from a manifest URL (the ONNX is resolved next to it, same origin only; sha256 required). */
export async function loadUrlPackage(url: string): Promise<void> {
  const u = url.trim();
  if (!u) {
    set({ error: { code: 'BAD_ARGUMENT', message: 'Give the URL of the package manifest (…/manifest.json)' } });
    return;
  }
  let abs: string;
  try {
    abs = new URL(u, location.href).href;
  } catch {
    set({ error: { code: 'BAD_ARGUMENT', message: `Not a valid URL: ${u}` } });
    return;
  }
  await addUserPackage('url', { url: abs }, abs);
}

// ---- segmentation ----

/** What the model takes (the CLI's requireCt): CT in HU; a volume without a modality counts as CT. */
export function isCt(v: Volume): boolean {
  return v.units === 'HU' && (!v.meta.modality || String(v.meta.modality).toUpperCase() === 'CT');
}

function busy(): boolean {
  return S().phase !== 'ready';
}

/** Runs the selected model on the displayed CT and measures the result (see the file comment). */
export async function segmentPsoas(): Promise<void> {
  const load = useLoadStore.getState();
  const volumeId = load.volumeId;
  const ct = getVolume(volumeId);
  if (!ct || !volumeId || load.state !== 'ready' || busy()) return;
  if (!isCt(ct)) {
    set({ error: { code: 'NOT_CT', message: `The model segments CT in Hounsfield units; this series is ${ct.meta.modality ?? ct.units}` } });
    return;
  }
  const token = ++runToken;
  const t0 = performance.now();
  set({ phase: 'loading-model', error: null, note: null, progress: null });
  try {
    const model = await ensureModel();
    if (token !== runToken) return;
    set({ phase: 'segmenting', progress: { stage: STAGES[0], fraction: 0, ...stagePosition(STAGES[0]) } });
    // A copy: transferred to the worker and back (result.image); the CT on screen keeps its buffer. Made in
    // chunks: one slice() of the sample's 52 MB froze the page for ~120 ms (copy + the GC it set off).
    const copy: Volume = { geometry: ct.geometry, data: await copyInChunks(ct.data), units: ct.units, meta: { ...ct.meta } };
    if (token !== runToken) return;
    let segmented = false;
    const r = await inference().segment(copy, {}, (p) => {
      // Progress comes on its own channel: late events (after the result or a cancel) are dropped.
      if (token !== runToken || segmented) return;
      const prev = S().progress;
      const tile = p.tile ? { done: p.tile.done, total: p.tile.total } : prev?.stage === p.stage ? prev.tile : undefined;
      set({ progress: { stage: p.stage, fraction: p.fraction, tile, ...stagePosition(p.stage) } });
    });
    segmented = true;
    if (token !== runToken || useLoadStore.getState().volumeId !== volumeId) return;

    set({ phase: 'measuring', progress: { stage: 'measure', fraction: 0 } });
    const mask: Volume<Uint8Array> = { geometry: r.mask.geometry, data: r.mask.data, units: 'label', meta: { ...r.mask.meta, source: MASK_FILE } };
    const labels = labelMapOf(r.labels);
    const { levelZmm, heightM } = S();
    const tm = performance.now();
    const maskId = registerVolume(mask);
    let all: AllMeasurements;
    try {
      all = await analysisTask(async () => {
        // The worker gets the CT copy that came back and its own copy of the mask (both transferred).
        await setAnalysisInputs(r.image, { ...mask, data: await copyInChunks(mask.data) });
        analysisFor = maskId;
        return measureInWorker(labels, measureOptionsFor(levelZmm, heightM));
      });
    } catch (e) {
      releaseVolume(maskId);
      throw e;
    }
    const measureMs = performance.now() - tm;
    if (token !== runToken || useLoadStore.getState().volumeId !== volumeId) {
      releaseVolume(maskId);
      return;
    }
    const timings: Record<string, number> = {};
    for (const [k, v] of Object.entries(r.timings)) if (typeof v === 'number' && k !== 'total') timings[k] = round1(v);
    timings.segment_total = round1(r.timings.total);
    timings.measure = round1(measureMs);
    const wallMs = performance.now() - t0;
    timings.total = round1(wallMs);
    const result: SegResultInfo = {
      maskId,
      volumeId,
      model: { name: r.model.name, version: r.model.version, sha256: r.model.sha256, source: model.source },
      backend: r.backend,
      numThreads: model.numThreads,
      fallbackReason: r.fallbackReason,
      labels,
      timings,
      steps: r.steps.map((s) => `${s.step}: ${s.summary}`),
      tiles: r.timings.tiles.length,
      wallMs,
    };
    const old = S().result;
    set({
      phase: 'ready',
      progress: null,
      result,
      measurements: all,
      report: reportFor(result, all, levelZmm, heightM),
      note: doneNote(wallMs, r.timings.tiles.length, r.steps),
    });
    if (old) releaseVolume(old.maskId);
    // The level or height changed while this run measured: measure again with the current ones.
    if (S().levelZmm !== levelZmm || S().heightM !== heightM) void remeasure();
  } catch (e) {
    if (token !== runToken) return;
    if (isAbortError(e)) {
      set({ phase: 'ready', progress: null, note: 'Cancelled' });
      return;
    }
    console.error(e);
    set({ phase: 'ready', progress: null, error: toUiError(e) });
  }
}

/** Cancels the model load or inference in progress; the panel returns to ready with "Cancelled". */
export function cancelSegmentation(): void {
  const phase = S().phase;
  if (phase === 'ready' || phase === 'measuring') return;
  runToken++;
  // A model load cannot be aborted in the worker: forget which model is loaded so the next run loads it again.
  if (phase === 'loading-model') set({ model: null, modelProgress: null });
  else void client?.cancel();
  set({ phase: 'ready', progress: null, note: 'Cancelled' });
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

// ---- measurements (analysis worker) ----

/** Registry id of the mask whose CT and voxels the analysis worker holds now. */
let analysisFor: string | null = null;
let analysisChain: Promise<unknown> = Promise.resolve();

/** Runs analysis-worker work one task at a time (inputs are swapped by some tasks). */
function analysisTask<T>(fn: () => Promise<T>): Promise<T> {
  const p = analysisChain.then(fn, fn);
  analysisChain = p.catch(() => undefined);
  return p;
}

/** Gives the worker copies of the result's CT and mask when it holds another pair (after a later run, say). */
async function ensureAnalysisInputs(res: SegResultInfo): Promise<void> {
  if (analysisFor === res.maskId) return;
  const ct = getVolume(res.volumeId);
  const mask = getVolume(res.maskId) as Volume<Uint8Array> | undefined;
  if (!ct || !mask) throw new PsoasError('INTERNAL', 'The segmentation result is no longer in memory', res.maskId);
  await setAnalysisInputs({ ...ct, data: await copyInChunks(ct.data) }, { ...mask, data: await copyInChunks(mask.data) });
  analysisFor = res.maskId;
}

function reportFor(res: SegResultInfo, all: AllMeasurements, levelZmm: number | null, heightM: number | null): object | null {
  const ct = getVolume(res.volumeId);
  if (!ct) return null;
  const load = useLoadStore.getState();
  return buildReport({
    ct,
    source: ct.meta.source ?? load.sourceLabel,
    sourceKind: load.sourceKind,
    run: { model: res.model, backend: res.backend, labels: res.labels, timings: res.timings, steps: res.steps },
    all,
    levelZmm,
    heightM,
    toolVersion,
    created: new Date(),
    fallbackReason: res.fallbackReason,
  });
}

/** Re-measures the current result with the current level and height (same code and options as the CLI). */
async function remeasure(): Promise<void> {
  const { result: res, levelZmm, heightM } = S();
  if (!res) return;
  const seq = ++measureSeq;
  try {
    const all = await analysisTask(async () => {
      await ensureAnalysisInputs(res);
      return measureInWorker(res.labels, measureOptionsFor(levelZmm, heightM));
    });
    if (seq !== measureSeq || S().result !== res) return;
    set({ measurements: all, report: reportFor(res, all, levelZmm, heightM) });
  } catch (e) {
    if (seq !== measureSeq) return;
    console.error(e);
    set({ error: toUiError(e) });
  }
}

/**
 * "Use current axial slice as L3": the axial view's slice (patient z, mm; snapped to the slice centre on a standard
 * axial stack) becomes the measurement level.
 */
export function takeLevelFromAxialView(): void {
  const c = activeController();
  const ct = getVolume(useLoadStore.getState().volumeId);
  if (!c || !ct) return;
  const v = c.viewState('axial');
  const { zMm } = axialLevelZ(ct.geometry, v.focalPoint[2]);
  set({ levelZmm: zMm, levelSlice: `axial slice ${v.sliceIndex + 1}/${v.sliceCount}`, error: null });
  void remeasure();
}

export function clearLevel(): void {
  set({ levelZmm: null, levelSlice: null });
  void remeasure();
}

/** Moves the axial view to the chosen level (the other views keep their slices). */
export function goToLevel(): void {
  const c = activeController();
  const z = S().levelZmm;
  if (!c || z === null) return;
  const x = c.viewState('sagittal').focalPoint[0];
  const y = c.viewState('coronal').focalPoint[1];
  c.jumpTo([x, y, z]);
}

/** The height field (metres): valid values re-measure (PMI); invalid ones show why. */
export function setHeightText(text: string): void {
  const { heightM, error } = parseHeightText(text);
  const changed = heightM !== S().heightM;
  set({ heightText: text, heightM, heightError: error });
  if (changed) void remeasure();
}

// ---- overlay, errors, downloads ----

export function setOverlay(p: { visible?: boolean; opacity?: number }): void {
  set({
    ...(p.visible !== undefined ? { overlayVisible: p.visible } : {}),
    ...(p.opacity !== undefined ? { overlayOpacity: Math.min(1, Math.max(0, p.opacity)) } : {}),
  });
}

export function dismissError(): void {
  set({ error: null });
}

/** Errors of the overlay (Cornerstone) land in the panel; the study stays open. */
export function reportOverlayError(e: unknown): void {
  set({ error: toUiError(e) });
}

export function downloadReport(): void {
  const report = S().report;
  if (!report) return;
  saveBlob(new Blob([JSON.stringify(report, null, 2) + '\n'], { type: 'application/json' }), REPORT_FILE);
}

export async function downloadMask(): Promise<void> {
  const res = S().result;
  if (!res) return;
  try {
    const bytes = await analysisTask(async () => {
      await ensureAnalysisInputs(res);
      return maskNiftiInWorker(maskDescription(res.model, res.labels));
    });
    saveBlob(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/gzip' }), MASK_FILE);
  } catch (e) {
    console.error(e);
    set({ error: toUiError(e) });
  }
}

// ---- lifecycle ----

/** A new CT (series switch, another study, leaving the viewer) clears the result: it belonged to the old one. */
function onVolumeChanged(): void {
  const st = S();
  if (st.phase !== 'ready') {
    runToken++;
    if (st.phase === 'segmenting') void client?.cancel();
  }
  const old = st.result;
  set({ phase: 'ready', progress: null, result: null, measurements: null, report: null, levelZmm: null, levelSlice: null, note: null, error: null });
  if (old) releaseVolume(old.maskId);
  analysisFor = null;
  void analysisTask(() => clearAnalysis());
}

let installed = false;

/** Called by the panel when it mounts: follows CT changes and lists the served model packages (once). */
export function initSegmentation(): void {
  if (installed) return;
  installed = true;
  useLoadStore.subscribe((s, prev) => {
    if (s.volumeId !== prev.volumeId) onVolumeChanged();
    if (s.studyInstanceUid !== prev.studyInstanceUid && prev.studyInstanceUid !== null) set({ heightText: '', heightM: null, heightError: null });
  });
  void refreshModelList();
}
