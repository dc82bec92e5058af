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
// --test-force-exit: a file whose tests have all finished ends even if a test left a socket or timer
// open (its failures are reported either way), so one leak cannot hold CI until its deadline;
// --test-timeout bounds any single test.
const r = spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-concurrency=2', '--test-force-exit', '--test-timeout=600000', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: process.env,
});
process.exit(r.status === null ? 1 : r.status);
