'use strict';
// Warning collection for phase calls (spec 4.1, 5.3).
const { PyError } = require('./pynum');

let sink = null;
function warn(type, message) { if (sink) sink.push([type, message]); }

// Run fn as one phase call; returns {ok, value, warnings, error}
function phaseCall(fn) {
  const prev = sink;
  const w = [];
  sink = w;
  try {
    const value = fn();
    return { ok: true, value, warnings: w };
  } catch (e) {
    if (e instanceof PyError) return { ok: false, warnings: w, error: e };
    throw e; // an implementation bug: never an error event (spec 8.2)
  } finally {
    sink = prev;
  }
}

// spec 5.3 message normalization. Python's str.split() whitespace set.
const WS = /[\t\n\u000b\u000c\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/gu;
function normalize(msg) {
  let s = String(msg).replace(WS, ' ').trim();
  const cps = Array.from(s);
  if (cps.length > 160) s = cps.slice(0, 157).join('') + '...';
  return s;
}

module.exports = { warn, phaseCall, normalize };
