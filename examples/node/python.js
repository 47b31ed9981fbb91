'use strict';
// Python semantics on doubles (docs/spec.md section 1): the goldens come from Python, so division by zero
// raises, `%` takes the divisor's sign, `//` floors, and min/max keep the first argument on ties and NaN.

class PythonError extends Error {
  // `type` is the Python class name the trace event carries (docs/spec.md 5.3).
  constructor(type, message) {
    super(message);
    this.type = type;
  }
}

function zeroDivision(message) {
  return new PythonError('ZeroDivisionError', message);
}

function div(a, b) {
  if (b === 0) throw zeroDivision('float division by zero');
  return a / b;
}

function mod(a, b) {
  // CPython's float_rem: fmod, then moved to the divisor's sign.
  if (b === 0) throw zeroDivision(Number.isInteger(a) && Number.isInteger(b) ? 'integer modulo by zero' : 'float modulo');
  let r = a % b;
  if (r !== 0) {
    if ((b < 0) !== (r < 0)) r += b;
  } else {
    r = b < 0 ? -0 : 0;
  }
  return r;
}

function floordiv(a, b) {
  // CPython's float_divmod (exact for the integers a case holds).
  if (b === 0) throw zeroDivision(Number.isInteger(a) && Number.isInteger(b) ? 'integer division or modulo by zero' : 'float floor division by zero');
  let m = a % b;
  let d = (a - m) / b;
  if (m !== 0 && (b < 0) !== (m < 0)) d -= 1;
  if (d === 0) return 0 * (a / b) < 0 ? -0 : 0;
  let f = Math.floor(d);
  if (d - f > 0.5) f += 1;
  return f;
}

function pow(a, b) {
  return Math.pow(a, b);
}

function max(a, b) {
  return b > a ? b : a;
}

function min(a, b) {
  return b < a ? b : a;
}

module.exports = { PythonError, div, mod, floordiv, pow, max, min };
