'use strict';
// Python number semantics over JS values (spec 1 "Python semantics", 2.3 "Numbers"):
//   BigInt  = Python int       number = Python float      boolean = Python bool (an int)
//   Tensor  = a 0-dim torch tensor (spec 3.3, tensor_lr): float32, or int64 where the case's number is an integer
// Every helper raises PyError with the class name and message CPython would use.

class PyError extends Error {
  constructor(type, message) { super(message); this.pyType = type; this.pyMessage = message; }
}

class Tensor {
  // An int64 tensor holds an integer: a value written into it is truncated toward zero (spec 3.3).
  constructor(v, dtype = 'float32') {
    this.dtype = dtype;
    this.v = dtype === 'int64' ? Math.trunc(toFloat(v)) : Math.fround(toFloat(v));
  }
  clone() { return new Tensor(this.v, this.dtype); }
  // fill_(value): the tensor keeps its dtype
  filled(value) { return new Tensor(value, this.dtype); }
}
// torch.tensor(number): an integer makes an int64 tensor, a float a float32 one (spec 3.3)
function tensorOf(number) { return new Tensor(number, isInt(number) ? 'int64' : 'float32'); }

const f32 = Math.fround;
const isInt = (a) => typeof a === 'bigint' || typeof a === 'boolean';
const isTensor = (a) => a instanceof Tensor;
const isNum = (a) => typeof a === 'number' || isInt(a) || isTensor(a);

function toBig(a) { return typeof a === 'boolean' ? (a ? 1n : 0n) : a; }
function toFloat(a) {
  if (typeof a === 'number') return a;
  if (typeof a === 'bigint') return Number(a);
  if (typeof a === 'boolean') return a ? 1 : 0;
  if (a instanceof Tensor) return a.v;
  throw new PyError('TypeError', `float() argument must be a string or a real number, not '${typeName(a)}'`);
}

function typeName(a) {
  if (a === null || a === undefined) return 'NoneType';
  if (typeof a === 'bigint') return 'int';
  if (typeof a === 'boolean') return 'bool';
  if (typeof a === 'number') return 'float';
  if (typeof a === 'string') return 'str';
  if (Array.isArray(a)) return 'list';
  if (a instanceof Tensor) return 'Tensor';
  return 'dict';
}

function checkNum(op, a, b) {
  if (!isNum(a) || !isNum(b)) {
    throw new PyError('TypeError', `unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);
  }
}

// A tensor operand makes the operation float32 (an int64 tensor's integer too: spec 3.3 says only float32
// results; an int64 tensor with an integer operand stays int64 in torch, which no case reaches, spec A.19):
// the other operand is rounded to float32,
// the exact double result of two float32 values is rounded to float32 (correct rounding
// for + - * / since 53 >= 2*24+2).
function t32(fn, a, b) { return new Tensor(f32(fn(f32(toFloat(a)), f32(toFloat(b))))); }

function add(a, b) {
  checkNum('+', a, b);
  if (isTensor(a) || isTensor(b)) return t32((x, y) => x + y, a, b);
  if (isInt(a) && isInt(b)) return toBig(a) + toBig(b);
  return toFloat(a) + toFloat(b);
}
function sub(a, b) {
  checkNum('-', a, b);
  if (isTensor(a) || isTensor(b)) return t32((x, y) => x - y, a, b);
  if (isInt(a) && isInt(b)) return toBig(a) - toBig(b);
  return toFloat(a) - toFloat(b);
}
function mul(a, b) {
  checkNum('*', a, b);
  if (isTensor(a) || isTensor(b)) return t32((x, y) => x * y, a, b);
  if (isInt(a) && isInt(b)) return toBig(a) * toBig(b);
  return toFloat(a) * toFloat(b);
}
function neg(a) {
  if (isTensor(a)) return new Tensor(-a.v);
  if (isInt(a)) return -toBig(a);
  return -a;
}
function truediv(a, b) {
  checkNum('/', a, b);
  if (isTensor(a) || isTensor(b)) return t32((x, y) => x / y, a, b);
  if (isInt(a) && isInt(b)) {
    if (toBig(b) === 0n) throw new PyError('ZeroDivisionError', 'division by zero');
    return intTrueDiv(toBig(a), toBig(b));
  }
  const y = toFloat(b);
  if (y === 0) throw new PyError('ZeroDivisionError', 'float division by zero');
  return toFloat(a) / y;
}
function intTrueDiv(a, b) {
  // exact when both fit in 2^53 (always the case here); CPython rounds the exact quotient
  if (abs53(a) && abs53(b)) return Number(a) / Number(b);
  return Number(a) / Number(b);
}
function abs53(a) { return a <= 9007199254740992n && a >= -9007199254740992n; }

function floordiv(a, b) {
  checkNum('//', a, b);
  if (isTensor(a) || isTensor(b)) return t32((x, y) => Math.floor(x / y), a, b);
  if (isInt(a) && isInt(b)) {
    const x = toBig(a), y = toBig(b);
    if (y === 0n) throw new PyError('ZeroDivisionError', 'integer division or modulo by zero');
    let q = x / y; if ((x % y !== 0n) && ((x < 0n) !== (y < 0n))) q -= 1n;
    return q;
  }
  const vx = toFloat(a), wx = toFloat(b);
  if (wx === 0) throw new PyError('ZeroDivisionError', 'float floor division by zero');
  return floatDivmod(vx, wx)[0];
}
function mod(a, b) {
  checkNum('%', a, b);
  if (isTensor(a) || isTensor(b)) return t32((x, y) => x - Math.floor(x / y) * y, a, b);
  if (isInt(a) && isInt(b)) {
    const x = toBig(a), y = toBig(b);
    if (y === 0n) throw new PyError('ZeroDivisionError', 'integer modulo by zero');
    let r = x % y; if (r !== 0n && ((r < 0n) !== (y < 0n))) r += y;
    return r;
  }
  const vx = toFloat(a), wx = toFloat(b);
  if (wx === 0) throw new PyError('ZeroDivisionError', 'float modulo');
  return floatDivmod(vx, wx)[1];
}
// CPython's float_divmod
function floatDivmod(vx, wx) {
  let m = vx % wx; // fmod, exact
  let div = (vx - m) / wx;
  if (m) {
    if ((wx < 0) !== (m < 0)) { m += wx; div -= 1.0; }
  } else {
    m = wx < 0 ? -0.0 : 0.0;
  }
  let fd;
  if (div) { fd = Math.floor(div); if (div - fd > 0.5) fd += 1.0; } else { fd = (vx / wx) < 0 ? -0.0 : 0.0; }
  return [fd, m];
}

// C pow / cos / log: correctly rounded (crmath.js) unless NODE_EXAMPLE_MATH=v8 (V8's are not glibc's: docs/spec.md Annex B)
const CR = require('./crmath');
let powImpl = process.env.NODE_EXAMPLE_MATH === 'v8' ? Math.pow : CR.pow;
let cosImpl = process.env.NODE_EXAMPLE_MATH === 'v8' ? Math.cos : CR.cos;
function setMath(p, c) { if (p) powImpl = p; if (c) cosImpl = c; }

function pow(a, b) {
  checkNum('**', a, b);
  if (isTensor(a) || isTensor(b)) return t32((x, y) => powImpl(x, y), a, b);
  if (isInt(a) && isInt(b) && toBig(b) >= 0n) return toBig(a) ** toBig(b);
  const x = toFloat(a), y = toFloat(b);
  if (x === 0 && y < 0) throw new PyError('ZeroDivisionError', '0.0 cannot be raised to a negative power');
  if (x < 0 && Number.isFinite(x) && !Number.isInteger(y) && Number.isFinite(y)) {
    throw new PyError('NotImplementedError', 'complex result of a negative float to a fractional power');
  }
  if (x === 1 || y === 0) return 1.0;
  return powImpl(x, y);
}
let logImpl = process.env.NODE_EXAMPLE_MATH === 'v8' ? Math.log : CR.log;
function cos(a) { return cosImpl(toFloat(a)); }
// math.log(x[, base]): log(x) / log(base), each through the C log
function log(a, base) {
  const f = (v) => {
    const x = toFloat(v);
    if (!(x > 0)) { if (Number.isNaN(x)) return NaN; throw new PyError('ValueError', 'math domain error'); }
    return logImpl(x);
  };
  if (base === undefined) return f(a);
  const num = f(a), den = f(base);
  if (den === 0) throw new PyError('ZeroDivisionError', 'float division by zero');
  return num / den;
}
// Python's math.floor / int(): to an int
function floorInt(a) {
  if (isInt(a)) return toBig(a);
  const x = toFloat(a);
  if (!Number.isFinite(x)) throw new PyError(Number.isNaN(x) ? 'ValueError' : 'OverflowError', Number.isNaN(x) ? 'cannot convert float NaN to integer' : 'cannot convert float infinity to integer');
  return BigInt(Math.floor(x));
}
function truncInt(a) {
  if (isInt(a)) return toBig(a);
  const x = toFloat(a);
  if (!Number.isFinite(x)) throw new PyError(Number.isNaN(x) ? 'ValueError' : 'OverflowError', Number.isNaN(x) ? 'cannot convert float NaN to integer' : 'cannot convert float infinity to integer');
  return BigInt(Math.trunc(x));
}

// comparisons: JS compares BigInt and Number exactly, as Python compares int and float
function cmpVal(a) { return isTensor(a) ? a.v : (typeof a === 'boolean' ? (a ? 1n : 0n) : a); }
function lt(a, b) { checkNum('<', a, b); return cmpVal(a) < cmpVal(b); }
function le(a, b) { checkNum('<=', a, b); return cmpVal(a) <= cmpVal(b); }
function gt(a, b) { checkNum('>', a, b); return cmpVal(a) > cmpVal(b); }
function ge(a, b) { checkNum('>=', a, b); return cmpVal(a) >= cmpVal(b); }
// eslint-disable-next-line eqeqeq
function eq(a, b) { if (!isNum(a) || !isNum(b)) return a === b; return cmpVal(a) == cmpVal(b); }
function ne(a, b) { return !eq(a, b); }
// Python's min/max of two: the first unless the second is strictly smaller/greater
function min(a, b) { return lt(b, a) ? b : a; }
function max(a, b) { return gt(b, a) ? b : a; }
function truthy(a) { return isTensor(a) ? a.v !== 0 : (isInt(a) ? toBig(a) !== 0n : Boolean(a)); }
function isIntegral(a) { return isInt(a) || (typeof a === 'number' && Number.isInteger(a)); }

// Python repr of a float / int (for messages)
function repr(a) {
  if (typeof a === 'bigint') return a.toString();
  if (typeof a === 'boolean') return a ? 'True' : 'False';
  if (a === null || a === undefined) return 'None';
  if (typeof a === 'string') return pyStrRepr(a);
  if (a instanceof Tensor) return `tensor(${floatRepr(a.v)})`;
  if (Array.isArray(a)) return '[' + a.map(repr).join(', ') + ']';
  if (typeof a === 'number') return floatRepr(a);
  return String(a);
}
function floatRepr(x) {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const s = Math.abs(x).toExponential(); // shortest round-trip digits
  const [mant, expS] = s.split('e');
  const digits = mant.replace('.', '');
  const e = parseInt(expS, 10);
  const sign = x < 0 ? '-' : '';
  if (e >= -4 && e < 16) {
    let out;
    if (e >= 0) {
      if (digits.length <= e + 1) out = digits + '0'.repeat(e + 1 - digits.length) + '.0';
      else out = digits.slice(0, e + 1) + '.' + digits.slice(e + 1);
    } else {
      out = '0.' + '0'.repeat(-e - 1) + digits;
    }
    return sign + out;
  }
  const m = digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits;
  const es = (e < 0 ? '-' : '+') + String(Math.abs(e)).padStart(2, '0');
  return sign + m + 'e' + es;
}
function pyStrRepr(s) {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    if (ch === '\\') out += '\\\\';
    else if (ch === q) out += '\\' + q;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else out += ch;
  }
  return out + q;
}
function str(a) { return typeof a === 'string' ? a : repr(a); }

module.exports = {
  PyError, Tensor, tensorOf, isInt, isTensor, isNum, toFloat, toBig, typeName,
  add, sub, mul, neg, truediv, floordiv, mod, pow, cos, log, floorInt, truncInt, setMath,
  lt, le, gt, ge, eq, ne, min, max, truthy, isIntegral, repr, floatRepr, str, pyStrRepr, f32,
};
