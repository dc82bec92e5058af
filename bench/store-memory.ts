// Issue 15: what the manager store's tables and indexes keep per task, without a cluster. One
// MemoryStore driven through its apply path the way a manager's Ready loop drives it (every entry
// JSON-encoded and decoded again, as it comes out of the Raft log): a service of T replicas on N
// nodes is created, assigned, started, then scaled to 0 (desired shutdown, shut down, deleted), and
// the same state once more through a snapshot restore. After each step: V8's heapUsed after two full
// GCs, and what the store still holds. Deterministic (IDs from a seed, fixed timestamps).
//
//   npm run build && node --expose-gc dist/bench/store-memory.js [--tasks 100000] [--nodes 1000] [--batch 500] [--heap-snapshot FILE]
//
// --heap-snapshot writes one (v8.writeHeapSnapshot) with the T tasks running, for bench/heap-summary.
import v8 from 'node:v8';
import { MemoryStore, type Change } from '../src/store';
import type { Node, Service, Task } from '../src/types';
import { SeededRng } from '../src/lib/ports';
import { newId } from '../src/lib/ids';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}
const TASKS = Number(arg('tasks', '100000'));
const NODES = Number(arg('nodes', '1000'));
const BATCH = Number(arg('batch', '500'));
const SNAPSHOT = process.argv.includes('--heap-snapshot') ? arg('heap-snapshot', 'store.heapsnapshot') : undefined;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const MiB = 2 ** 20;

function heapUsed(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

const rng = new SeededRng(15);
let index = 0;
const store = new MemoryStore({ propose: () => Promise.reject(new Error('applied directly')) });
/** As the Ready loop applies an entry: the change list decoded from its bytes. */
const apply = (changes: Change[]) => store.applyCommitted(++index, JSON.parse(JSON.stringify(changes)) as Change[]);
const ts = (s: number) => new Date(Date.UTC(2026, 11, 3, 0, 0, s)).toISOString();

const service: Service = {
  ID: newId(rng),
  Version: { Index: 0 },
  CreatedAt: ts(0),
  UpdatedAt: ts(0),
  Spec: {
    Name: 'big',
    Labels: {},
    TaskTemplate: { ContainerSpec: { Image: 'busybox:latest', Command: ['sleep', '1000'] }, RestartPolicy: { Condition: 'any' }, Placement: {}, ForceUpdate: 0, Runtime: 'container' },
    Mode: { Replicated: { Replicas: TASKS } },
  },
  internal: { specVersion: 1 },
} as Service;
const nodes: Node[] = Array.from({ length: NODES }, (_, i) => ({
  ID: newId(rng),
  Version: { Index: 0 },
  CreatedAt: ts(0),
  UpdatedAt: ts(0),
  Spec: { Role: 'worker', Availability: 'active' },
  Description: { Hostname: `node-${i}`, Platform: { OS: 'linux', Architecture: 'x86_64' }, Resources: {}, Engine: { EngineVersion: '1' } },
  Status: { State: 'ready', Addr: '127.0.0.1' },
}));
const taskIds = Array.from({ length: TASKS }, () => newId(rng));

/** Applies `make(i)` for every task, BATCH tasks an entry (a write transaction's worth). */
function applyAll(make: (i: number) => Change): void {
  for (let i = 0; i < TASKS; i += BATCH) {
    const changes: Change[] = [];
    for (let j = i; j < Math.min(TASKS, i + BATCH); j++) changes.push(make(j));
    apply(changes);
  }
}
const current = (i: number): Task => store.read((tx) => tx.get('task', taskIds[i]!))!;
const updated = (i: number, over: (t: Task) => Partial<Task>): Change => {
  const t = current(i);
  return { action: 'update', kind: 'task', object: { ...t, ...over(t) } };
};
const status = (state: Task['Status']['State'], message: string, s: number, extra: Partial<Task['Status']> = {}): Task['Status'] => ({ Timestamp: ts(s), State: state, Message: message, ...extra });

/** What the store holds: tasks, and the task index keys where the store tells them (not before issue 15's change). */
function held(): string {
  const tasks = store.read((tx) => tx.find('task').length);
  const sizes = (store as unknown as { taskIndexSizes?: () => Record<string, number> }).taskIndexSizes?.();
  if (!sizes) return `${tasks} tasks`;
  return `${tasks} tasks; keys: ${Object.entries(sizes).map(([k, n]) => `${k} ${n}`).join(', ')}`;
}

const rows: [string, number, string][] = [];
const step = (name: string) => rows.push([name, heapUsed(), held()]);

step('empty store');
apply([{ action: 'create', kind: 'service', object: service }, ...nodes.map((n): Change => ({ action: 'create', kind: 'node', object: n }))]);
step(`1 service, ${NODES} nodes`);
applyAll((i) => ({
  action: 'create',
  kind: 'task',
  object: {
    ID: taskIds[i]!,
    Version: { Index: 0 },
    CreatedAt: ts(1),
    UpdatedAt: ts(1),
    Labels: {},
    Spec: service.Spec.TaskTemplate,
    ServiceID: service.ID,
    Slot: i + 1,
    Status: status('pending', 'pending task scheduling', 1),
    DesiredState: 'running',
    internal: { specVersion: 1, serviceName: 'big' },
  },
}));
step(`${TASKS} tasks pending`);
applyAll((i) => updated(i, () => ({ NodeID: nodes[i % NODES]!.ID, UpdatedAt: ts(2), Status: status('assigned', 'scheduler assigned task to node', 2) })));
for (const [state, message, s] of [['accepted', 'accepted', 3], ['preparing', 'preparing', 4], ['starting', 'starting', 5]] as const) applyAll((i) => updated(i, () => ({ UpdatedAt: ts(s), Status: status(state, message, s) })));
applyAll((i) => updated(i, () => ({ UpdatedAt: ts(6), Status: status('running', 'started', 6, { ContainerStatus: { ContainerID: `c${taskIds[i]}`, PID: 1000 + i, ExitCode: 0 } }) })));
step(`${TASKS} tasks running`);
if (SNAPSHOT) console.error(`heap snapshot: ${v8.writeHeapSnapshot(SNAPSHOT)}`);

/** As a member installs a snapshot: the payload decoded again (in a function: no temporary outlives it). */
function restoreFromSnapshot(): void {
  store.restore(JSON.parse(JSON.stringify(store.snapshot())) as ReturnType<MemoryStore['snapshot']>);
}
restoreFromSnapshot();
step(`restored from a snapshot (${TASKS} running)`);
applyAll((i) => updated(i, () => ({ UpdatedAt: ts(7), DesiredState: 'shutdown' })));
applyAll((i) => updated(i, (t) => ({ UpdatedAt: ts(8), Status: status('shutdown', 'shutdown', 8, { ContainerStatus: t.Status.ContainerStatus }) })));
step('scaled to 0: all shut down');
applyAll((i) => ({ action: 'delete', kind: 'task', id: taskIds[i]! }));
step('scaled to 0: all deleted');

console.log(`Store memory: ${TASKS} tasks of one service on ${NODES} nodes, ${BATCH} a log entry (node ${process.version})`);
console.log('| step | heapUsed after GC (MiB) | per task vs. before the tasks (B) | store holds |');
console.log('|---|---|---|---|');
const base = rows[1]![1];
rows.forEach(([name, used, what], i) => console.log(`| ${name} | ${(used / MiB).toFixed(1)} | ${i > 1 ? ((used - base) / TASKS).toFixed(0) : ''} | ${what} |`));
