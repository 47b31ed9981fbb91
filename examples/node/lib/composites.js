'use strict';
// ChainedScheduler and SequentialLR (spec 2.5, 3.4, Annex A). Written before the spec spelled them out:
// inferred from the goldens and the cases' `why` lines.
const P = require('./pynum');
const S = require('./schedulers');

const isComposite = (s) => s instanceof ChainedScheduler || s instanceof SequentialLR;

function stepArity(name, args) {
  if (args.length > 0) {
    throw new P.PyError('TypeError', `${name}.step() takes 1 positional argument but ${args.length + 1} were given`);
  }
}
function plateauCheck(name, children) {
  children.forEach((s, i) => {
    if (s instanceof S.ReduceLROnPlateau) {
      throw new P.PyError('ValueError', `${name} does not support \`ReduceLROnPlateau\` scheduler as it requires `
        + 'additional kwargs to be specified when calling `step`, but got one at index '
        + `${i} in the given schedulers sequence.`);
    }
  });
}
function compositeState(self) {
  const s = {};
  for (const [k, v] of Object.entries(self)) if (k !== '_optimizer' && k !== '_js_children') s[k] = v;
  s._schedulers = self._js_children.map((c) => c.state_dict());
  return s;
}
function compositeLoad(self, s) {
  for (const [k, v] of Object.entries(s)) if (k !== '_schedulers') self[k] = v;
  s._schedulers.forEach((cs, i) => self._js_children[i].load_state_dict(cs));
}
const { notImplemented } = S;

class ChainedScheduler {
  constructor(opt, kwargs, children) {
    // the length check comes first, with or without the optimizer argument
    // (chainedscheduler/no-schedulers-without-optimizer; the cold run guessed an IndexError here)
    if (children.length < 1) {
      throw new P.PyError('ValueError', 'ChainedScheduler expects at least one scheduler to be chained, but got no scheduler.');
    }
    plateauCheck('ChainedScheduler', children);
    this._js_children = children;
    this._optimizer = opt;
    this._last_lr = opt.param_groups.map((g) => g.lr);
  }
  step(...args) {
    stepArity('ChainedScheduler', args);
    for (const c of this._js_children) c.step();
    this._last_lr = this._optimizer.param_groups.map((g) => g.lr);
  }
  getLr() { return notImplemented(); }
  get_lr() { return notImplemented(); } // the base class's get_lr, called by the user (spec 4.5): no warning
  get_last_lr() { return this._last_lr; }
  state_dict() { return compositeState(this); }
  load_state_dict(s) { compositeLoad(this, s); }
}

function bisectRight(arr, x) {
  let lo = 0, hi = arr.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (P.lt(x, arr[mid])) hi = mid; else lo = mid + 1; }
  return lo;
}
function recursiveUndo(s) {
  if (isComposite(s)) { for (const c of s._js_children) recursiveUndo(c); return; }
  if ('last_epoch' in s) s.last_epoch = P.sub(s.last_epoch, 1n);
}

class SequentialLR {
  constructor(opt, kwargs, children) {
    const milestones = S.kw('SequentialLR', kwargs, 'milestones', null, true);
    const lastEpoch = S.kw('SequentialLR', kwargs, 'last_epoch', -1n);
    if (children.length < 1) {
      throw new P.PyError('ValueError', 'SequentialLR expects at least one scheduler, but got no scheduler.');
    }
    plateauCheck('SequentialLR', children);
    if (milestones.length !== children.length - 1) {
      throw new P.PyError('ValueError', 'Sequential Schedulers expects number of schedulers provided to be one more '
        + 'than the number of milestone points, but got number of schedulers '
        + `${children.length} and the number of milestones to be equal to ${milestones.length}`);
    }
    this._js_children = children;
    this._milestones = milestones.slice();
    this.last_epoch = P.add(lastEpoch, 1n);
    this._optimizer = opt;
    // reset the lrs to their initial values (by value: a tensor lr is not aliased to initial_lr)
    for (const g of opt.param_groups) {
      if (!('initial_lr' in g)) throw new P.PyError('KeyError', "'initial_lr'");
      S.setLr(g, g.initial_lr);
    }
    for (const c of children) recursiveUndo(c);
    // the stage of epoch 0 takes its initial step (torch 2.13: a milestone at 0 skips stage 0). Epoch 0 even
    // when SequentialLR gets a last_epoch (spec A.11; the cold run used last_epoch + 1, which no case tells apart)
    const idx = bisectRight(this._milestones, 0n);
    const first = children[idx];
    if (isComposite(first)) {
      first.step(); // a composite's initial step steps its members outside initial mode (sequentiallr/chained-as-first-stage)
    } else {
      first._step_count = 0n;
      first._initialStep();
    }
    this._last_lr = first.get_last_lr();
  }
  step(...args) {
    stepArity('SequentialLR', args);
    this.last_epoch = P.add(this.last_epoch, 1n);
    const idx = bisectRight(this._milestones, this.last_epoch);
    const sched = this._js_children[idx];
    if (idx > 0 && P.eq(this._milestones[idx - 1], this.last_epoch)) {
      // switching stage: the stage restarts at its epoch 0 (closed form where it has one), no warning
      if (isComposite(sched)) notImplemented();
      sched.last_epoch = 0n;
      const values = sched.hasClosedForm() ? sched.closedForm() : sched.getLr();
      S.writeAll(this._optimizer, values);
      sched._last_lr = sched.lrs();
    } else {
      sched.step();
    }
    this._last_lr = sched.get_last_lr();
  }
  getLr() { return notImplemented(); }
  get_lr() { return notImplemented(); } // the base class's get_lr, called by the user (spec 4.5): no warning
  get_last_lr() { return this._last_lr; }
  state_dict() { return compositeState(this); }
  load_state_dict(s) { compositeLoad(this, s); }
}

module.exports = { COMPOSITES: { ChainedScheduler, SequentialLR } };
