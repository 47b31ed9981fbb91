'use strict';
// The callable vocabulary (spec 2.6). Each expression in Python semantics, same order of operations.
const P = require('./pynum');

const FNS = {
  constant: { params: ['value'], defaults: {}, f: (x, p) => p.value },
  linear_warmup: { params: ['warmup'], defaults: {}, f: (x, p) => P.min(1.0, P.truediv(P.add(x, 1n), p.warmup)) },
  constant_then_linear_decay: {
    params: ['n_epochs', 'n_epochs_decay', 'epoch_count'], defaults: { epoch_count: 1n },
    f: (x, p) => P.sub(1.0, P.truediv(P.max(0n, P.sub(P.add(x, p.epoch_count), p.n_epochs)),
      P.toFloat(P.add(p.n_epochs_decay, 1n)))),
  },
  exponential: { params: ['gamma'], defaults: {}, f: (x, p) => P.pow(p.gamma, x) },
  step_decay: { params: ['step_size', 'gamma'], defaults: {}, f: (x, p) => P.pow(p.gamma, P.floordiv(x, p.step_size)) },
  inverse_sqrt: {
    params: ['warmup'], defaults: {},
    f: (x, p) => P.min(P.pow(P.add(x, 1n), -0.5), P.mul(P.add(x, 1n), P.pow(p.warmup, -1.5))),
  },
  floor_div: { params: ['divisor'], defaults: {}, f: (x, p) => P.floordiv(x, p.divisor) },
  halving: { params: [], defaults: {}, f: (x) => P.truediv(1n, P.pow(2.0, P.sub(x, 1n))) },
  power: { params: ['gamma'], defaults: {}, f: (x, p) => P.pow(p.gamma, x) },
  call_count_decay: { params: ['gamma'], defaults: {}, stateful: true, f: null },
  // Not a function: the bare value a user passed where a callable belongs; calling it is Python's TypeError.
  not_callable: { params: ['value'], defaults: {}, notCallable: true, f: null },
};

// A callable built from a spec. Plain functions have no saved state; a
// call_count_decay is an "object" whose attribute dict ({gamma, n}) is saved/restored.
class Callable {
  constructor(spec) {
    const def = FNS[spec.fn];
    if (!def) throw new Error(`unknown vocabulary function ${spec.fn}`);
    this.fn = spec.fn;
    this.stateful = Boolean(def.stateful);
    this.notCallable = Boolean(def.notCallable);
    this.p = { ...def.defaults };
    for (const [k, v] of Object.entries(spec)) if (k !== 'fn') this.p[k] = v;
    if (this.stateful) this.dict = { gamma: this.p.gamma, n: 0n };
    this.def = def;
  }
  call(x) {
    if (this.notCallable) throw new P.PyError('TypeError', `'${P.typeName(this.p.value)}' object is not callable`);
    if (this.fn === 'call_count_decay') {
      const r = P.pow(this.dict.gamma, this.dict.n);
      this.dict.n = P.add(this.dict.n, 1n);
      return r;
    }
    return this.def.f(x, this.p);
  }
}

function build(spec) {
  if (Array.isArray(spec)) return spec.map((s) => new Callable(s));
  return new Callable(spec);
}

module.exports = { build, Callable };
