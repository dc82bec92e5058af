#!/usr/bin/env -S node --max-semi-space-size=32
'use strict';
// One binary: `shoal daemon …` runs a node; every other command is the Engine API client.
// The shebang's V8 flag: a manager at scale allocates short-lived objects for every task it places
// (store versions, Raft entries, RPC messages); V8's default young generation (16 MiB semi-spaces)
// promoted them to the old one and collected them there. 32 MiB took a 1,000-node × 100,000-task
// create's leader CPU from 0.71 to 0.46 ms a task (docs/design/performance.md, scale6). It must be
// given at start (V8 sizes the heap once); `node bin/shoal.js` without it runs with the default.
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist', 'src');
if (process.argv[2] === 'daemon') require(path.join(dist, 'node', 'main.js')).runDaemon(process.argv.slice(3));
else require(path.join(dist, 'cli', 'main.js')).main(process.argv.slice(2));
