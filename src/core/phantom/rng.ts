/**
 * Deterministic pseudo-random numbers for the phantom generator (no Math.random anywhere in the phantom code,
 * so the same seed always gives the same bytes).
 */

/** mulberry32: small, fast 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 32-bit hash of a list of integers / strings (FNV-1a followed by a murmur3 finaliser). */
export function hash32(...parts: (number | string)[]): number {
  let h = 0x811c9dc5;
  const mix = (byte: number) => {
    h ^= byte & 0xff;
    h = Math.imul(h, 0x01000193);
  };
  for (const p of parts) {
    if (typeof p === 'number') {
      // hash the integer part and the fractional part separately so 1.5 and 1 differ
      const ip = Math.floor(p);
      const lo = ip | 0;
      const hi = Math.floor(ip / 4294967296) | 0;
      const frac = Math.round((p - ip) * 1e6) | 0;
      for (const w of [lo, hi, frac]) for (let s = 0; s < 32; s += 8) mix(w >>> s);
    } else {
      for (let i = 0; i < p.length; i++) {
        const c = p.charCodeAt(i);
        mix(c);
        mix(c >>> 8);
      }
    }
    mix(0x5c); // separator
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A seeded random stream with the distributions the anatomy needs. */
export class Rng {
  private readonly next: () => number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** Uniform in [0, 1). */
  random(): number {
    return this.next();
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** Standard normal (Box–Muller, polar-free form), scaled to mean/sd. */
  normal(mean = 0, sd = 1): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return mean + sd * s;
    }
    let u = this.next();
    while (u <= 1e-12) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + sd * r * Math.cos(2 * Math.PI * v);
  }

  /** Normal clipped to [mean - k*sd, mean + k*sd] (anatomical parameters must stay plausible). */
  clippedNormal(mean: number, sd: number, k = 2): number {
    const x = this.normal(0, 1);
    return mean + sd * Math.max(-k, Math.min(k, x));
  }
}

/** A table of `n` standard-normal samples (used for fast per-voxel noise: one PRNG call per voxel). */
export function gaussianTable(seed: number, n: number): Float32Array {
  const rng = new Rng(seed);
  const t = new Float32Array(n);
  for (let i = 0; i < n; i++) t[i] = rng.normal();
  // remove the table's own sample mean / sd so noise statistics are exact
  let m = 0;
  for (let i = 0; i < n; i++) m += t[i];
  m /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (t[i] - m) ** 2;
  const s = Math.sqrt(v / n);
  for (let i = 0; i < n; i++) t[i] = (t[i] - m) / s;
  return t;
}
