// What one scrape of /metrics costs a manager: the exposition rendered over a store of S services with R
// replicas each and 5 history tasks per slot (Docker's default task history), read through the real control
// API's service counts, as the daemon does at every scrape. Prints a table: median and p95 render time and
// the exposition's size. In process: no socket (the listener adds one HTTP round trip).
//   npm run build && node dist/bench/metrics.js [--reps 30]
import { ControlApi } from '../src/manager/controlapi';
import { NodeMetrics } from '../src/metrics';
import { immediateStore } from '../src/store/testing/immediate';
import type { Service, Task } from '../src/types';
import { taskFixture } from '../src/testing/fixtures';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const spec = { ContainerSpec: { Image: 'busybox' } };

async function fill(services: number, replicas: number) {
  const store = immediateStore();
  const at = '2026-01-01T00:00:00.000Z';
  for (let s = 0; s < services; s++) {
    const svc = { ID: `s${s}`, Version: { Index: 1 }, CreatedAt: at, UpdatedAt: at, Spec: { Name: `svc-${s}`, TaskTemplate: spec, Mode: { Replicated: { Replicas: replicas } } }, Endpoint: { Spec: {} }, UpdateStatus: { State: 'completed' }, internal: { specVersion: 1 } } as Service;
    const tasks: Task[] = [];
    for (let slot = 1; slot <= replicas; slot++) {
      for (let h = 0; h < 6; h++) {
        const live = h === 5;
        tasks.push(taskFixture({ ID: `t${s}-${slot}-${h}`, ServiceID: svc.ID, Slot: slot, NodeID: 'n1', Spec: spec, CreatedAt: at, DesiredState: live ? 'running' : 'shutdown', Status: { Timestamp: at, State: live ? 'running' : 'shutdown', Message: '' }, internal: { specVersion: 1, serviceName: svc.Spec.Name } }));
      }
    }
    await store.update((tx) => {
      tx.create('service', svc);
      for (const t of tasks) tx.create('task', t);
    });
  }
  return store;
}

async function main(): Promise<void> {
  const reps = arg('reps', 30);
  const rows: string[][] = [];
  for (const [services, replicas] of [
    [10, 3],
    [100, 5],
    [300, 10],
  ] as const) {
    const store = await fill(services, replicas);
    const control = new ControlApi({ store, clock: { now: () => Date.now() }, rng: { next: () => 0.5, bytes: (n) => new Uint8Array(n) }, newJoinToken: () => '' });
    const metrics = new NodeMetrics({
      engine: { version: '0', commit: 'shoal', architecture: 'x86_64', kernel: '', os: 'linux', osType: 'linux', daemonId: 'bench', ncpu: 1, memTotal: 1 },
      manager: () => ({
        isLeader: () => true,
        read: (fn) => store.read((tx) => fn(tx as never)),
        taskStates: () => store.taskCountsByState(),
        services: () => control.listServices({}, true),
        raft: () => ({ term: 1, leader: 1, commit: 1, applied: 1 }),
        dispatcherSessions: () => 1,
      }),
      mesh: () => [],
    });
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      const { body } = await metrics.render();
      times.push(performance.now() - t0);
      bytes = body.length;
    }
    metrics.close();
    times.sort((a, b) => a - b);
    const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(1);
    rows.push([String(services), String(replicas), String(services * replicas * 6), q(0.5), q(0.95), (bytes / 1024).toFixed(0)]);
  }
  const head = ['services', 'replicas', 'tasks in store', 'render p50 ms', 'render p95 ms', 'exposition KiB'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padStart(width[i]!)).join('  ');
  console.log(`metrics scrape cost (${reps} renders each)`);
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

void main();
