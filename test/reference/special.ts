/**
 * Special functions for the float64 reference: erf / erfc to double precision, and the exact
 * (erf-form) gelu with its derivative. Shares no code with the compiler on purpose.
 * erf uses the all-positive-term series erf(x) = 2/√π·e^(−x²)·Σ 2ⁿx^(2n+1)/(2n+1)!! below
 * |x| = 3 (no cancellation), and the Laplace continued fraction for erfc above it.
 */

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const SERIES_LIMIT = 3;

/** erf(x) from the positive-term series; accurate for |x| ≲ 4 (used below SERIES_LIMIT). */
export function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 0; n < 500; n++) {
    term *= (2 * x2) / (2 * n + 3);
    sum += term;
    if (Math.abs(term) <= 1e-17 * Math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/** erfc(x) for x > 0 from the continued fraction x + (1/2)/(x + 1/(x + (3/2)/(x + …))), Lentz's method. */
export function erfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 5000; n++) {
    const a = n / 2;
    d = x + a * d;
    if (Math.abs(d) < tiny) d = tiny;
    d = 1 / d;
    c = x + a / c;
    if (Math.abs(c) < tiny) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < SERIES_LIMIT) return erfSeries(x);
  const r = 1 - erfcContinuedFraction(ax);
  return x < 0 ? -r : r;
}

/** erfc without the cancellation of 1 − erf for large positive x. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= SERIES_LIMIT) return erfcContinuedFraction(x);
  if (x <= -SERIES_LIMIT) return 2 - erfcContinuedFraction(-x);
  return 1 - erfSeries(x);
}

/** Standard normal CDF Φ(x) = erfc(−x/√2)/2, precise in both tails' relative sense for x < 0. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** Exact gelu (keras approximate=False): x·Φ(x). */
export function gelu(x: number): number {
  return x * normalCdf(x);
}

/** d/dx gelu = Φ(x) + x·φ(x). */
export function geluDerivative(x: number): number {
  return normalCdf(x) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
}

export function erfDerivative(x: number): number {
  return TWO_OVER_SQRT_PI * Math.exp(-x * x);
}
