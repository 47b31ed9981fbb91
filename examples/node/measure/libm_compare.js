#!/usr/bin/env node
'use strict';
// How often V8's Math.cos / Math.pow / Math.log and lib/crmath.js (correctly rounded) give other bits than the
// C library that produced the goldens, on the arguments libm_reference.py wrote (docs/spec.md Annex B).
//   node examples/node/measure/libm_compare.js /tmp/libm.json
const fs = require('fs');
const CR = require('../lib/crmath');

if (process.argv.length !== 3) {
  process.stderr.write('usage: node libm_compare.js LIBM.json (written by libm_reference.py)\n');
  process.exit(2);
}
const doc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const differs = (a, b) => !Object.is(a, b);
const pct = (n, total) => `${n} (${(100 * n / total).toFixed(2)}%)`;
const rows = [];
for (const [fn, v8, cr] of [['cos', Math.cos, CR.cos], ['pow', Math.pow, CR.pow], ['log', Math.log, CR.log]]) {
  let n = 0; let v8Libc = 0; let crLibc = 0; let libcExact = 0; let crWrong = 0;
  const started = Date.now();
  for (const row of doc[fn]) {
    const args = fn === 'pow' ? row.slice(0, 2) : row.slice(0, 1);
    const [libc, exact] = row.slice(args.length);
    if (exact === null) continue; // 0 ** y: a special case, not a rounding question
    n += 1;
    const mine = cr(...args);
    if (differs(v8(...args), libc)) v8Libc += 1;
    if (differs(mine, libc)) crLibc += 1;
    if (differs(libc, exact)) libcExact += 1;
    if (differs(mine, exact)) crWrong += 1;
  }
  rows.push([fn, n, pct(v8Libc, n), pct(crLibc, n), pct(libcExact, n), crWrong, `${Date.now() - started} ms`]);
}
console.log(`C library ${doc.c_library} (through CPython ${doc.python}) vs Node ${process.version}`);
console.log('| function | arguments | V8 Math.* != libc | crmath != libc | libc != correctly rounded | crmath != correctly rounded | crmath time |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
