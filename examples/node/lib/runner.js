'use strict';
// Building a case (spec 3) and running it through its step protocol (spec 4), producing a trace (spec 5, 8.3).
const P = require('./pynum');
const { phaseCall, normalize } = require('./events');
const { Optimizer, serialize, deserialize } = require('./optimizer');
const S = require('./schedulers');
const C = require('./composites');
const Y = require('./cyclic');
const W = require('./swalr');

const CONSTRUCTORS = { ...S.PLAIN, ...C.COMPOSITES, ...Y.CYCLIC, ...W.SWA };

function buildNode(node, opt) {
  const name = node.scheduler;
  const kwargs = node.kwargs || {};
  if (name === 'ChainedScheduler' || name === 'SequentialLR') {
    const children = (node.children || []).map((ch) => buildNode(ch, opt)); // depth first, before the composite
    return new CONSTRUCTORS[name](opt, kwargs, children);
  }
  const Ctor = CONSTRUCTORS[name];
  if (!Ctor) throw new Error(`scheduler ${name} not implemented`);
  return new Ctor(opt, kwargs);
}

function build(caseObj) {
  const opt = new Optimizer(caseObj);
  const sched = buildNode(caseObj, opt);
  return { opt, sched };
}

// the schedulers an add-scheduler intervention builds (spec 4.5): they count as the case's
function addedSchedulers(caseObj) {
  return (caseObj.interventions || []).filter((a) => a.do === 'add-scheduler').map((a) => a.scheduler);
}

// spec 5.2 (and 4.5: an added scheduler can drive momentum too)
function drivesMomentum(node) {
  if ((node.scheduler === 'CyclicLR' || node.scheduler === 'OneCycleLR')
    && !(node.kwargs && node.kwargs.cycle_momentum === false)) return true;
  return (node.children || []).some(drivesMomentum);
}
const caseDrivesMomentum = (caseObj) => [caseObj, ...addedSchedulers(caseObj)].some(drivesMomentum);

// the actions of iteration i, in the order listed (spec 4.5: `at` is an iteration or a list of them)
function actionsAt(caseObj, i) {
  const at = (a) => (Array.isArray(a.at) ? a.at : [a.at]).some((x) => Number(x) === i);
  return (caseObj.interventions || []).filter(at);
}

// a value as `set` writes it (spec 4.5): under tensor_lr, lr and initial_lr are 0-dim float32 tensors
function setValue(caseObj, key, value) {
  return caseObj.tensor_lr === true && (key === 'lr' || key === 'initial_lr') ? new P.Tensor(value) : value;
}

function runCase(caseObj, declared) {
  const observations = [];
  const events = [];
  const steps = Number(caseObj.steps);
  const protocol = caseObj.protocol || 'standard';
  const resumeAt = caseObj.resume_at === undefined ? -1 : Number(caseObj.resume_at);
  const momentum = caseObj.observe_momentum === true || caseDrivesMomentum(caseObj);  // spec 5.2
  const withLastLr = declared.observables.includes('last_lr');
  let opt; let sched;
  const added = []; // [scheduler, first, from, replace] of each add-scheduler (spec 4.5)

  // one phase call; returns false when the trace ends (an error event)
  function phase(step, name, fn) {
    const r = phaseCall(fn);
    for (const [type, msg] of r.warnings) events.push([BigInt(step), name, 'warning', type, normalize(msg)]);
    if (!r.ok) {
      events.push([BigInt(step), name, 'error', r.error.pyType, normalize(r.error.pyMessage)]);
      return false;
    }
    return true;
  }

  // every group that exists now; a group the scheduler's get_last_lr() does not cover has no last_lr (4.5)
  function observe(i, stepArg) {
    const rows = [];
    const last = withLastLr ? sched.get_last_lr() : [];
    opt.param_groups.forEach((g, gi) => {
      const lr = P.toFloat(g.lr);
      const m = momentum ? P.toFloat(opt.momentumOf(gi)) : null;
      const l = gi < last.length ? P.toFloat(last[gi]) : null;
      rows.push([BigInt(i), BigInt(gi), lr, m, l, stepArg === null ? null : P.toFloat(stepArg)]);
    });
    observations.push(...rows);
  }

  // 4.3 and 4.5 resume: save both state dicts, build fresh objects, load the listed ones in order
  function resume(i, load) {
    let ckpt;
    if (!phase(i, 'state_dict', () => { ckpt = serialize({ optimizer: opt.state_dict(), scheduler: sched.state_dict() }); })) return false;
    return phase(i, 'resume', () => {
      const state = deserialize(ckpt);
      ({ opt, sched } = build(caseObj));
      for (const what of load) {
        if (what === 'optimizer') opt.load_state_dict(state.optimizer);
        else sched.load_state_dict(state.scheduler);
      }
    });
  }

  // one intervention (4.5); returns false when the trace ends
  function intervene(i, a, noted) {
    switch (a.do) {
      case 'skip-optimizer-step': noted.skip = true; return true;
      case 'scheduler-steps': noted.count = Number(a.count); return true;
      case 'set': return phase(i, 'intervene', () => {
        opt.param_groups[Number(a.group)][a.key] = setValue(caseObj, a.key, a.value);
      });
      case 'add-param-group': return phase(i, 'intervene', () => opt.add_param_group(a.options || {}));
      case 'wrap-optimizer-step': return phase(i, 'intervene', () => opt.wrapStep(a.keep_attributes === true));
      case 'add-scheduler': return phase(i, 'intervene', () => {
        // stepped from `from` (absent: this `at`); with `replace`, the case's scheduler is not stepped from then on
        added.push([buildNode(a.scheduler, opt), a.first === true, a.from === undefined ? i : Number(a.from), a.replace === true]);
      });
      case 'call': {
        let values;
        if (!phase(i, 'call', () => { values = a.method === 'get_lr' ? sched.get_lr() : sched.get_last_lr(); })) return false;
        for (const v of values) events.push([BigInt(i), 'call', 'value', a.method, P.floatRepr(P.toFloat(v))]);
        return true;
      }
      case 'read-scheduler': { // spec 4.5: one value event per element, typed by the attribute
        let value;
        if (!phase(i, 'call', () => {
          if (!(a.attribute in sched)) {
            throw new P.PyError('AttributeError', `'${sched.constructor.name}' object has no attribute '${a.attribute}'`);
          }
          value = sched[a.attribute];
        })) return false;
        for (const v of (Array.isArray(value) ? value : [value])) {
          events.push([BigInt(i), 'call', 'value', a.attribute, typeof v === 'bigint' ? v.toString() : P.floatRepr(P.toFloat(v))]);
        }
        return true;
      }
      case 'set-scheduler': return phase(i, 'intervene', () => { // a list is replaced whole, by a copy
        sched[a.attribute] = Array.isArray(a.value) ? a.value.slice() : a.value;
      });
      case 'resume': return resume(i, a.load);
      default: throw new Error(`unknown intervention ${a.do}`);
    }
  }

  const done = () => ({ observations, events });

  if (!phase(0, 'construct', () => { ({ opt, sched } = build(caseObj)); })) return done();

  for (let i = 0; i < steps; i++) {
    if (i === resumeAt && !resume(i, ['optimizer', 'scheduler'])) return done();
    const noted = { skip: false, count: 1 };
    for (const a of actionsAt(caseObj, i)) if (!intervene(i, a, noted)) return done();
    let args = [];
    let stepArg = null;
    if (caseObj.metrics !== undefined) {
      args = [caseObj.metrics[i]];
      stepArg = caseObj.metrics[i];
      if (protocol === 'step-epoch') args.push(caseObj.epochs[i]);
    } else if (protocol === 'step-epoch') {
      args = [caseObj.epochs[i]];
      stepArg = caseObj.epochs[i];
    }
    const stepping = added.filter(([, , from]) => i >= from);
    const replaced = stepping.some(([, , , replace]) => replace);
    const stepAdded = (first) => stepping.every(([s, f]) => f !== first || phase(i, 'added-scheduler.step', () => s.step()));
    const stepSchedulers = () => {
      for (let n = 0; n < noted.count; n++) {
        if (!stepAdded(true) || !(replaced || phase(i, 'scheduler.step', () => sched.step(...args))) || !stepAdded(false)) return false;
      }
      return true;
    };
    const stepOptimizer = () => noted.skip || phase(i, 'optimizer.step', () => opt.step());
    if (protocol === 'scheduler-first') {
      if (!stepSchedulers() || !phase(i, 'observe', () => observe(i, stepArg)) || !stepOptimizer()) return done();
    } else if (!phase(i, 'observe', () => observe(i, stepArg)) || !stepOptimizer() || !stepSchedulers()) return done();
  }
  return done();
}

module.exports = { runCase, build, drivesMomentum, addedSchedulers, CONSTRUCTORS };
