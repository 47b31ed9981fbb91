'use strict';
// An optimizer and six learning-rate schedulers, as docs/spec.md section 3 and Annex A describe torch 2.13.0's.
// Every scheduler keeps its whole state in `this.state` (plain data): that is its state dict, and a checkpoint
// is a JSON round trip of it (docs/spec.md 4.3).

const py = require('./python');

const OPTIMIZER_DEFAULTS = {
  SGD: { momentum: 0, dampening: 0, weight_decay: 0, nesterov: false, maximize: false },
  Adam: { betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, amsgrad: false, maximize: false },
  Adagrad: { lr_decay: 0, weight_decay: 0, initial_accumulator_value: 0, eps: 1e-10, maximize: false },
};

class Optimizer {
  // docs/spec.md 3.1: one group per case group; a group's own keys win over the optimizer-level kwargs, which
  // win over the optimizer's defaults; the optimizer's default lr is the first group's lr.
  constructor(name, kwargs, groups) {
    const defaults = { ...OPTIMIZER_DEFAULTS[name], lr: groups[0].lr, ...kwargs };
    this.paramGroups = groups.map((group) => ({ ...defaults, ...structuredClone(group) }));
    this.stepped = false; // Annex A.1: a property of the object, not part of its state dict
  }

  step() {
    this.stepped = true;
  }

  stateDict() {
    return { param_groups: structuredClone(this.paramGroups) };
  }

  loadStateDict(state) {
    this.paramGroups = structuredClone(state.param_groups);
  }
}

const DEPRECATED_EPOCH =
  'The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where possible. ' +
  'Please use `scheduler.step()` to step the scheduler. During the deprecation, if epoch is different from ' +
  'None, the closed form is used instead of the new chainable form, where available. Please open an issue if ' +
  'you are unable to replicate your use case: https://github.com/pytorch/pytorch/issues/new/choose.';
const SCHEDULER_FIRST =
  'Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch 1.1.0 and later, you should ' +
  'call them in the opposite order: `optimizer.step()` before `lr_scheduler.step()`. Failure to do this will ' +
  'result in PyTorch skipping the first value of the learning rate schedule. See more details at ' +
  'https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate';

function bind(name, kwargs, required, defaults) {
  // Python's keyword-argument binding: an unknown or missing argument is a TypeError.
  for (const key of Object.keys(kwargs)) {
    if (!required.includes(key) && !(key in defaults)) {
      throw new py.PythonError('TypeError', `${name}.__init__() got an unexpected keyword argument '${key}'`);
    }
  }
  const missing = required.filter((key) => !(key in kwargs));
  if (missing.length) {
    throw new py.PythonError('TypeError', `${name}.__init__() missing required argument(s): ${missing.join(', ')}`);
  }
  return { ...defaults, ...kwargs };
}

class Stateful {
  // Every scheduler's state is `this.state`, plain data: its state dict (spec 4.3) and its last lrs.
  getLastLr() {
    return this.state.last_lr;
  }

  stateDict() {
    return structuredClone(this.state);
  }

  loadStateDict(state) {
    this.state = structuredClone(state);
  }
}

class LRScheduler extends Stateful {
  // Annex A.2: the base construction (initial_lr, base_lrs, the initial step) and step().
  constructor(optimizer, lastEpoch, warn, hyper) {
    super();
    this.optimizer = optimizer;
    this.warn = warn;
    this.state = { ...hyper };
    const groups = optimizer.paramGroups;
    if (lastEpoch === -1) {
      for (const group of groups) if (!('initial_lr' in group)) group.initial_lr = group.lr;
    } else {
      groups.forEach((group, i) => {
        if (!('initial_lr' in group)) {
          throw new py.PythonError('KeyError', `"param 'initial_lr' is not specified in param_groups[${i}] when ` +
            'resuming scheduler with last_epoch >= 0."');
        }
      });
    }
    this.state.base_lrs = groups.map((group) => group.initial_lr);
    this.state.last_epoch = lastEpoch;
    this.state.step_count = 0;
    this.isInitial = true;
    try {
      this.step();
    } finally {
      this.isInitial = false;
    }
  }

  step(epoch) {
    const s = this.state;
    if (s.step_count === 1 && !this.optimizer.stepped) this.warn('UserWarning', SCHEDULER_FIRST);
    s.step_count += 1;
    if (epoch !== undefined) this.warn('UserWarning', DEPRECATED_EPOCH);
    let values;
    if (epoch === undefined) {
      s.last_epoch += 1;
      values = this.getLr();
    } else {
      s.last_epoch = epoch;
      values = this.closedForm();
    }
    this.optimizer.paramGroups.forEach((group, g) => { group.lr = values[g]; });
    s.last_lr = this.optimizer.paramGroups.map((group) => group.lr);
  }

  lrs() {
    return this.optimizer.paramGroups.map((group) => group.lr);
  }
}

class StepLR extends LRScheduler {
  constructor(optimizer, kwargs, warn) {
    const k = bind('StepLR', kwargs, ['step_size'], { gamma: 0.1, last_epoch: -1 });
    super(optimizer, k.last_epoch, warn, { step_size: k.step_size, gamma: k.gamma });
  }

  getLr() {
    const { last_epoch: e, step_size: size, gamma } = this.state;
    if (e === 0 || py.mod(e, size) !== 0) return this.lrs();
    return this.lrs().map((lr) => lr * gamma);
  }

  closedForm() {
    const { last_epoch: e, step_size: size, gamma, base_lrs: bases } = this.state;
    return bases.map((base) => base * py.pow(gamma, py.floordiv(e, size)));
  }
}

class MultiStepLR extends LRScheduler {
  constructor(optimizer, kwargs, warn) {
    const k = bind('MultiStepLR', kwargs, ['milestones'], { gamma: 0.1, last_epoch: -1 });
    // A multiset: a repeated milestone counts twice. Kept sorted for the closed form's bisect.
    const milestones = [...k.milestones].sort((a, b) => a - b);
    super(optimizer, k.last_epoch, warn, { milestones, gamma: k.gamma });
  }

  getLr() {
    const { last_epoch: e, milestones, gamma } = this.state;
    const count = milestones.filter((m) => m === e).length;
    if (count === 0) return this.lrs();
    return this.lrs().map((lr) => lr * py.pow(gamma, count));
  }

  closedForm() {
    const { last_epoch: e, milestones, gamma, base_lrs: bases } = this.state;
    const passed = milestones.filter((m) => m <= e).length; // bisect_right(sorted(milestones), e)
    return bases.map((base) => base * py.pow(gamma, passed));
  }
}

class ExponentialLR extends LRScheduler {
  constructor(optimizer, kwargs, warn) {
    const k = bind('ExponentialLR', kwargs, ['gamma'], { last_epoch: -1 });
    super(optimizer, k.last_epoch, warn, { gamma: k.gamma });
  }

  getLr() {
    if (this.isInitial) return this.lrs();
    return this.lrs().map((lr) => lr * this.state.gamma);
  }

  closedForm() {
    const { last_epoch: e, gamma, base_lrs: bases } = this.state;
    return bases.map((base) => base * py.pow(gamma, e));
  }
}

class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer, kwargs, warn) {
    const k = bind('CosineAnnealingLR', kwargs, ['T_max'], { eta_min: 0.0, last_epoch: -1 });
    super(optimizer, k.last_epoch, warn, { T_max: k.T_max, eta_min: k.eta_min });
  }

  getLr() {
    const { last_epoch: e, T_max: T, eta_min: low, base_lrs: bases, step_count: count } = this.state;
    const groups = this.optimizer.paramGroups;
    if (this.isInitial) return this.lrs();
    if (count === 1 && e > 0) {
      return bases.map((base) => low + py.div((base - low) * (1 + Math.cos(py.div(e * Math.PI, T))), 2));
    }
    if (py.mod(e - 1 - T, 2 * T) === 0) {
      return groups.map((group, g) => group.lr + py.div((bases[g] - low) * (1 - Math.cos(py.div(Math.PI, T))), 2));
    }
    return groups.map((group) =>
      py.div(1 + Math.cos(py.div(Math.PI * e, T)), 1 + Math.cos(py.div(Math.PI * (e - 1), T))) * (group.lr - low) + low);
  }

  closedForm() {
    const { last_epoch: e, T_max: T, eta_min: low, base_lrs: bases } = this.state;
    return bases.map((base) => low + py.div((base - low) * (1 + Math.cos(py.div(Math.PI * e, T))), 2));
  }
}

class LinearLR extends LRScheduler {
  constructor(optimizer, kwargs, warn) {
    const k = bind('LinearLR', kwargs, [], { start_factor: 1.0 / 3, end_factor: 1.0, total_iters: 5, last_epoch: -1 });
    if (k.start_factor > 1.0 || k.start_factor <= 0) {
      throw new py.PythonError('ValueError',
        'Starting multiplicative factor expected to be greater than 0 and less or equal to 1.');
    }
    if (k.end_factor > 1.0 || k.end_factor < 0) {
      throw new py.PythonError('ValueError', 'Ending multiplicative factor expected to be between 0 and 1.');
    }
    super(optimizer, k.last_epoch, warn,
      { start_factor: k.start_factor, end_factor: k.end_factor, total_iters: k.total_iters });
  }

  getLr() {
    const { last_epoch: e, start_factor: start, end_factor: end, total_iters: total } = this.state;
    if (e === 0) return this.lrs().map((lr) => lr * start);
    if (this.isInitial || e > total) return this.lrs();
    return this.lrs().map((lr) => lr * (1.0 + py.div(end - start, total * start + (e - 1) * (end - start))));
  }

  closedForm() {
    const { last_epoch: e, start_factor: start, end_factor: end, total_iters: total, base_lrs: bases } = this.state;
    return bases.map((base) => base * (start + py.div((end - start) * py.min(total, e), total)));
  }
}

class ReduceLROnPlateau extends Stateful {
  // Annex A.3: no base construction, no initial step, no ordering warning.
  constructor(optimizer, kwargs, warn) {
    super();
    const k = bind('ReduceLROnPlateau', kwargs, [], {
      mode: 'min', factor: 0.1, patience: 10, threshold: 1e-4, threshold_mode: 'rel', cooldown: 0, min_lr: 0,
      eps: 1e-8,
    });
    if (k.factor >= 1.0) throw new py.PythonError('ValueError', 'Factor should be < 1.0.');
    this.optimizer = optimizer;
    this.warn = warn;
    const groups = optimizer.paramGroups;
    let minLrs;
    if (Array.isArray(k.min_lr)) {
      if (k.min_lr.length !== groups.length) {
        throw new py.PythonError('ValueError', `expected ${groups.length} min_lrs, got ${k.min_lr.length}`);
      }
      minLrs = [...k.min_lr];
    } else {
      minLrs = groups.map(() => k.min_lr);
    }
    const state = {
      factor: k.factor, min_lrs: minLrs, patience: k.patience, cooldown: k.cooldown, eps: k.eps, last_epoch: 0,
      last_lr: groups.map((group) => group.lr),
    };
    if (k.mode !== 'min' && k.mode !== 'max') throw new py.PythonError('ValueError', `mode ${k.mode} is unknown!`);
    if (k.threshold_mode !== 'rel' && k.threshold_mode !== 'abs') {
      throw new py.PythonError('ValueError', `threshold mode ${k.threshold_mode} is unknown!`);
    }
    Object.assign(state, { mode: k.mode, threshold: k.threshold, threshold_mode: k.threshold_mode });
    state.best = k.mode === 'min' ? Infinity : -Infinity;
    state.cooldown_counter = 0;
    state.num_bad_epochs = 0;
    this.state = state;
  }

  isBetter(a, best) {
    const { mode, threshold_mode: thresholdMode, threshold } = this.state;
    if (mode === 'min' && thresholdMode === 'rel') return a < best * (1.0 - threshold);
    if (mode === 'min' && thresholdMode === 'abs') return a < best - threshold;
    if (mode === 'max' && thresholdMode === 'rel') return a > best * (threshold + 1.0);
    return a > best + threshold;
  }

  step(metric, epoch) {
    const s = this.state;
    const current = Number(metric);
    if (epoch === undefined) {
      epoch = s.last_epoch + 1;
    } else {
      this.warn('UserWarning', DEPRECATED_EPOCH);
    }
    s.last_epoch = epoch;
    if (this.isBetter(current, s.best)) {
      s.best = current;
      s.num_bad_epochs = 0;
    } else {
      s.num_bad_epochs += 1;
    }
    if (s.cooldown_counter > 0) {
      s.cooldown_counter -= 1;
      s.num_bad_epochs = 0;
    }
    if (s.num_bad_epochs > s.patience) {
      this.optimizer.paramGroups.forEach((group, g) => {
        const old = group.lr;
        const fresh = py.max(old * s.factor, s.min_lrs[g]);
        if (old - fresh > s.eps) group.lr = fresh;
      });
      s.cooldown_counter = s.cooldown;
      s.num_bad_epochs = 0;
    }
    s.last_lr = this.optimizer.paramGroups.map((group) => group.lr);
  }
}

const SCHEDULERS = { StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, ReduceLROnPlateau };

module.exports = { Optimizer, SCHEDULERS };
