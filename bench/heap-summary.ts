// Summarizes a V8 heap snapshot (e.g. one `bench/scale.ts --heap-snapshot DIR` wrote): live bytes by
// constructor, and the dominator tree (who keeps what alive) down to the owners above a threshold.
//
//   node --max-old-space-size=8000 dist/bench/heap-summary.js FILE.heapsnapshot [--min-mib 1] [--depth 14] [--top 40]
//
// Retained sizes follow V8's own definition (DevTools' "Retained Size"): an object retains what is
// reachable only through it; weak edges do not retain.
import fs from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] }; node_count: number };
  nodes: number[];
  edges: number[];
  strings: string[];
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const MiB = 2 ** 20;
const file = process.argv[2];
if (!file) throw new Error('usage: heap-summary FILE.heapsnapshot [--min-mib M] [--depth D] [--top N]');
const MIN = Number(arg('min-mib', '1')) * MiB;
const DEPTH = Number(arg('depth', '14'));
const TOP = Number(arg('top', '40'));

const s = JSON.parse(fs.readFileSync(file, 'utf8')) as Snapshot;
const nf = s.snapshot.meta.node_fields;
const ef = s.snapshot.meta.edge_fields;
const NF = nf.length;
const EF = ef.length;
const [nType, nName, nSelf, nEdges] = ['type', 'name', 'self_size', 'edge_count'].map((f) => nf.indexOf(f)) as [number, number, number, number];
const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => ef.indexOf(f)) as [number, number, number];
const nodeTypes = s.snapshot.meta.node_types[0];
const edgeTypes = s.snapshot.meta.edge_types[0];
const N = s.nodes.length / NF;
const firstEdge = new Uint32Array(N + 1);
for (let i = 0, e = 0; i < N; i++) {
  firstEdge[i] = e;
  e += s.nodes[i * NF + nEdges]! * EF;
  firstEdge[i + 1] = e;
}
const weak = edgeTypes.indexOf('weak');
const shortcut = edgeTypes.indexOf('shortcut');
const self = (i: number) => s.nodes[i * NF + nSelf]!;
const typeOf = (i: number) => nodeTypes[s.nodes[i * NF + nType]!]!;
const nameOf = (i: number) => s.strings[s.nodes[i * NF + nName]!]!;
/** What an object is called in the tables: its constructor (objects), else its V8 type and name. */
function label(i: number): string {
  const t = typeOf(i);
  const n = nameOf(i);
  if (t === 'object' || t === 'closure' || t === 'native') return `${t === 'object' ? '' : t + ' '}${n.slice(0, 60)}`;
  if (t === 'string' || t === 'concatenated string' || t === 'sliced string') return `(${t})`;
  return `(${t}) ${n.slice(0, 40)}`;
}
function edgeName(e: number): string {
  const t = edgeTypes[s.edges[e + eType]!]!;
  const v = s.edges[e + eName]!;
  return t === 'element' || t === 'hidden' ? `[${v}]` : String(s.strings[v]).slice(0, 40);
}

// ---- by constructor ----
const byLabel = new Map<string, { count: number; bytes: number }>();
let total = 0;
for (let i = 0; i < N; i++) {
  const l = label(i);
  const r = byLabel.get(l) ?? { count: 0, bytes: 0 };
  r.count++;
  r.bytes += self(i);
  total += self(i);
  byLabel.set(l, r);
}
console.log(`${file}: ${N} nodes, ${(total / MiB).toFixed(1)} MiB live (self sizes)`);
console.log(`\n| self MiB | count | bytes each | constructor / type |\n|---|---|---|---|`);
for (const [l, r] of [...byLabel].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, TOP)) {
  console.log(`| ${(r.bytes / MiB).toFixed(2)} | ${r.count} | ${(r.bytes / r.count).toFixed(0)} | ${l} |`);
}

// ---- dominators (Cooper, Harvey & Kennedy's iterative algorithm over a reverse postorder from the root) ----
const order = new Int32Array(N).fill(-1); // postorder number
const post: number[] = [];
{
  const stack: number[] = [0];
  const edgeAt = new Uint32Array(N);
  for (let i = 0; i < N; i++) edgeAt[i] = firstEdge[i]!;
  const seen = new Uint8Array(N);
  seen[0] = 1;
  while (stack.length > 0) {
    const v = stack[stack.length - 1]!;
    let pushed = false;
    while (edgeAt[v]! < firstEdge[v + 1]!) {
      const e = edgeAt[v]!;
      edgeAt[v] = e + EF;
      const t = s.edges[e + eType]!;
      if (t === weak || t === shortcut) continue;
      const w = s.edges[e + eTo]! / NF;
      if (!seen[w]) {
        seen[w] = 1;
        stack.push(w);
        pushed = true;
        break;
      }
    }
    if (!pushed) {
      stack.pop();
      order[v] = post.length;
      post.push(v);
    }
  }
}
// predecessors, for the reachable nodes only
const predCount = new Uint32Array(N + 1);
for (let v = 0; v < N; v++) {
  if (order[v]! < 0) continue;
  for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += EF) {
    const t = s.edges[e + eType]!;
    if (t === weak || t === shortcut) continue;
    predCount[s.edges[e + eTo]! / NF]!++;
  }
}
const predStart = new Uint32Array(N + 1);
for (let i = 0; i < N; i++) predStart[i + 1] = predStart[i]! + predCount[i]!;
const preds = new Uint32Array(predStart[N]!);
const fill = predStart.slice(0, N);
for (let v = 0; v < N; v++) {
  if (order[v]! < 0) continue;
  for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += EF) {
    const t = s.edges[e + eType]!;
    if (t === weak || t === shortcut) continue;
    const w = s.edges[e + eTo]! / NF;
    preds[fill[w]!++] = v;
  }
}
const idom = new Int32Array(N).fill(-1);
idom[0] = 0;
const intersect = (a: number, b: number) => {
  while (a !== b) {
    while (order[a]! < order[b]!) a = idom[a]!;
    while (order[b]! < order[a]!) b = idom[b]!;
  }
  return a;
};
for (let changed = true, round = 0; changed && round < 100; round++) {
  changed = false;
  for (let k = post.length - 2; k >= 0; k--) {
    const v = post[k]!;
    let d = -1;
    for (let p = predStart[v]!; p < predStart[v + 1]!; p++) {
      const u = preds[p]!;
      if (idom[u]! < 0) continue;
      d = d < 0 ? u : intersect(u, d);
    }
    if (d >= 0 && idom[v] !== d) {
      idom[v] = d;
      changed = true;
    }
  }
}
const retained = new Float64Array(N);
for (const v of post) retained[v]! += self(v); // post order: children before their dominator
for (const v of post) if (v !== 0) retained[idom[v]!]! += retained[v]!;
// post order visits a node after its DFS children, but a dominated node is always a DFS descendant of its dominator
const children = new Map<number, number[]>();
for (const v of post) {
  if (v === 0) continue;
  const d = idom[v]!;
  if (!children.has(d)) children.set(d, []);
  children.get(d)!.push(v);
}
/** The edge name by which `d` refers to `v`, if it does directly. */
function via(d: number, v: number): string {
  for (let e = firstEdge[d]!; e < firstEdge[d + 1]!; e += EF) if (s.edges[e + eTo]! / NF === v) return edgeName(e);
  return '…';
}
console.log(`\nDominator tree (retained MiB, ≥ ${MIN / MiB} MiB, depth ≤ ${DEPTH}; siblings below the threshold summed per label):`);
function walk(v: number, depth: number, indent: string): void {
  const kids = (children.get(v) ?? []).sort((a, b) => retained[b]! - retained[a]!);
  const small = new Map<string, { n: number; bytes: number }>();
  for (const k of kids) {
    if (retained[k]! >= MIN && depth < DEPTH) {
      console.log(`${indent}${(retained[k]! / MiB).toFixed(1).padStart(7)}  ${via(v, k)} → ${label(k)}`);
      walk(k, depth + 1, indent + '  ');
    } else {
      const r = small.get(label(k)) ?? { n: 0, bytes: 0 };
      r.n++;
      r.bytes += retained[k]!;
      small.set(label(k), r);
    }
  }
  for (const [l, r] of [...small].sort((a, b) => b[1].bytes - a[1].bytes)) {
    if (r.bytes >= MIN) console.log(`${indent}${(r.bytes / MiB).toFixed(1).padStart(7)}  ${r.n} × ${l} (each < ${MIN / MiB} MiB)`);
  }
}
walk(0, 0, '');
