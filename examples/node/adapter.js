#!/usr/bin/env node
'use strict';
// lr-conformance subprocess adapter (spec section 8): JSON lines on stdin/stdout.
const readline = require('readline');
const J = require('./lib/pyjson');
const { runCase, addedSchedulers, CONSTRUCTORS } = require('./lib/runner');
const { INFO } = require('./lib/info');

function answer(obj) { process.stdout.write(J.stringify(obj) + '\n'); }

function schedulersOf(node, acc = new Set()) {
  acc.add(node.scheduler);
  for (const ch of node.children || []) schedulersOf(ch, acc);
  return acc;
}

// Configurations of the interventions (spec 4.5) that no case has and the spec does not settle: answered
// unsupported rather than guessed (examples/node/README.md, "Gaps").
function unspecified(c) {
  const acts = c.interventions || [];
  const tensor = c.tensor_lr === true;
  if (tensor && acts.some((a) => a.do === 'add-param-group')) {
    return 'add-param-group under tensor_lr: the spec does not say whether the new group\'s lr is a tensor';
  }
  if (tensor && acts.some((a) => a.do === 'set' && a.key !== 'momentum' && typeof a.value === 'bigint')) {
    return 'an integer set under tensor_lr: spec 4.5 says a float32 tensor, 3.3 says an integer is int64';
  }
  const iterations = (what) => acts.filter((a) => a.do === what).flatMap((a) => [a.at].flat()).map(Number);
  const firstAdd = Math.min(...iterations('add-param-group'));
  // resume_at comes before the iteration's actions; a resume action of the add's iteration may follow it
  if (iterations('resume').some((r) => r >= firstAdd) || (c.resume_at !== undefined && Number(c.resume_at) > firstAdd)) {
    return 'a resume after add-param-group: the spec does not say how a checkpoint of more groups loads into fresh objects';
  }
  return null;
}

function handle(line) {
  let req;
  try { req = J.parse(line); } catch (e) { return { error: `not JSON: ${e.message}` }; }
  if (!req || typeof req !== 'object' || Array.isArray(req)) return { error: 'request is not an object' };
  if (req.op === 'hello') {
    if (req.protocol !== undefined && req.protocol !== 1n) return { error: `unsupported protocol ${req.protocol}` };
    return INFO;
  }
  if (req.op === 'trace') {
    const c = J.decodeNonFinite(req.case);
    const names = new Set();
    for (const node of [c, ...addedSchedulers(c)]) schedulersOf(node, names);
    for (const s of names) {
      if (!INFO.schedulers.includes(s) || !CONSTRUCTORS[s]) return { unsupported: `scheduler ${s} not implemented` };
    }
    if (c.tensor_lr === true && !INFO.features.includes('tensor_lr')) return { unsupported: 'tensor_lr' };
    const gap = unspecified(c);
    if (gap !== null) return { unsupported: gap };
    try {
      return { trace: runCase(c, INFO) };
    } catch (e) {
      process.stderr.write(`${c.id}: ${e && e.stack}\n`);
      return { error: `adapter failure: ${e && e.message}`, type: e && e.name };
    }
  }
  return { error: `unknown op ${JSON.stringify(req.op)}` };
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
// NODE_EXAMPLE_LOG=FILE appends every request line to FILE (for debugging a case by hand)
const LOG = process.env.NODE_EXAMPLE_LOG ? require('fs').openSync(process.env.NODE_EXAMPLE_LOG, 'a') : null;
rl.on('line', (line) => {
  if (LOG !== null) require('fs').writeSync(LOG, line + '\n');
  if (line.trim() !== '') answer(handle(line));
});
rl.on('close', () => process.exit(0));
