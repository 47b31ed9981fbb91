'use strict';
// CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts. The spec gives no algorithm for these three
// (Annex A: "read torch's lr_scheduler.py"); written from the documented torch formulas and checked
// against the goldens (docs/spec.md Annex A now spells them out).
const P = require('./pynum');
const S = require('./schedulers');
const { Callable } = require('./vocabulary');

const PI = Math.PI;
const pyType = (v) => `<class '${P.typeName(v)}'>`;

// torch's _format_param: one value per group
function formatParam(name, opt, param) {
  const n = opt.param_groups.length;
  if (Array.isArray(param)) {
    if (param.length !== n) {
      throw new P.PyError('ValueError', `${name} must have the same length as optimizer.param_groups. `
        + `${name} has ${param.length} values, param_groups has ${n}.`);
    }
    return param.slice();
  }
  return Array.from({ length: n }, () => param);
}

function setMomentum(useBeta1, group, m) {
  if (useBeta1) group.betas = [m, ...group.betas.slice(1)];
  else group.momentum = m;
}

function initMomentum(self, opt, kwargs, name, lastEpoch, dBase, dMax) {
  self.cycle_momentum = S.kw(name, kwargs, 'cycle_momentum', true);
  if (!P.truthy(self.cycle_momentum)) return;
  if (!('momentum' in opt.defaults) && !('betas' in opt.defaults)) {
    throw new P.PyError('ValueError', 'optimizer must support momentum or beta1 with `cycle_momentum` option enabled');
  }
  self.use_beta1 = 'betas' in opt.defaults;
  const first = name === 'CyclicLR' ? 'base_momentum' : 'max_momentum';
  const fm = formatParam(first, opt, S.kw(name, kwargs, first, first === 'base_momentum' ? dBase : dMax));
  const second = first === 'base_momentum' ? 'max_momentum' : 'base_momentum';
  const sm = formatParam(second, opt, S.kw(name, kwargs, second, second === 'base_momentum' ? dBase : dMax));
  const base = first === 'base_momentum' ? fm : sm;
  const max = first === 'base_momentum' ? sm : fm;
  if (name === 'CyclicLR') { self.base_momentums = base; self.max_momentums = max; }
  if (P.eq(lastEpoch, -1n)) {
    opt.param_groups.forEach((g, i) => {
      setMomentum(self.use_beta1, g, max[i]);
      g.max_momentum = max[i];
      g.base_momentum = base[i];
    });
  }
}

// ---- CyclicLR -----------------------------------------------------------------------------
class CyclicLR extends S.LRScheduler {
  constructor(opt, kwargs) {
    const k = (key, d, req) => S.kw('CyclicLR', kwargs, key, d, req);
    const baseLrArg = k('base_lr', null, true);
    const maxLrArg = k('max_lr', null, true);
    const lastEpoch = k('last_epoch', -1n);
    const baseLrs = formatParam('base_lr', opt, baseLrArg);
    if (P.eq(lastEpoch, -1n)) opt.param_groups.forEach((g, i) => S.setLr(g, baseLrs[i]));
    const maxLrs = formatParam('max_lr', opt, maxLrArg);
    const up = P.toFloat(k('step_size_up', 2000n));
    const downArg = k('step_size_down', null);
    const down = downArg === null ? up : P.toFloat(downArg);
    const totalSize = P.add(up, down);
    const stepRatio = P.truediv(up, totalSize);
    const mode = k('mode', 'triangular');
    const scaleSpec = k('scale_fn', null);
    if (!['triangular', 'triangular2', 'exp_range'].includes(mode) && scaleSpec === null) {
      throw new P.PyError('ValueError', 'mode is invalid and scale_fn is None');
    }
    // attributes set before the base construction (they are part of __dict__ / the state dict)
    const pre = {};
    pre.max_lrs = maxLrs;
    pre.total_size = totalSize;
    pre.step_ratio = stepRatio;
    pre.mode = mode;
    pre.gamma = k('gamma', 1.0);
    pre.scale_mode = k('scale_mode', 'cycle');
    const scaleFn = scaleSpec === null ? null : new Callable(scaleSpec);
    const holder = {};
    initMomentum(holder, opt, kwargs, 'CyclicLR', lastEpoch, 0.8, 0.9);
    // torch sets these before its base construction (no observable difference: nothing above reads them)
    super(opt, lastEpoch);
    Object.assign(this, pre);
    this._js_scale = scaleFn;
    this._initScaleFn();
    Object.assign(this, holder);
    this._initialStep();
    this.base_lrs = baseLrs; // after the base construction (and its initial step)
  }
  _initScaleFn() {
    if (this._js_scale !== null) return;
    if (this.mode === 'triangular') { this._js_ref = () => 1.0; this.scale_mode = 'cycle'; } else if (this.mode === 'triangular2') {
      this._js_ref = (x) => P.truediv(1n, P.pow(2.0, P.sub(x, 1n))); this.scale_mode = 'cycle';
    } else if (this.mode === 'exp_range') {
      const gamma = this.gamma; this._js_ref = (x) => P.pow(gamma, x); this.scale_mode = 'iterations';
    }
  }
  scaleFn(x) { return this._js_scale !== null ? this._js_scale.call(x) : this._js_ref(x); }
  getLr() {
    const e = this.last_epoch;
    const cycle = P.floorInt(P.add(1n, P.truediv(e, this.total_size)));
    const x = P.sub(P.add(1.0, P.truediv(e, this.total_size)), cycle);
    const sf = P.le(x, this.step_ratio) ? P.truediv(x, this.step_ratio) : P.truediv(P.sub(x, 1n), P.sub(this.step_ratio, 1n));
    const arg = () => (this.scale_mode === 'cycle' ? cycle : e);
    const lrs = this.base_lrs.map((b, i) => P.add(b, P.mul(P.mul(P.sub(this.max_lrs[i], b), sf), this.scaleFn(arg()))));
    if (P.truthy(this.cycle_momentum)) {
      const ms = this.base_momentums.map((bm, i) => {
        const mm = this.max_momentums[i];
        return P.sub(mm, P.mul(P.mul(P.sub(mm, bm), sf), this.scaleFn(arg())));
      });
      for (const [g, m] of S.zipStrict(this._optimizer.param_groups, ms)) setMomentum(this.use_beta1, g, m);
    }
    return lrs;
  }
  state_dict() {
    const s = S.LRScheduler.prototype.state_dict.call(this);
    s._scale_fn_custom = this._js_scale !== null && this._js_scale.stateful ? { ...this._js_scale.dict } : null;
    return s;
  }
  load_state_dict(s) {
    // spec 4.5: the key is popped from the caller's dict and not put back, so the same dict loaded again
    // is a KeyError (cycliclr/state-dict-loaded-twice)
    if (!('_scale_fn_custom' in s)) throw new P.PyError('KeyError', "'_scale_fn_custom'");
    const fn = s._scale_fn_custom; delete s._scale_fn_custom;
    S.LRScheduler.prototype.load_state_dict.call(this, { ...s });
    if (fn !== null && this._js_scale !== null) Object.assign(this._js_scale.dict, fn);
    this._initScaleFn();
  }
}

// ---- OneCycleLR ----------------------------------------------------------------------------
// group[key] as Python reads a dict: a missing key is a KeyError whose str() is the key's repr (spec A.16:
// resumed by last_epoch, OneCycleLR writes none of its keys, so a group with only initial_lr lacks max_lr).
function groupItem(g, key) {
  if (!(key in g)) throw new P.PyError('KeyError', `'${key}'`);
  return g[key];
}

class OneCycleLR extends S.LRScheduler {
  constructor(opt, kwargs) {
    const k = (key, d, req) => S.kw('OneCycleLR', kwargs, key, d, req);
    const maxLr = k('max_lr', null, true);
    const totalSteps = k('total_steps', null), epochs = k('epochs', null), spe = k('steps_per_epoch', null);
    const pct = k('pct_start', 0.3), strategy = k('anneal_strategy', 'cos');
    const divFactor = k('div_factor', 25.0), finalDiv = k('final_div_factor', 1e4);
    const threePhase = k('three_phase', false), lastEpoch = k('last_epoch', -1n);
    let total;
    if (totalSteps !== null) {
      if (!P.isInt(totalSteps) || P.le(totalSteps, 0n)) {
        throw new P.PyError('ValueError', `Expected positive integer total_steps, but got ${P.str(totalSteps)}`);
      }
      total = totalSteps;
    } else if (epochs !== null && spe !== null) {
      if (!P.isInt(epochs) || P.le(epochs, 0n)) throw new P.PyError('ValueError', `Expected positive integer epochs, but got ${P.str(epochs)}`);
      if (!P.isInt(spe) || P.le(spe, 0n)) {
        throw new P.PyError('ValueError', `Expected positive integer steps_per_epoch, but got ${P.str(spe)}`);
      }
      total = P.mul(epochs, spe);
    } else {
      throw new P.PyError('ValueError', 'You must define either total_steps OR (epochs AND steps_per_epoch)');
    }
    const pre = { total_steps: total };
    const endUp = P.sub(P.toFloat(P.mul(pct, total)), 1n);
    if (P.truthy(threePhase)) {
      pre._schedule_phases = [
        { end_step: endUp, start_lr: 'initial_lr', end_lr: 'max_lr', start_momentum: 'max_momentum', end_momentum: 'base_momentum' },
        { end_step: P.sub(P.toFloat(P.mul(P.mul(2n, pct), total)), 2n), start_lr: 'max_lr', end_lr: 'initial_lr', start_momentum: 'base_momentum', end_momentum: 'max_momentum' },
        { end_step: P.sub(total, 1n), start_lr: 'initial_lr', end_lr: 'min_lr', start_momentum: 'max_momentum', end_momentum: 'max_momentum' },
      ];
    } else {
      pre._schedule_phases = [
        { end_step: endUp, start_lr: 'initial_lr', end_lr: 'max_lr', start_momentum: 'max_momentum', end_momentum: 'base_momentum' },
        { end_step: P.sub(total, 1n), start_lr: 'max_lr', end_lr: 'min_lr', start_momentum: 'base_momentum', end_momentum: 'max_momentum' },
      ];
    }
    if (P.lt(pct, 0n) || P.gt(pct, 1n) || typeof pct !== 'number') {
      throw new P.PyError('ValueError', `Expected float between 0 and 1 pct_start, but got ${P.str(pct)}`);
    }
    if (strategy !== 'cos' && strategy !== 'linear') {
      throw new P.PyError('ValueError', `anneal_strategy must be one of 'cos' or 'linear', instead got ${P.str(strategy)}`);
    }
    pre._anneal_func_type = strategy;
    const maxLrs = formatParam('max_lr', opt, maxLr);
    if (P.eq(lastEpoch, -1n)) {
      opt.param_groups.forEach((g, i) => {
        g.initial_lr = P.truediv(maxLrs[i], divFactor);
        g.max_lr = maxLrs[i];
        g.min_lr = P.truediv(g.initial_lr, finalDiv);
      });
    }
    const holder = {};
    initMomentum(holder, opt, kwargs, 'OneCycleLR', lastEpoch, 0.85, 0.95);
    super(opt, lastEpoch);
    Object.assign(this, pre, holder);
    this._initialStep();
  }
  anneal(start, end, pct) {
    if (this._anneal_func_type === 'cos') {
      const cosOut = P.add(P.cos(P.mul(PI, pct)), 1n);
      return P.add(end, P.mul(P.truediv(P.sub(start, end), 2.0), cosOut));
    }
    return P.add(P.mul(P.sub(end, start), pct), start);
  }
  getLr() {
    const stepNum = this.last_epoch;
    if (P.gt(stepNum, this.total_steps)) {
      throw new P.PyError('ValueError', `Tried to step ${P.str(stepNum)} times. The specified number of total steps is ${P.str(this.total_steps)}`);
    }
    const phases = this._schedule_phases;
    return this._optimizer.param_groups.map((g) => {
      let start = 0.0; let lr; let mom;
      for (let i = 0; i < phases.length; i++) {
        const ph = phases[i];
        const end = ph.end_step;
        if (P.le(stepNum, end) || i === phases.length - 1) {
          const pct = P.truediv(P.sub(stepNum, start), P.sub(end, start));
          lr = this.anneal(groupItem(g, ph.start_lr), groupItem(g, ph.end_lr), pct);
          if (P.truthy(this.cycle_momentum)) {
            mom = this.anneal(groupItem(g, ph.start_momentum), groupItem(g, ph.end_momentum), pct);
          }
          break;
        }
        start = ph.end_step;
      }
      if (P.truthy(this.cycle_momentum)) {
        setMomentum(this.use_beta1, g, mom);
      }
      return lr;
    });
  }
}

// ---- CosineAnnealingWarmRestarts ----------------------------------------------------------------
class CosineAnnealingWarmRestarts extends S.LRScheduler {
  constructor(opt, kwargs) {
    const k = (key, d, req) => S.kw('CosineAnnealingWarmRestarts', kwargs, key, d, req);
    const T0 = k('T_0', null, true), Tmult = k('T_mult', 1n), eta = k('eta_min', 0.0), lastEpoch = k('last_epoch', -1n);
    if (!P.isInt(T0) || P.le(T0, 0n)) throw new P.PyError('ValueError', `Expected positive integer T_0, but got ${P.str(T0)}`);
    if (!P.isInt(Tmult) || P.lt(Tmult, 1n)) throw new P.PyError('ValueError', `Expected integer T_mult >= 1, but got ${P.str(Tmult)}`);
    if (!P.isNum(eta) || P.isTensor(eta)) {
      throw new P.PyError('ValueError', `Expected float or int eta_min, but got ${P.str(eta)} of type ${pyType(eta)}`);
    }
    super(opt, lastEpoch);
    Object.assign(this, { T_0: T0, T_i: T0, T_mult: Tmult, eta_min: eta, T_cur: lastEpoch });
    this._initialStep();
  }
  getLr() {
    return this.base_lrs.map((b) => P.add(this.eta_min, P.truediv(P.mul(P.sub(b, this.eta_min),
      P.add(1n, P.cos(P.truediv(P.mul(PI, this.T_cur), this.T_i)))), 2n)));
  }
  // this class overrides step(): no ordering warning, no epoch deprecation warning
  step(...args) {
    let epoch = args.length ? args[0] : null;
    if (epoch === null && P.lt(this.last_epoch, 0n)) epoch = 0n;
    if (epoch === null) {
      epoch = P.add(this.last_epoch, 1n);
      this.T_cur = P.add(this.T_cur, 1n);
      if (P.ge(this.T_cur, this.T_i)) {
        this.T_cur = P.mod(this.T_cur, this.T_i);
        this.T_i = P.mul(this.T_i, this.T_mult);
      }
    } else {
      if (P.lt(epoch, 0n)) throw new P.PyError('ValueError', `Expected non-negative epoch, but got ${P.str(epoch)}`);
      if (P.ge(epoch, this.T_0)) {
        if (P.eq(this.T_mult, 1n)) {
          this.T_cur = P.mod(epoch, this.T_0);
        } else {
          const n = P.truncInt(P.log(P.add(P.mul(P.truediv(epoch, this.T_0), P.sub(this.T_mult, 1n)), 1n), this.T_mult));
          this.T_cur = P.sub(epoch, P.truediv(P.mul(this.T_0, P.sub(P.pow(this.T_mult, n), 1n)), P.sub(this.T_mult, 1n)));
          this.T_i = P.mul(this.T_0, P.pow(this.T_mult, n));
        }
      } else {
        this.T_i = this.T_0;
        this.T_cur = epoch;
      }
    }
    this.last_epoch = P.floorInt(epoch);
    S.writeAll(this._optimizer, this.getLr());
    this._last_lr = this.lrs();
  }
}

module.exports = { CYCLIC: { CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts }, formatParam };
