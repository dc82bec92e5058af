#!/usr/bin/env node
'use strict';
// One binary: `shoal daemon …` runs a node; every other command is the Engine API client.
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist', 'src');
if (process.argv[2] === 'daemon') require(path.join(dist, 'node', 'main.js')).runDaemon(process.argv.slice(3));
else require(path.join(dist, 'cli', 'main.js')).main(process.argv.slice(2));
