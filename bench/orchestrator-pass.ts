// Issue 15: one replicated reconcile pass over a large service, without a cluster. A pass reads every
// task of the service to plan up to MAX_TASKS_PER_PASS creates or removals, so a 100,000-replica
// create or scale-to-0 runs twenty of them; this times one (median and fastest of 5 runs of 10).
//
//   npm run build && node dist/bench/orchestrator-pass.js [--tasks 100000] [--nodes 1000]
//
// What a pass leaves for the old generation shows with node's own GC trace:
//   node --trace-gc-nvp dist/bench/orchestrator-pass.js | grep -o 'promoted=[0-9]*'
import { reconcileReplicated } from '../src/manager/orchestrator/core/replicated';
import { MAX_TASKS_PER_PASS } from '../src/manager/orchestrator/loop';
import { idGen, mkService, mkTask, T0 } from '../src/manager/orchestrator/core/testkit';
import type { Task } from '../src/types';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}
const TASKS = Number(arg('tasks', '100000'));
const NODES = Number(arg('nodes', '1000'));

function timePass(pass: () => unknown): { median: number; min: number } {
  for (let i = 0; i < 5; i++) pass();
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 10; i++) pass();
    runs.push(Number(process.hrtime.bigint() - t0) / 1e6 / 10);
  }
  runs.sort((a, b) => a - b);
  return { median: runs[2]!, min: runs[0]! };
}

// TASKS running tasks in slots 1..TASKS on NODES nodes, one in ten not yet running
const held = mkService('s', { replicas: TASKS });
const tasks: Task[] = [];
for (let i = 1; i <= TASKS; i++) tasks.push(mkTask(held, { id: `t${i}`, slot: i, node: `n${i % NODES}`, state: i % 10 ? 'running' : 'starting' }));
const half = tasks.slice(0, TASKS / 2);

const cases: [string, () => unknown][] = [
  [`scale up: ${TASKS / 2} held of ${TASKS}`, () => reconcileReplicated({ service: held, tasks: half, nodes: new Map(), now: T0, newId: idGen(), limit: MAX_TASKS_PER_PASS })],
  [`scale down: ${TASKS} held, 0 wanted`, () => reconcileReplicated({ service: mkService('s', { replicas: 0 }), tasks, nodes: new Map(), now: T0, newId: idGen(), limit: MAX_TASKS_PER_PASS })],
];
console.log(`| pass (${NODES} nodes, at most ${MAX_TASKS_PER_PASS} tasks planned) | median ms | fastest ms |`);
console.log('|---|---|---|');
for (const [what, pass] of cases) {
  const t = timePass(pass);
  console.log(`| ${what} | ${t.median.toFixed(1)} | ${t.min.toFixed(1)} |`);
}
