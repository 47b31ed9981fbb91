'use strict';
// Schedulers (spec 2.4, Annex A). Values are Python-typed (see pynum.js).
const P = require('./pynum');
const { warn } = require('./events');
const { Callable } = require('./vocabulary');

const PI = Math.PI;
const OVERRIDE_WARNING = 'Seems like `optimizer.step()` has been overridden after learning rate scheduler '
  + 'initialization. Please, make sure to call `optimizer.step()` before `lr_scheduler.step()`. See more details at '
  + 'https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate';
const GET_LR_WARNING = 'To get the last learning rate computed by the scheduler, please use `get_last_lr()`.';
const ORDER_WARNING = 'Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch 1.1.0 and later, '
  + 'you should call them in the opposite order: `optimizer.step()` before `lr_scheduler.step()`. Failure to do this '
  + 'will result in PyTorch skipping the first value of the learning rate schedule. See more details at '
  + 'https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate';
const EPOCH_WARNING = 'The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where '
  + 'possible. Please use `scheduler.step()` to step the scheduler. During the deprecation, if epoch is different '
  + 'from None, the closed form is used instead of the new chainable form, where available. Please open an issue '
  + 'if you are unable to replicate your use case: https://github.com/pytorch/pytorch/issues/new/choose.';
// The KeyError's str() is the repr of its message; only its first 157 characters are known from the goldens.
function initialLrKeyError(i) {
  return new P.PyError('KeyError', `"param 'initial_lr' is not specified in param_groups[${i}] when resuming scheduler `
    + "with last_epoch >= 0.\\nThis typically happens when:\\n1. You're trying to resu...");
}

function kw(name, kwargs, key, dflt, required) {
  if (Object.prototype.hasOwnProperty.call(kwargs, key)) return kwargs[key];
  if (required) throw new P.PyError('TypeError', `${name}.__init__() missing 1 required positional argument: '${key}'`);
  return dflt;
}

// a tensor lr is written as a new tensor of its dtype: torch fills it in place, which is the same here because
// nothing else holds the tensor (initial_lr, base_lrs and last_lr are copies: spec 3.3)
function setLr(group, v) {
  if (P.isTensor(group.lr)) group.lr = group.lr.filled(v); // fill_: float32 rounds, int64 truncates
  else group.lr = v;
}

// Python's zip(a, b, strict=True), which the reference uses wherever it pairs two per-group lists: after a
// param group was added (spec 4.5) the scheduler's own lists are one group short (Annex C's zip() texts)
function zipStrict(a, b) {
  if (a.length !== b.length) {
    throw new P.PyError('ValueError', `zip() argument 2 is ${b.length < a.length ? 'shorter' : 'longer'} than argument 1`);
  }
  return a.map((x, i) => [x, b[i]]);
}
// A.2's write of one value per group: zip(param_groups, values, strict=True)
function writeAll(optimizer, values) {
  for (const [g, v] of zipStrict(optimizer.param_groups, values)) setLr(g, v);
}
// get_lr() where a scheduler has none (ReduceLROnPlateau, the composites): the base class's NotImplementedError
function notImplemented() { throw new P.PyError('NotImplementedError', ''); }

// ---- base (Annex A.2) -----------------------------------------------------------------
class LRScheduler {
  constructor(optimizer, lastEpoch) {
    this._optimizer = optimizer;
    const groups = optimizer.param_groups;
    if (P.eq(lastEpoch, -1n)) {
      for (const g of groups) if (!('initial_lr' in g)) g.initial_lr = P.isTensor(g.lr) ? g.lr.clone() : g.lr;
    } else {
      groups.forEach((g, i) => { if (!('initial_lr' in g)) throw initialLrKeyError(i); });
    }
    this.base_lrs = groups.map((g) => g.initial_lr);
    this.last_epoch = lastEpoch;
    optimizer.stepMarked = true; // A.2: the construction marks optimizer.step (a later wrapper may drop it)
    this._step_count = 0n;
    this._is_initial = false;
  }
  _initialStep() {
    this._is_initial = true;
    try { this.step(); } finally { this._is_initial = false; }
  }
  hasClosedForm() { return typeof this.closedForm === 'function'; }
  step(...args) {
    if (args.length > 1) {
      throw new P.PyError('TypeError', `LRScheduler.step() takes from 1 to 2 positional arguments but ${args.length + 1} were given`);
    }
    const epoch = args.length ? args[0] : null;
    if (P.eq(this._step_count, 1n)) {
      if (!this._optimizer.stepMarked) warn('UserWarning', OVERRIDE_WARNING);
      else if (!this._optimizer.stepped) warn('UserWarning', ORDER_WARNING);
    }
    this._step_count = P.add(this._step_count, 1n);
    let values;
    if (epoch === null) {
      this.last_epoch = P.add(this.last_epoch, 1n);
      values = this.getLr();
    } else {
      warn('UserWarning', EPOCH_WARNING);
      this.last_epoch = epoch;
      values = this.hasClosedForm() ? this.closedForm() : this.getLr();
    }
    writeAll(this._optimizer, values);
    this._last_lr = this.lrs();
  }
  // get_lr() called by the user (spec 4.5 call): outside step() it warns, then evaluates as step() would
  get_lr() {
    warn('UserWarning', GET_LR_WARNING);
    return this.getLr();
  }
  get_last_lr() { return this._last_lr; }
  lrs() { return this._optimizer.param_groups.map((g) => g.lr); }
  // every attribute but the optimizer (names starting with "_js" are implementation internals)
  state_dict() {
    const s = {};
    for (const [k, v] of Object.entries(this)) if (k !== '_optimizer' && !k.startsWith('_js')) s[k] = v;
    return s;
  }
  load_state_dict(s) { for (const [k, v] of Object.entries(s)) this[k] = v; }
}

class StepLR extends LRScheduler {
  constructor(opt, kwargs) {
    const stepSize = kw('StepLR', kwargs, 'step_size', null, true);
    super(opt, kw('StepLR', kwargs, 'last_epoch', -1n));
    this.step_size = stepSize;
    this.gamma = kw('StepLR', kwargs, 'gamma', 0.1);
    this._initialStep();
  }
  getLr() {
    const e = this.last_epoch;
    if (P.eq(e, 0n) || P.ne(P.mod(e, this.step_size), 0n)) return this.lrs();
    return this.lrs().map((lr) => P.mul(lr, this.gamma));
  }
  closedForm() {
    return this.base_lrs.map((b) => P.mul(b, P.pow(this.gamma, P.floordiv(this.last_epoch, this.step_size))));
  }
}

class MultiStepLR extends LRScheduler {
  constructor(opt, kwargs) {
    const milestones = kw('MultiStepLR', kwargs, 'milestones', null, true);
    super(opt, kw('MultiStepLR', kwargs, 'last_epoch', -1n));
    this.milestones = milestones.slice(); // a multiset: counted
    this.gamma = kw('MultiStepLR', kwargs, 'gamma', 0.1);
    this._initialStep();
  }
  count(e) { return BigInt(this.milestones.filter((m) => P.eq(m, e)).length); }
  getLr() {
    const c = this.count(this.last_epoch);
    if (c === 0n) return this.lrs();
    return this.lrs().map((lr) => P.mul(lr, P.pow(this.gamma, c)));
  }
  closedForm() {
    const sorted = this.milestones.slice().sort((a, b) => (P.lt(a, b) ? -1 : P.lt(b, a) ? 1 : 0));
    let k = 0n; // bisect_right
    for (const m of sorted) if (P.le(m, this.last_epoch)) k += 1n;
    return this.base_lrs.map((b) => P.mul(b, P.pow(this.gamma, k)));
  }
}

class ExponentialLR extends LRScheduler {
  constructor(opt, kwargs) {
    const gamma = kw('ExponentialLR', kwargs, 'gamma', null, true);
    super(opt, kw('ExponentialLR', kwargs, 'last_epoch', -1n));
    this.gamma = gamma;
    this._initialStep();
  }
  getLr() {
    if (this._is_initial) return this.lrs();
    return this.lrs().map((lr) => P.mul(lr, this.gamma));
  }
  closedForm() { return this.base_lrs.map((b) => P.mul(b, P.pow(this.gamma, this.last_epoch))); }
}

class CosineAnnealingLR extends LRScheduler {
  constructor(opt, kwargs) {
    const tmax = kw('CosineAnnealingLR', kwargs, 'T_max', null, true);
    super(opt, kw('CosineAnnealingLR', kwargs, 'last_epoch', -1n));
    this.T_max = tmax;
    this.eta_min = kw('CosineAnnealingLR', kwargs, 'eta_min', 0.0);
    this._initialStep();
  }
  getLr() {
    const e = this.last_epoch, T = this.T_max, eta = this.eta_min;
    if (this._is_initial) return this.lrs();
    if (P.eq(this._step_count, 1n) && P.gt(e, 0n)) {
      return this.base_lrs.map((b) => P.add(eta, P.truediv(P.mul(P.sub(b, eta),
        P.add(1n, P.cos(P.truediv(P.mul(e, PI), T)))), 2n)));
    }
    if (P.eq(P.mod(P.sub(P.sub(e, 1n), T), P.mul(2n, T)), 0n)) {
      // zip(base_lrs, param_groups, strict=True): cosineannealinglr/add-param-group-mid-run
      return zipStrict(this.base_lrs, this.lrs()).map(([b, lr]) => P.add(lr, P.truediv(P.mul(P.sub(b, eta),
        P.sub(1n, P.cos(P.truediv(PI, T)))), 2n)));
    }
    return this.lrs().map((lr) => P.add(P.mul(P.truediv(P.add(1n, P.cos(P.truediv(P.mul(PI, e), T))),
      P.add(1n, P.cos(P.truediv(P.mul(PI, P.sub(e, 1n)), T)))), P.sub(lr, eta)), eta));
  }
  closedForm() {
    const e = this.last_epoch, T = this.T_max, eta = this.eta_min;
    return this.base_lrs.map((b) => P.add(eta, P.truediv(P.mul(P.sub(b, eta),
      P.add(1n, P.cos(P.truediv(P.mul(PI, e), T)))), 2n)));
  }
}

class LinearLR extends LRScheduler {
  constructor(opt, kwargs) {
    const sf = kw('LinearLR', kwargs, 'start_factor', 1.0 / 3);
    const ef = kw('LinearLR', kwargs, 'end_factor', 1.0);
    if (P.gt(sf, 1.0) || P.le(sf, 0n)) {
      throw new P.PyError('ValueError', 'Starting multiplicative factor expected to be greater than 0 and less or equal to 1.');
    }
    if (P.gt(ef, 1.0) || P.lt(ef, 0n)) throw new P.PyError('ValueError', 'Ending multiplicative factor expected to be between 0 and 1.');
    super(opt, kw('LinearLR', kwargs, 'last_epoch', -1n));
    this.start_factor = sf;
    this.end_factor = ef;
    this.total_iters = kw('LinearLR', kwargs, 'total_iters', 5n);
    this._initialStep();
  }
  getLr() {
    const e = this.last_epoch, sf = this.start_factor, ef = this.end_factor, T = this.total_iters;
    if (P.eq(e, 0n)) return this.lrs().map((lr) => P.mul(lr, sf));
    if (this._is_initial || P.gt(e, T)) return this.lrs();
    const d = P.sub(ef, sf);
    const ratio = P.add(1.0, P.truediv(d, P.add(P.mul(T, sf), P.mul(P.sub(e, 1n), d))));
    return this.lrs().map((lr) => P.mul(lr, ratio));
  }
  closedForm() {
    const e = this.last_epoch, sf = this.start_factor, ef = this.end_factor, T = this.total_iters;
    return this.base_lrs.map((b) => P.mul(b, P.add(sf, P.truediv(P.mul(P.sub(ef, sf), P.min(T, e)), T))));
  }
}

// ---- the schedulers the spec's Annex A did not yet spell out when this was written -------------
class ConstantLR extends LRScheduler {
  constructor(opt, kwargs) {
    const factor = kw('ConstantLR', kwargs, 'factor', 1.0 / 3);
    const total = kw('ConstantLR', kwargs, 'total_iters', 5n);
    if (P.gt(factor, 1.0) || P.lt(factor, 0n)) {
      throw new P.PyError('ValueError', 'Constant multiplicative factor expected to be between 0 and 1.');
    }
    super(opt, kw('ConstantLR', kwargs, 'last_epoch', -1n));
    this.factor = factor;
    this.total_iters = total;
    this._initialStep();
  }
  getLr() {
    const e = this.last_epoch;
    if (P.eq(e, 0n)) return this.lrs().map((lr) => P.mul(lr, this.factor));
    if (P.ne(e, this.total_iters)) return this.lrs();
    return this.lrs().map((lr) => P.mul(lr, P.truediv(1.0, this.factor)));
  }
  closedForm() {
    const e = this.last_epoch;
    return this.base_lrs.map((b) => P.mul(b, P.add(this.factor,
      P.mul(P.ge(e, this.total_iters), P.sub(1n, this.factor)))));
  }
}

class PolynomialLR extends LRScheduler {
  constructor(opt, kwargs) {
    const total = kw('PolynomialLR', kwargs, 'total_iters', 5n);
    const power = kw('PolynomialLR', kwargs, 'power', 1.0);
    super(opt, kw('PolynomialLR', kwargs, 'last_epoch', -1n));
    this.total_iters = total;
    this.power = power;
    this._initialStep();
  }
  getLr() {
    const e = this.last_epoch, T = this.total_iters;
    if (this._is_initial || P.eq(e, 0n) || P.gt(e, T)) return this.lrs();
    const f = P.pow(P.truediv(P.sub(1.0, P.truediv(e, T)), P.sub(1.0, P.truediv(P.sub(e, 1n), T))), this.power);
    return this.lrs().map((lr) => P.mul(lr, f));
  }
  closedForm() {
    const e = this.last_epoch, T = this.total_iters;
    return this.base_lrs.map((b) => P.mul(b, P.pow(P.sub(1.0, P.truediv(P.min(T, e), T)), this.power)));
  }
}

// lr_lambda holders: a single spec is shared by every group ([lr_lambda] * n)
function lambdas(name, opt, spec) {
  const n = opt.param_groups.length;
  if (Array.isArray(spec)) {
    if (spec.length !== n) throw new P.PyError('ValueError', `Expected ${n} lr_lambdas, but got ${spec.length}`);
    return spec.map((s) => new Callable(s));
  }
  const c = new Callable(spec);
  return Array.from({ length: n }, () => c);
}
function lambdaState(self) {
  const s = LRScheduler.prototype.state_dict.call(self);
  s.lr_lambdas = self._js_lambdas.map((f) => (f.stateful ? { ...f.dict } : null));
  return s;
}
function lambdaLoad(self, s) {
  const saved = s.lr_lambdas;
  const rest = { ...s }; delete rest.lr_lambdas;
  LRScheduler.prototype.load_state_dict.call(self, rest);
  saved.forEach((d, i) => { if (d !== null) Object.assign(self._js_lambdas[i].dict, d); });
}

class LambdaLR extends LRScheduler {
  constructor(opt, kwargs) {
    const spec = kw('LambdaLR', kwargs, 'lr_lambda', null, true);
    const fns = lambdas('LambdaLR', opt, spec);
    super(opt, kw('LambdaLR', kwargs, 'last_epoch', -1n));
    this._js_lambdas = fns;
    this._initialStep();
  }
  getLr() { return this.base_lrs.map((b, i) => P.mul(b, this._js_lambdas[i].call(this.last_epoch))); }
  state_dict() { return lambdaState(this); }
  load_state_dict(s) { lambdaLoad(this, s); }
}

class MultiplicativeLR extends LRScheduler {
  constructor(opt, kwargs) {
    const spec = kw('MultiplicativeLR', kwargs, 'lr_lambda', null, true);
    const fns = lambdas('MultiplicativeLR', opt, spec);
    // Unlike LambdaLR, MultiplicativeLR checks its lambdas before anything calls them.
    const bare = fns.find((f) => f.notCallable);
    if (bare) throw new P.PyError('TypeError', `lr_lambda should be a function, but got ${P.typeName(bare.p.value)}`);
    super(opt, kw('MultiplicativeLR', kwargs, 'last_epoch', -1n));
    this._js_lambdas = fns;
    this._initialStep();
  }
  getLr() {
    if (!this._is_initial) {
      // zip(lr_lambdas, param_groups, strict=True): which list comes first no case pins (spec A.10)
      return zipStrict(this._js_lambdas, this.lrs()).map(([f, lr]) => P.mul(lr, f.call(this.last_epoch)));
    }
    return this.lrs();
  }
  state_dict() { return lambdaState(this); }
  load_state_dict(s) { lambdaLoad(this, s); }
}

// ---- ReduceLROnPlateau (Annex A.3) ------------------------------------------------------
class ReduceLROnPlateau {
  constructor(opt, kwargs) {
    const k = (key, d) => kw('ReduceLROnPlateau', kwargs, key, d);
    const mode = k('mode', 'min'), factor = k('factor', 0.1), patience = k('patience', 10n);
    const threshold = k('threshold', 1e-4), thresholdMode = k('threshold_mode', 'rel');
    const cooldown = k('cooldown', 0n), minLr = k('min_lr', 0n), eps = k('eps', 1e-8);
    if (P.ge(factor, 1.0)) throw new P.PyError('ValueError', 'Factor should be < 1.0.');
    this.factor = factor;
    this._optimizer = opt;
    const n = opt.param_groups.length;
    if (Array.isArray(minLr)) {
      if (minLr.length !== n) throw new P.PyError('ValueError', `expected ${n} min_lrs, got ${minLr.length}`);
      this.default_min_lr = null;
      this.min_lrs = minLr.slice();
    } else {
      this.default_min_lr = minLr;
      this.min_lrs = Array.from({ length: n }, () => minLr);
    }
    this.patience = patience;
    this.cooldown = cooldown;
    this.eps = eps;
    this.last_epoch = 0n;
    this._last_lr = opt.param_groups.map((g) => g.lr);
    this.mode = mode;
    this.threshold = threshold;
    this.threshold_mode = thresholdMode;
    if (mode !== 'min' && mode !== 'max') throw new P.PyError('ValueError', `mode ${P.str(mode)} is unknown!`);
    if (thresholdMode !== 'rel' && thresholdMode !== 'abs') {
      throw new P.PyError('ValueError', `threshold mode ${P.str(thresholdMode)} is unknown!`);
    }
    this.mode_worse = mode === 'min' ? Infinity : -Infinity;
    this.best = this.mode_worse;
    this.cooldown_counter = 0n;
    this.num_bad_epochs = 0n;
  }
  isBetter(a, best) {
    const t = this.threshold;
    if (this.mode === 'min' && this.threshold_mode === 'rel') return P.lt(a, P.mul(best, P.sub(1.0, t)));
    if (this.mode === 'min') return P.lt(a, P.sub(best, t));
    if (this.threshold_mode === 'rel') return P.gt(a, P.mul(best, P.add(t, 1.0)));
    return P.gt(a, P.add(best, t));
  }
  step(...args) {
    if (args.length < 1) {
      throw new P.PyError('TypeError', "ReduceLROnPlateau.step() missing 1 required positional argument: 'metrics'");
    }
    const current = P.toFloat(args[0]);
    let epoch = args.length > 1 ? args[1] : null;
    if (epoch === null) epoch = P.add(this.last_epoch, 1n);
    else warn('UserWarning', EPOCH_WARNING);
    this.last_epoch = epoch;
    if (this.isBetter(current, this.best)) { this.best = current; this.num_bad_epochs = 0n; } else {
      this.num_bad_epochs = P.add(this.num_bad_epochs, 1n);
    }
    if (P.gt(this.cooldown_counter, 0n)) {
      this.cooldown_counter = P.sub(this.cooldown_counter, 1n);
      this.num_bad_epochs = 0n;
    }
    if (P.gt(this.num_bad_epochs, this.patience)) {
      this.fitMinLrs();
      this._optimizer.param_groups.forEach((g, i) => {
        const old = P.toFloat(g.lr);
        const nw = P.max(P.mul(old, this.factor), this.min_lrs[i]);
        if (P.gt(P.sub(old, nw), this.eps)) setLr(g, nw);
      });
      this.cooldown_counter = this.cooldown;
      this.num_bad_epochs = 0n;
    }
    this._last_lr = this._optimizer.param_groups.map((g) => g.lr);
  }
  // spec A.13: a reduction after a param group was added re-expands a scalar min_lr to every group
  fitMinLrs() {
    const n = this._optimizer.param_groups.length;
    if (this.min_lrs.length === n) return;
    if (this.default_min_lr === null) {
      // a per-group min_lr list no longer fits: torch (>= 2.6) raises this (spec A.13 and its message table;
      // reducelronplateau/add-param-group-with-min-lr-list pins it)
      throw new P.PyError('RuntimeError', `The number of param groups in the \`optimizer\` (${n}) differs from when \`ReduceLROnPlateau\` was initialized (${this.min_lrs.length}), usually due to a new param group being added to the optimizer. Please modify the \`min_lrs\` field to match the length of the \`optimizer\` param groups.`);
    }
    this.min_lrs = Array.from({ length: n }, () => this.default_min_lr);
  }
  get_lr() { return notImplemented(); }
  get_last_lr() { return this._last_lr; }
  state_dict() {
    const s = {};
    for (const [k, v] of Object.entries(this)) if (k !== '_optimizer') s[k] = v;
    return s;
  }
  load_state_dict(s) { for (const [k, v] of Object.entries(s)) this[k] = v; }
}

const PLAIN = {
  StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR,
  ConstantLR, PolynomialLR, LambdaLR, MultiplicativeLR, ReduceLROnPlateau,
};

module.exports = {
  PLAIN, LRScheduler, ReduceLROnPlateau, ORDER_WARNING, EPOCH_WARNING, setLr, writeAll, zipStrict, notImplemented, kw,
};
