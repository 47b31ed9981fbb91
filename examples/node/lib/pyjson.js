'use strict';
// Strict JSON reader that keeps Python's int/float distinction (spec 2.3 "Numbers"):
// an integer token (no fraction, no exponent) becomes a BigInt (= Python int),
// any other number a JS number (= Python float). Non-finite numbers arrive as the
// strings "nan", "inf", "-inf" and are turned into numbers except under text keys.

const TEXT_KEYS = new Set(['id', 'why', 'scheduler', 'protocol', 'torch', 'tags',
  'expect_error', 'expect_warning', 'name', 'fn']);

function parse(text) {
  let i = 0;
  const n = text.length;
  function ws() { while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++; }
  function fail(msg) { throw new SyntaxError(`${msg} at offset ${i}`); }
  function value() {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; const obj = {}; ws();
      if (text[i] === '}') { i++; return obj; }
      for (;;) {
        ws(); if (text[i] !== '"') fail('expected key');
        const k = string(); ws(); if (text[i] !== ':') fail('expected :'); i++;
        obj[k] = value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return obj; }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      i++; const arr = []; ws();
      if (text[i] === ']') { i++; return arr; }
      for (;;) {
        arr.push(value()); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return arr; }
        fail('expected , or ]');
      }
    }
    if (c === '"') return string();
    if (text.startsWith('true', i)) { i += 4; return true; }
    if (text.startsWith('false', i)) { i += 5; return false; }
    if (text.startsWith('null', i)) { i += 4; return null; }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m) fail('unexpected token');
    i += m[0].length;
    if (m[2] === undefined && m[3] === undefined) return BigInt(m[0]);
    return Number(m[0]); // JS Number() parsing is correctly rounded
  }
  function string() {
    // reuse JSON.parse for the escapes of one string token
    const start = i; i++;
    while (i < n && text[i] !== '"') { if (text[i] === '\\') i++; i++; }
    if (i >= n) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i));
  }
  const v = value(); ws();
  if (i !== n) fail('trailing data');
  return v;
}

// "nan"/"inf"/"-inf" -> numbers, except under text keys (spec 2.3)
function decodeNonFinite(v, underText = false) {
  if (typeof v === 'string') {
    if (underText) return v;
    if (v === 'nan') return NaN;
    if (v === 'inf') return Infinity;
    if (v === '-inf') return -Infinity;
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => decodeNonFinite(x, underText));
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = decodeNonFinite(x, TEXT_KEYS.has(k));
    return o;
  }
  return v;
}

// Writer: BigInt as an integer, non-finite floats as strings, finite floats shortest
// (JSON.stringify's number formatting is the shortest round-trip text); a float with
// an integral value is written with ".0" so it stays a float for a reader that cares.
function stringify(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return '"nan"';
    if (v === Infinity) return '"inf"';
    if (v === -Infinity) return '"-inf"';
    let s = JSON.stringify(v);
    if (Object.is(v, -0)) s = '-0.0';
    else if (/^-?[0-9]+$/.test(s)) s += '.0';
    return s;
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(stringify).join(',') + ']';
  if (typeof v === 'object') {
    return '{' + Object.entries(v).filter(([, x]) => x !== undefined)
      .map(([k, x]) => JSON.stringify(k) + ':' + stringify(x)).join(',') + '}';
  }
  throw new TypeError('cannot serialize ' + typeof v);
}

module.exports = { parse, decodeNonFinite, stringify, TEXT_KEYS };
