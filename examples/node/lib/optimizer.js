'use strict';
// The optimizer of a case (spec 3.1, 3.2, Annex A.1) and the checkpoint codec (spec 4.3).
const P = require('./pynum');

const DEFAULTS = {
  SGD: { momentum: 0n, dampening: 0n, weight_decay: 0n, nesterov: false },
  Adam: { betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0n, amsgrad: false },
  Adagrad: { lr_decay: 0n, weight_decay: 0n, initial_accumulator_value: 0n, eps: 1e-10 },
  AdamW: { betas: [0.9, 0.999], eps: 1e-8, weight_decay: 1e-2, amsgrad: false },
  Rprop: { etas: [0.5, 1.2], step_sizes: [1e-6, 50n] },
};

class Optimizer {
  constructor(caseObj) {
    let spec = caseObj.optimizer === undefined ? { name: 'SGD' } : caseObj.optimizer;
    if (typeof spec === 'string') spec = { name: spec };
    this.name = spec.name;
    const tensor = caseObj.tensor_lr === true;
    const optKw = { ...DEFAULTS[this.name] };
    for (const [k, v] of Object.entries(spec)) if (k !== 'name') optKw[k] = v;
    optKw.lr = caseObj.groups[0].lr; // the optimizer's default lr: the first group's
    this.defaults = optKw;
    this.param_groups = caseObj.groups.map((entry) => {
      const g = {};
      for (const [k, v] of Object.entries(optKw)) g[k] = clone(v);
      for (const [k, v] of Object.entries(entry)) g[k] = clone(v);
      if (tensor) {
        g.lr = P.tensorOf(g.lr);
        if ('initial_lr' in entry) g.initial_lr = P.tensorOf(entry.initial_lr);
      }
      return g;
    });
    this.stepped = false;
    // Whether optimizer.step is still the one the last scheduler construction saw (A.2's override check):
    // a scheduler's construction marks it, a wrapper installed after it (4.5 wrap-optimizer-step) drops the
    // mark unless it copies the wrapped function's attributes (keep_attributes, functools.wraps).
    this.stepMarked = false;
  }
  step() { this.stepped = true; } // a wrapper calls the original: the same flag
  wrapStep(keepAttributes) { if (!keepAttributes) this.stepMarked = false; }
  // torch's add_param_group: the options, then the optimizer's defaults for the keys they lack (spec 4.5)
  add_param_group(options) {
    const g = {};
    for (const [k, v] of Object.entries(options)) g[k] = clone(v);
    for (const [k, v] of Object.entries(this.defaults)) if (!(k in g)) g[k] = clone(v);
    this.param_groups.push(g);
  }
  state_dict() { return { state: {}, param_groups: this.param_groups.map((g) => ({ ...g })) }; }
  load_state_dict(sd) {
    this.param_groups.forEach((g, i) => {
      for (const k of Object.keys(g)) delete g[k];
      Object.assign(g, sd.param_groups[i]);
    });
  }
  // spec 3.2
  momentumOf(i) {
    const g = this.param_groups[i];
    if ('betas' in g) return g.betas[0];
    return g.momentum;
  }
}

function clone(v) { return Array.isArray(v) ? v.map(clone) : v; }

// Checkpoint codec: a typed JSON text, so ints stay ints, tensors stay tensors and
// non-finite floats survive (spec 4.3: "if that form cannot carry non-finite numbers it MUST encode them").
function enc(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return { $i: v.toString() };
  if (typeof v === 'number') return Number.isFinite(v) ? (Object.is(v, -0) ? { $f: '-0' } : v) : { $f: String(v) };
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (v instanceof P.Tensor) return { $t: enc(v.v), dtype: v.dtype };
  if (Array.isArray(v)) return v.map(enc);
  if (typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = enc(x);
    return { $o: o };
  }
  throw new P.PyError('TypeError', `cannot pickle '${typeof v}' object`);
}
function dec(v) {
  if (v === null) return null;
  if (Array.isArray(v)) return v.map(dec);
  if (typeof v === 'object') {
    if ('$i' in v) return BigInt(v.$i);
    if ('$f' in v) return v.$f === '-0' ? -0 : Number(v.$f);
    if ('$t' in v) return new P.Tensor(dec(v.$t), v.dtype);
    const o = {};
    for (const [k, x] of Object.entries(v.$o)) o[k] = dec(x);
    return o;
  }
  return v;
}
const serialize = (obj) => Buffer.from(JSON.stringify(enc(obj)), 'utf8');
const deserialize = (buf) => dec(JSON.parse(buf.toString('utf8')));

module.exports = { Optimizer, serialize, deserialize };
