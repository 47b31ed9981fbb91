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

// spec 5.2
function drivesMomentum(node) {
  if ((node.scheduler === 'CyclicLR' || node.scheduler === 'OneCycleLR')
    && !(node.kwargs && node.kwargs.cycle_momentum === false)) return true;
  return (node.children || []).some(drivesMomentum);
}

function runCase(caseObj, declared) {
  const observations = [];
  const events = [];
  const steps = Number(caseObj.steps);
  const protocol = caseObj.protocol || 'standard';
  const resumeAt = caseObj.resume_at === undefined ? -1 : Number(caseObj.resume_at);
  const momentum = caseObj.observe_momentum === true || drivesMomentum(caseObj);  // spec 5.2
  const withLastLr = declared.observables.includes('last_lr');
  let opt; let sched;

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

  function observe(i, stepArg) {
    const rows = [];
    opt.param_groups.forEach((g, gi) => {
      const lr = P.toFloat(g.lr);
      const m = momentum ? P.toFloat(opt.momentumOf(gi)) : null;
      let last = null;
      if (withLastLr) last = P.toFloat(sched.get_last_lr()[gi]);
      rows.push([BigInt(i), BigInt(gi), lr, m, last, stepArg === null ? null : P.toFloat(stepArg)]);
    });
    observations.push(...rows);
  }

  const done = () => ({ observations, events });

  if (!phase(0, 'construct', () => { ({ opt, sched } = build(caseObj)); })) return done();

  for (let i = 0; i < steps; i++) {
    if (i === resumeAt) {
      let ckpt;
      if (!phase(i, 'state_dict', () => { ckpt = serialize({ optimizer: opt.state_dict(), scheduler: sched.state_dict() }); })) return done();
      if (!phase(i, 'resume', () => {
        const state = deserialize(ckpt);
        ({ opt, sched } = build(caseObj));
        opt.load_state_dict(state.optimizer);
        sched.load_state_dict(state.scheduler);
      })) return done();
    }
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
    if (protocol === 'scheduler-first') {
      if (!phase(i, 'scheduler.step', () => sched.step(...args))) return done();
      if (!phase(i, 'observe', () => observe(i, stepArg))) return done();
      if (!phase(i, 'optimizer.step', () => opt.step())) return done();
    } else {
      if (!phase(i, 'observe', () => observe(i, stepArg))) return done();
      if (!phase(i, 'optimizer.step', () => opt.step())) return done();
      if (!phase(i, 'scheduler.step', () => sched.step(...args))) return done();
    }
  }
  return done();
}

module.exports = { runCase, build, drivesMomentum, CONSTRUCTORS };
