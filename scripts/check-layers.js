#!/usr/bin/env node
// Layering rules of DESIGN.md §7 that ESLint does not express:
//  - cli/ never imports daemon code (only lib/, types/ and the one HTTP client, sys/http-client.ts);
//  - a component under manager/, agent/ or network/ never imports a sibling component; composition roots only wire;
//  - pure zones import only pure zones;
//  - no import cycles;
//  - production code never imports test-only code (testing/ folders, test/; package.json's files leaves them out).
// Type-only imports (`import type`, `import('…').T`) count like any other: a cycle or a reach into an
// impure zone through types still ties the two files together for a reader and for the compiler.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const src = path.join(__dirname, '..', 'src');
const files = [];
(function walk(d) {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) files.push(p);
  }
})(src);

const rel = (p) => path.relative(src, p).split(path.sep).join('/');
// api/backend.ts is the API layer's contract with the daemon: declarations only, no runtime code.
const isPure = (r) => r === 'api/backend.ts' || /^(lib|types|raft|store)\//.test(r) || /(^|\/)core\//.test(r) || r.startsWith('agent/exec/') || r.startsWith('api/convert/');
const compositionRoots = new Set(['manager/manager.ts', 'agent/agent.ts']);
const componentOf = (r) => {
  const m = /^(manager|agent|network)\/([^/]+)\//.exec(r);
  return m ? `${m[1]}/${m[2]}` : null;
};

const graph = new Map();
const errors = [];
for (const f of files) {
  const r = rel(f);
  const text = fs.readFileSync(f, 'utf8');
  const deps = [];
  const re = /(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|(?:require|import)\(['"](\.[^'"]+)['"]\)/g;
  let m;
  while ((m = re.exec(text))) {
    const spec = m[1] || m[2];
    let target = path.resolve(path.dirname(f), spec);
    if (fs.existsSync(target + '.ts')) target += '.ts';
    else if (fs.existsSync(path.join(target, 'index.ts'))) target = path.join(target, 'index.ts');
    else continue;
    const tr = rel(target);
    // test-only code (testing/ folders, test/) is never reached from production code
    const inTesting = (x) => /(^|\/)testing\//.test(x);
    if (!inTesting(r) && (tr.startsWith('..') || inTesting(tr))) errors.push(`${r}: production code imports test-only ${tr}`);
    if (tr.startsWith('..')) continue;
    deps.push(tr);
    if (r.startsWith('cli/') && !/^(cli|lib|types)\//.test(tr) && tr !== 'sys/http-client.ts') errors.push(`${r}: cli/ may import only cli/, lib/, types/ and the one HTTP client sys/http-client.ts (imports ${tr})`);
    if (isPure(r) && !isPure(tr)) errors.push(`${r}: pure zone imports impure ${tr}`);
    const a = componentOf(r);
    const b = componentOf(tr);
    if (a && b && a !== b && !compositionRoots.has(r)) {
      // shared contracts of a role live in <role>/api.ts-like files outside components; siblings stay apart
      errors.push(`${r}: component ${a} imports sibling component ${b}`);
    }
  }
  graph.set(r, deps);
}

// cycle detection (iterative DFS colouring)
const color = new Map();
const stack = [];
function dfs(n) {
  color.set(n, 1);
  stack.push(n);
  for (const d of graph.get(n) || []) {
    if (color.get(d) === 1) {
      errors.push(`import cycle: ${stack.slice(stack.indexOf(d)).concat(d).join(' -> ')}`);
    } else if (!color.get(d)) dfs(d);
  }
  stack.pop();
  color.set(n, 2);
}
for (const n of graph.keys()) if (!color.get(n)) dfs(n);

if (errors.length) {
  for (const e of [...new Set(errors)]) console.error(e);
  process.exit(1);
}
console.log(`layers ok (${files.length} files)`);
