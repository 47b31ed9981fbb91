#!/usr/bin/env node
'use strict';
// An lr-conformance adapter in plain Node.js (no dependencies), written from docs/spec.md: it speaks the
// subprocess protocol (spec section 8) on stdin/stdout and runs each case's step protocol itself (section 4).
//
//   lr-conformance run --adapter 'cmd:node examples/node/adapter.js'

const readline = require('node:readline');
const py = require('./python');
const { Optimizer, SCHEDULERS } = require('./schedulers');

// 2^-52 per ULP: the relative tolerance that admits differences of up to 4 ULPs (spec 7.3). Why: V8's Math.cos
// is not glibc's cos, so CosineAnnealingLR's values can differ in the last bits (examples/node/README.md).
const ULPS = 4;

const INFO = {
  name: 'node-example',
  version: '1.0.0',
  schedulers: Object.keys(SCHEDULERS),
  features: ['state_dict', 'last_epoch', 'scheduler_first', 'step_epoch', 'plateau', 'warnings', 'errors'],
  observables: ['last_lr'],
  tolerance: {
    rel: ULPS * 2 ** -52,
    abs: 0,
    reason: `V8's Math.cos differs from glibc's cos (CPython) in the last ULP for some arguments, and ` +
      `CosineAnnealingLR's recursive form carries it forward: up to ${ULPS} ULPs (measured: examples/node/README.md)`,
  },
  mirrors: null,
  protocol: 1,
};

// Keys whose values are text, never numbers (spec 2.3): a string "inf" there stays a string.
const TEXT_KEYS = new Set(['id', 'why', 'scheduler', 'protocol', 'torch', 'tags', 'expect_error', 'expect_warning',
  'name', 'fn']);
const NON_FINITE = { nan: NaN, inf: Infinity, '-inf': -Infinity };

function decodeNumbers(value, key) {
  if (typeof value === 'string' && value in NON_FINITE && !TEXT_KEYS.has(key)) return NON_FINITE[value];
  if (Array.isArray(value)) return value.map((item) => decodeNumbers(item, key));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decodeNumbers(v, k)]));
  }
  return value;
}

function encodeNumber(value) {
  if (value === null || value === undefined) return null;
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  return value;
}

// Checkpoints are JSON text (spec 4.3: no live object shared with the run it came from); JSON has no
// non-finite numbers, so they are tagged (a plateau scheduler's `best` starts at inf).
function serialize(state) {
  return JSON.stringify(state, (key, value) =>
    (typeof value === 'number' && !Number.isFinite(value) ? { nonFinite: encodeNumber(value) } : value));
}

function deserialize(text) {
  return JSON.parse(text, (key, value) =>
    (value !== null && typeof value === 'object' && 'nonFinite' in value ? NON_FINITE[value.nonFinite] : value));
}

function build(caseData, warn) {
  // Spec section 3. Absent keys take their defaults (2.3).
  let optimizer = caseData.optimizer ?? { name: 'SGD' };
  if (typeof optimizer === 'string') optimizer = { name: optimizer };
  const { name, ...optimizerKwargs } = optimizer;
  const opt = new Optimizer(name, optimizerKwargs, caseData.groups);
  const Scheduler = SCHEDULERS[caseData.scheduler];
  return { optimizer: opt, scheduler: new Scheduler(opt, caseData.kwargs ?? {}, warn) };
}

function normalize(message) {
  // Spec 5.3: whitespace runs collapsed, trimmed, at most 160 characters.
  const text = String(message).split(/\s+/).filter(Boolean).join(' ');
  return text.length <= 160 ? text : `${text.slice(0, 157)}...`;
}

class Stop extends Error {}

function runCase(caseData) {
  // Spec section 4.1, phase by phase.
  const observations = [];
  const events = [];
  let pending = [];
  const warn = (type, message) => pending.push([type, message]);
  const call = (step, phase, fn) => {
    pending = [];
    let result;
    try {
      result = fn();
    } catch (error) {
      if (!(error instanceof py.PythonError)) throw error; // a bug here, not behaviour: answered as an error
      for (const [type, message] of pending) events.push([step, phase, 'warning', type, normalize(message)]);
      events.push([step, phase, 'error', error.type, normalize(error.message)]);
      throw new Stop();
    }
    for (const [type, message] of pending) events.push([step, phase, 'warning', type, normalize(message)]);
    return result;
  };

  const protocol = caseData.protocol ?? 'standard';
  const metrics = caseData.metrics;
  const epochs = protocol === 'step-epoch' ? caseData.epochs : undefined;
  const resumeAt = caseData.resume_at;
  const stepArgs = metrics ?? epochs;
  let session;

  const observe = (i) => call(i, 'observe', () => {
    const lrs = session.optimizer.paramGroups.map((group) => group.lr);
    const last = session.scheduler.getLastLr();
    lrs.forEach((lr, g) => {
      observations.push([i, g, encodeNumber(lr), null, encodeNumber(last[g]), stepArgs ? encodeNumber(stepArgs[i]) : null]);
    });
  });
  const schedulerStep = (i) => call(i, 'scheduler.step', () => {
    if (metrics !== undefined) session.scheduler.step(metrics[i], epochs === undefined ? undefined : epochs[i]);
    else session.scheduler.step(epochs === undefined ? undefined : epochs[i]);
  });
  const optimizerStep = (i) => call(i, 'optimizer.step', () => session.optimizer.step());

  try {
    session = call(0, 'construct', () => build(caseData, warn));
    for (let i = 0; i < caseData.steps; i += 1) {
      if (i === resumeAt) {
        const checkpoint = call(i, 'state_dict', () => serialize({
          optimizer: session.optimizer.stateDict(), scheduler: session.scheduler.stateDict(),
        }));
        session = call(i, 'resume', () => {
          const state = deserialize(checkpoint);
          const fresh = build(caseData, warn);
          fresh.optimizer.loadStateDict(state.optimizer); // the optimizer first, then the scheduler
          fresh.scheduler.loadStateDict(state.scheduler);
          return fresh;
        });
      }
      if (protocol === 'scheduler-first') {
        schedulerStep(i);
        observe(i);
        optimizerStep(i);
      } else {
        observe(i);
        optimizerStep(i);
        schedulerStep(i);
      }
    }
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
  }
  return { observations, events };
}

function answer(request) {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    return { error: 'a request must be a JSON object' };
  }
  if (request.op === 'hello') return INFO;
  if (request.op === 'trace') {
    const caseData = decodeNumbers(request.case);
    if (!(caseData.scheduler in SCHEDULERS) || caseData.children !== undefined) {
      return { unsupported: `${caseData.scheduler} is not implemented here` };
    }
    if (caseData.tensor_lr) return { unsupported: 'float32 tensor learning rates are not implemented here' };
    try {
      return { trace: runCase(caseData) };
    } catch (error) {
      return { error: `${error.name}: ${error.message}` };
    }
  }
  return { error: `unknown op ${JSON.stringify(request.op)} (expected 'hello' or 'trace')` };
}

const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
input.on('line', (line) => {
  if (!line.trim()) return;
  let reply;
  try {
    reply = answer(JSON.parse(line)); // JSON.parse is strict: a bare NaN token is a SyntaxError
  } catch (error) {
    reply = { error: `request is not JSON: ${error.message}` };
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
});
