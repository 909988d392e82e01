/**
 * The compressed-pixel codecs (JPEG 2000, HTJ2K, JPEG-LS, JPEG baseline, JPEG lossless), taken directly from
 * the packages that ship with @cornerstonejs/dicom-image-loader, so that the SAME module decodes in the browser
 * (Vite bundle, Web Worker) and in Node (vitest, CLI).
 *
 * Where the .wasm binaries come from:
 * - Node: the emscripten glue is CommonJS and, when given nothing, reads its .wasm with fs from its own folder
 *   (node_modules/@cornerstonejs/codec-x/dist). Nothing to configure.
 * - Browser (Vite dev, build, workers): the URL of each .wasm comes from a `?url` import, which Vite turns into
 *   a served/emitted asset (no CDN). The import only runs in the browser branch, so tsx/Node never resolve it.
 * - Anything else (tests, an app serving the .wasm from elsewhere): `setCodecWasmLoader(fn)`.
 */
import { PsoasError } from '../errors';

export type CodecName = 'openjpeg' | 'openjph' | 'charls' | 'libjpeg-turbo';

/** Returns the .wasm bytes, or a URL to fetch them from; undefined = the codec's default lookup. */
export type CodecWasmLoader = (
  codec: CodecName,
) => ArrayBuffer | Uint8Array | string | URL | undefined | Promise<ArrayBuffer | Uint8Array | string | URL | undefined>;

let customLoader: CodecWasmLoader | undefined;
const instances = new Map<CodecName, Promise<CodecModule>>();

/** Overrides where the codec .wasm files are loaded from (call before the first decode). */
export function setCodecWasmLoader(fn: CodecWasmLoader | undefined): void {
  customLoader = fn;
  instances.clear();
}

type CodecModule = Record<string, unknown>;
type Factory = (arg?: {
  locateFile?: (f: string) => string;
  wasmBinary?: ArrayBuffer | Uint8Array;
  print?: (s: string) => void;
}) => Promise<CodecModule>;
// OpenJPEG logs "[INFO] ..." lines for every frame through emscripten's print: silence stdout, keep stderr.
const quiet = { print: () => {} };

const isNode =
  typeof globalThis.process !== 'undefined' && !!(globalThis.process as { versions?: { node?: string } }).versions?.node;

async function glue(codec: CodecName): Promise<Factory> {
  // Static strings so that Vite sees (and pre-bundles) each CommonJS glue file.
  const mod =
    codec === 'openjpeg'
      ? await import('@cornerstonejs/codec-openjpeg/decodewasmjs')
      : codec === 'openjph'
        ? await import('@cornerstonejs/codec-openjph/wasmjs')
        : codec === 'charls'
          ? await import('@cornerstonejs/codec-charls/decodewasmjs')
          : await import('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs');
  let f: unknown = mod;
  // CommonJS interop differs between Node, Vite dev and Vite build: unwrap `default` until a function appears.
  for (let i = 0; i < 3 && typeof f !== 'function'; i++) f = (f as { default?: unknown }).default;
  if (typeof f !== 'function') throw new PsoasError('INTERNAL', `codec ${codec}: the module has no factory function`, codec);
  return f as Factory;
}

async function browserWasmUrl(codec: CodecName): Promise<string> {
  const mod =
    codec === 'openjpeg'
      ? await import('@cornerstonejs/codec-openjpeg/decodewasm?url')
      : codec === 'openjph'
        ? await import('@cornerstonejs/codec-openjph/wasm?url')
        : codec === 'charls'
          ? await import('@cornerstonejs/codec-charls/decodewasm?url')
          : await import('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasm?url');
  return mod.default;
}

/** The initialised emscripten module of a codec (created once, shared by every decode). */
export function getCodec(codec: CodecName): Promise<CodecModule> {
  let p = instances.get(codec);
  if (!p) {
    p = (async () => {
      const factory = await glue(codec);
      const src = customLoader ? await customLoader(codec) : isNode ? undefined : await browserWasmUrl(codec);
      if (src === undefined) return factory({ ...quiet });
      if (typeof src === 'string' || src instanceof URL) {
        const url = String(src);
        return factory({ ...quiet, locateFile: (f: string) => (f.endsWith('.wasm') ? url : f) });
      }
      return factory({ ...quiet, wasmBinary: src });
    })();
    p.catch(() => instances.delete(codec)); // allow a retry after a failed load
    instances.set(codec, p);
  }
  return p;
}

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}
interface WasmDecoder {
  getEncodedBuffer(n: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): FrameInfo;
  decode(): void;
  decodeSubResolution?(level: number): void;
  delete?(): void;
}

/** Decoded samples copied out of WASM memory, typed by the codestream's precision and signedness. */
export interface CodecOutput {
  pixels: Uint8Array | Int8Array | Uint16Array | Int16Array;
  width: number;
  height: number;
  bitsPerSample: number;
  /** Signedness the codestream itself declares (JPEG 2000 only; undefined for codecs without one). */
  signed?: boolean;
  components: number;
}

function copyOut(decoded: Uint8Array, info: FrameInfo, signed: boolean | undefined): CodecOutput['pixels'] {
  const copy = new Uint8Array(decoded); // WASM memory is reused by the next decode: take our own copy now
  if (info.bitsPerSample > 8) return signed ? new Int16Array(copy.buffer) : new Uint16Array(copy.buffer);
  return signed ? new Int8Array(copy.buffer) : copy;
}

const decoderClass: Record<CodecName, string> = {
  openjpeg: 'J2KDecoder',
  openjph: 'HTJ2KDecoder',
  charls: 'JpegLSDecoder',
  'libjpeg-turbo': 'JPEGDecoder',
};

/** Decodes one compressed frame with a WASM codec. Throws DECODE_FAILED naming the source. */
export async function decodeWithCodec(codec: CodecName, frame: Uint8Array, source: string): Promise<CodecOutput> {
  let mod: CodecModule;
  try {
    mod = await getCodec(codec);
  } catch (e) {
    throw new PsoasError(
      'DECODE_FAILED',
      `${source}: the ${codec} decoder (WebAssembly) could not be loaded: ${e instanceof Error ? e.message : String(e)}`,
      codec,
      source,
    );
  }
  const Ctor = mod[decoderClass[codec]] as new () => WasmDecoder;
  const decoder = new Ctor();
  try {
    decoder.getEncodedBuffer(frame.length).set(frame);
    if (codec === 'openjph' && decoder.decodeSubResolution) decoder.decodeSubResolution(0);
    else decoder.decode();
    const info = decoder.getFrameInfo();
    const signed = codec === 'openjpeg' || codec === 'openjph' ? !!info.isSigned : undefined;
    return {
      pixels: copyOut(decoder.getDecodedBuffer(), info, signed),
      width: info.width,
      height: info.height,
      bitsPerSample: info.bitsPerSample,
      signed,
      components: info.componentCount,
    };
  } catch (e) {
    // charls throws a numeric pointer to its exception message.
    let why = e instanceof Error ? e.message : String(e);
    if (typeof e === 'number' && typeof mod.getExceptionMessage === 'function') {
      why = String((mod.getExceptionMessage as (n: number) => string)(e));
    }
    throw new PsoasError('DECODE_FAILED', `${source}: ${codec} could not decode the frame: ${why}`, codec, source);
  } finally {
    decoder.delete?.();
  }
}

/** JPEG lossless (processes 14 and 14 SV1, 1.2.840.10008.1.2.4.57/.70): pure JS decoder. */
export async function decodeJpegLossless(frame: Uint8Array, bitsAllocated: number, source: string): Promise<Uint8Array | Uint16Array> {
  const { Decoder } = await import('@cornerstonejs/jpeg-lossless-decoder-js');
  try {
    const d = new Decoder();
    // The decoder reads from an ArrayBuffer + offset; give it its own copy so offsets are simple.
    const copy = new Uint8Array(frame);
    const out = d.decode(copy.buffer, 0, copy.length, bitsAllocated <= 8 ? 1 : 2);
    return out;
  } catch (e) {
    throw new PsoasError(
      'DECODE_FAILED',
      `${source}: JPEG lossless decoding failed: ${e instanceof Error ? e.message : String(e)}`,
      'jpeg-lossless',
      source,
    );
  }
}
