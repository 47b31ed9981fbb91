#!/usr/bin/env node
'use strict';
// lr-conformance subprocess adapter (spec section 8): JSON lines on stdin/stdout.
const readline = require('readline');
const J = require('./lib/pyjson');
const { runCase, CONSTRUCTORS } = require('./lib/runner');
const { INFO } = require('./lib/info');

function answer(obj) { process.stdout.write(J.stringify(obj) + '\n'); }

function schedulersOf(node, acc = new Set()) {
  acc.add(node.scheduler);
  for (const ch of node.children || []) schedulersOf(ch, acc);
  return acc;
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
    for (const s of schedulersOf(c)) {
      if (!INFO.schedulers.includes(s) || !CONSTRUCTORS[s]) return { unsupported: `scheduler ${s} not implemented` };
    }
    if (c.tensor_lr === true && !INFO.features.includes('tensor_lr')) return { unsupported: 'tensor_lr' };
    // an integer lr under tensor_lr is an int64 tensor (spec 3.3): int64 arithmetic is not implemented here
    if (c.tensor_lr === true && c.groups.some((g) => typeof g.lr === 'bigint' || typeof g.initial_lr === 'bigint')) {
      return { unsupported: 'an integer lr under tensor_lr (an int64 tensor, spec 3.3) is not implemented' };
    }
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
