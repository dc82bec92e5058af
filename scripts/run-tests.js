#!/usr/bin/env node
// Runs every compiled test file with node's own test runner.
// --unit: only tests beside the code (src/) and the simulator (test/sim/).
// Tests that need a Docker Engine read SHOAL_TEST_ENGINE (set by .ci/run); see test/harness/engine.ts.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', 'dist');
const unitOnly = process.argv.includes('--unit');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));

function walk(dir, out) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const dirs = unitOnly ? ['src', 'test/sim'] : ['src', 'test'];
let files = dirs.flatMap((d) => walk(path.join(root, d), [])).sort();
if (only.length) files = files.filter((f) => only.some((o) => f.includes(o)));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// Clusters of several managers at test-accelerated Raft ticks (--raft-tick-ms 50: a 500 ms election timeout)
// run one file at a time, after the rest. Two such clusters side by side on two cores starve each other's event
// loops past that timeout and elect new leaders mid-test (reproduced with the pre-existing managers tests alone,
// in CI's file order). Production ticks are Docker's 1 s (a 10 s election timeout); what these files assert is
// unchanged, only who runs beside them.
const SERIAL = [
  'test/e2e/autolock.test.js',
  'test/e2e/events.test.js',
  'test/integration/at-rest.test.js',
  'test/integration/chaos.test.js',
  'test/integration/dispatcher-relay.test.js',
  'test/integration/follower-logs.test.js',
  'test/integration/managers-leave.test.js',
  'test/integration/managers-seven.test.js',
  'test/integration/managers-workers.test.js',
  'test/integration/managers.test.js',
  'test/integration/scale-smoke.test.js',
  'test/integration/write-once.test.js',
].map((f) => path.join(root, f));
const serial = files.filter((f) => SERIAL.includes(f));
const parallel = files.filter((f) => !SERIAL.includes(f));

// --test-force-exit: a file whose tests have all finished ends even if a test left a socket or timer
// open (its failures are reported either way), so one leak cannot hold CI until its deadline;
// --test-timeout bounds any single test.
function run(list, concurrency) {
  if (list.length === 0) return 0;
  const r = spawnSync(process.execPath, ['--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, '--test-force-exit', '--test-timeout=600000', '--test-reporter=spec', ...list], {
    stdio: 'inherit',
    env: process.env,
  });
  return r.status === null ? 1 : r.status;
}
const a = run(parallel, 2);
const b = run(serial, 1);
process.exit(a || b);
