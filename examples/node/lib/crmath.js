'use strict';
// Correctly rounded cos and pow for doubles, computed in BigInt fixed point.
// Why: V8's Math.cos / Math.pow (fdlibm-derived) differ from glibc's (which CPython
// calls) in the last bit for ~3% / ~8% of the arguments schedules use (measured by
// measure/libm_compare.js; docs/spec.md Annex B). glibc's cos and pow are not correctly rounded either, but they agree
// with the correctly rounded value far more often (measured: ~99.9%).

const PREC = 256n; // fixed-point fraction bits
const ONE = 1n << PREC;

function bitLength(v) { return v === 0n ? 0 : v.toString(2).length; }

// exact decomposition of a finite non-zero double: x = m * 2^e, m an odd BigInt (signed)
const F64 = new Float64Array(1);
const U64 = new BigUint64Array(F64.buffer);
function decompose(x) {
  F64[0] = x;
  const bits = U64[0];
  const sign = bits >> 63n ? -1n : 1n;
  const bexp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e;
  if (bexp === 0) { e = -1074; } else { mant |= 1n << 52n; e = bexp - 1075; }
  if (mant === 0n) return { m: 0n, e: 0 };
  while ((mant & 1n) === 0n) { mant >>= 1n; e += 1; }
  return { m: sign * mant, e };
}

// value num / 2^sh  (num BigInt >= 0, sh integer, may be negative) -> nearest double, ties to even
function roundScaled(num, sh, sticky = false) {
  if (num === 0n) return 0;
  const bl = bitLength(num);
  // binary exponent of the leading bit: bl - 1 - sh
  let exp = bl - 1 - sh;
  let keep = 53;
  if (exp < -1022) keep = 53 - (-1022 - exp); // subnormal: fewer bits
  if (keep < 0) return 0;
  const shift = bl - keep;
  let q;
  if (shift > 0) {
    q = num >> BigInt(shift);
    const rem = num & ((1n << BigInt(shift)) - 1n);
    const half = 1n << BigInt(shift - 1);
    if (rem > half || (rem === half && (sticky || (q & 1n) === 1n))) q += 1n;
  } else {
    q = num << BigInt(-shift);
  }
  // value = q * 2^(shift - sh)
  return ldexp(Number(q), shift - sh);
}
function ldexp(v, k) {
  while (k > 1000) { v *= 2 ** 1000; k -= 1000; }
  while (k < -1000) { v *= 2 ** -1000; k += 1000; }
  return v * 2 ** k;
}
function fixedToDouble(v) { // v / 2^PREC
  if (v < 0n) return -roundScaled(-v, Number(PREC));
  return roundScaled(v, Number(PREC));
}
// double -> fixed point (exact when representable at PREC bits, truncated otherwise)
function toFixed(x) {
  const { m, e } = decompose(x);
  const s = BigInt(e) + PREC;
  return s >= 0n ? m << s : m / (1n << -s);
}
function floorDiv(a, b) { const q = a / b; return (a % b !== 0n && ((a < 0n) !== (b < 0n))) ? q - 1n : q; }
const fmul = (a, b) => (a * b) >> PREC;
const fdiv = (a, b) => (a << PREC) / b;

// ---- constants ----------------------------------------------------------------------------
function atanInv(n) { // atan(1/n) in fixed point (extra guard bits)
  const G = PREC + 16n;
  let term = (1n << G) / BigInt(n);
  let sum = term; const n2 = BigInt(n * n);
  for (let k = 1n; term !== 0n; k++) {
    term /= n2;
    const t = term / (2n * k + 1n);
    sum += (k & 1n) ? -t : t;
  }
  return sum >> 16n;
}
const PI_F = 16n * atanInv(5) - 4n * atanInv(239);
const HALF_PI_F = PI_F / 2n;
function lnSeries(t) { // 2*atanh(t), |t| small, fixed point
  const t2 = fmul(t, t);
  let term = t; let sum = t;
  for (let k = 3n; ; k += 2n) {
    term = fmul(term, t2);
    const d = term / k;
    if (d === 0n) break;
    sum += d;
  }
  return 2n * sum;
}
const LN2_F = lnSeries(fdiv(ONE, 3n * ONE)); // ln 2 = 2 atanh(1/3)

// ---- cos ------------------------------------------------------------------------------------
function sinCosFixed(r) { // |r| <= pi/4 fixed point -> [sin, cos]
  const r2 = fmul(r, r);
  let c = ONE; let term = ONE;
  for (let k = 1n; ; k++) {
    term = fmul(term, r2) / ((2n * k - 1n) * (2n * k));
    if (term === 0n) break;
    c += (k & 1n) ? -term : term;
  }
  let s = r; term = r;
  for (let k = 1n; ; k++) {
    term = fmul(term, r2) / ((2n * k) * (2n * k + 1n));
    if (term === 0n) break;
    s += (k & 1n) ? -term : term;
  }
  return [s, c];
}
const cosCache = new Map();
function cos(x) {
  if (!Number.isFinite(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 2 ** -27) return 1.0;
  if (ax > 2 ** 40) return Math.cos(x); // not needed by schedules; avoid huge reductions
  const hit = cosCache.get(x);
  if (hit !== undefined) return hit;
  const X = toFixed(ax);
  // k = round(X / (pi/2))
  let k = floorDiv(2n * X + HALF_PI_F, 2n * HALF_PI_F);
  const r = X - k * HALF_PI_F;
  const [s, c] = sinCosFixed(r);
  k &= 3n;
  const v = k === 0n ? c : k === 1n ? -s : k === 2n ? -c : s;
  const out = fixedToDouble(v);
  cosCache.set(x, out);
  return out;
}

// ---- pow ------------------------------------------------------------------------------------
function lnFixed(x) { // x > 0 finite double
  const { m, e } = decompose(x);
  // x = m * 2^e, m odd; normalise to f in [0.75, 1.5) * 2^k
  let k = e + bitLength(m) - 1; // x = f * 2^k with f in [1, 2)
  let f = (m << (PREC)) >> BigInt(bitLength(m) - 1); // f in fixed point, [1,2)
  if (f >= (3n * ONE) / 2n) { f /= 2n; k += 1; }
  const t = fdiv(f - ONE, f + ONE);
  return lnSeries(t) + BigInt(k) * LN2_F;
}
function expToDouble(z) { // exp(z / 2^PREC) rounded to a double
  // k = round(z / ln2)
  const k = floorDiv(2n * z + LN2_F, 2n * LN2_F);
  const r = z - k * LN2_F;
  let sum = ONE; let term = ONE;
  for (let n = 1n; ; n++) {
    term = fmul(term, r) / n;
    if (term === 0n) break;
    sum += term;
  }
  const kk = Number(k);
  if (kk > 1100) return Infinity;
  if (kk < -1200) return 0;
  return roundScaled(sum, Number(PREC) - kk);
}
function powExactInt(x, n) { // x finite non-zero, n integer with small exact cost; null if too big
  const { m, e } = decompose(x);
  const am = m < 0n ? -m : m;
  const an = Math.abs(n);
  if (bitLength(am) * an > 40000) return null;
  const sign = (m < 0n && (an % 2 === 1)) ? -1 : 1;
  const num = am ** BigInt(an); // x^|n| = num * 2^(e*|n|)
  const ex = e * an;
  if (n >= 0) return sign * roundScaled(num, -ex);
  // x^n = 2^(-ex) / num : scale so the quotient has >= 64 bits
  const K = bitLength(num) + 64;
  const q = (1n << BigInt(K)) / num;
  const rem = (1n << BigInt(K)) % num;
  // value = q * 2^(-ex - K), sticky if rem != 0 (q has >= 64 bits, so the sticky bit only breaks ties)
  return sign * roundScaled(rem === 0n ? q : (q << 1n) | 1n, rem === 0n ? K + ex : K + ex + 1);
}
const powCache = new Map();
function pow(x, y) {
  // special cases follow C99 pow (Annex F)
  if (y === 0) return 1;
  if (x === 1) return 1;
  if (Number.isNaN(x) || Number.isNaN(y)) return NaN;
  if (!Number.isFinite(x) || !Number.isFinite(y) || x === 0) return Math.pow(x, y);
  const key = x + ',' + y;
  const hit = powCache.get(key);
  if (hit !== undefined) return hit;
  let out;
  if (Number.isInteger(y) && Math.abs(y) <= 1e6) out = powExactInt(x, y);
  if (out === undefined || out === null) {
    if (x < 0) {
      if (!Number.isInteger(y)) return NaN;
      const odd = Math.abs(y) % 2 === 1;
      const v = expToDouble(fmul(lnFixed(-x), toFixed(y)));
      out = odd ? -v : v;
    } else {
      const L = lnFixed(x);
      // z = y * ln(x): y exact as m*2^e
      const { m, e } = decompose(y);
      const z = e >= 0 ? (L * m) << BigInt(e) : (L * m) >> BigInt(-e);
      out = expToDouble(z);
    }
  }
  powCache.set(key, out);
  return out;
}

module.exports = { cos, pow, decompose, roundScaled };

// correctly rounded natural log (x > 0 finite)
const logCache = new Map();
function log(x) {
  if (Number.isNaN(x) || x < 0) return NaN;
  if (x === 0) return -Infinity;
  if (x === Infinity) return Infinity;
  if (x === 1) return 0;
  const hit = logCache.get(x);
  if (hit !== undefined) return hit;
  const out = fixedToDouble(lnFixed(x));
  logCache.set(x, out);
  return out;
}
module.exports.log = log;
