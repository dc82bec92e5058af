// Every node's load as the store keeps it (NodeLoads, MemoryStore.nodeLoad), and its tasks by state, each against
// a count from scratch over every task (the scheduler's buildNodeInfos), through seeded writes: tasks
// created, placed, moved, started, stopped, wanted stopped, deleted, with reservations and host ports.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStore } from './store';
import type { Change } from './types';
import type { Task, TaskState } from '../types';
import { nodeFixture, taskFixture } from '../testing/fixtures';
import { buildNodeInfos } from '../manager/scheduler/core/nodeinfo';

function raftLikeStore(): MemoryStore {
  let index = 0;
  const decoded = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
  const store: MemoryStore = new MemoryStore({ propose: async (changes: Change[]) => store.applyCommitted(++index, decoded(changes)) }, { freezeCommitted: true });
  return store;
}

const NODES = ['n1', 'n2', 'n3', 'n4'];
const STATES: TaskState[] = ['new', 'pending', 'assigned', 'running', 'running', 'failed', 'shutdown', 'complete'];
const DESIRED: TaskState[] = ['running', 'running', 'ready', 'shutdown', 'remove'];

test('the store keeps each node\'s load as a count from scratch over every task would give it', async () => {
  const store = raftLikeStore();
  let seed = 11;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), Math.floor(seed / 65536) % n);
  await store.update((tx) => {
    for (const n of NODES) tx.create('node', nodeFixture({ ID: n }));
  });
  const random = (id: string): Task =>
    taskFixture({
      ID: id,
      ServiceID: `s${rnd(3)}`,
      Slot: 1 + rnd(5),
      ...(rnd(5) ? { NodeID: NODES[rnd(NODES.length)] } : {}),
      DesiredState: DESIRED[rnd(DESIRED.length)]!,
      Status: { Timestamp: '', State: STATES[rnd(STATES.length)]!, Message: '' },
      Spec: { ContainerSpec: { Image: 'busybox' }, ...(rnd(2) ? { Resources: { Reservations: { NanoCPUs: 1e8 * (1 + rnd(4)), MemoryBytes: 2 ** 20 * rnd(64) } } } : {}) },
      internal: { specVersion: 1, serviceName: 's', ...(rnd(3) === 0 ? { ports: [{ Protocol: 'tcp' as const, TargetPort: 80, PublishedPort: 8000 + rnd(3), PublishMode: 'host' as const }] } : {}) },
    });
  let next = 0;
  let nonEmpty = 0;
  for (let round = 0; round < 150; round++) {
    await store.update((tx) => {
      const live = tx.find('task');
      for (let k = 0; k < 1 + rnd(6); k++) {
        const pick = live.length ? live[rnd(live.length)]! : undefined;
        const op = pick ? rnd(4) : 0;
        if (op === 0) tx.create('task', random(`t${next++}`));
        else if (op === 3) tx.delete('task', pick!.ID);
        else {
          // a new version of the task: placed elsewhere, its state or its wanted state changed
          const r = random(pick!.ID);
          tx.update('task', { ...pick!, ...(op === 1 ? { NodeID: r.NodeID, Status: r.Status } : { DesiredState: r.DesiredState, Status: r.Status }) });
        }
        if (pick) live.splice(live.indexOf(pick), 1);
      }
    });
    const want = store.read((tx) => buildNodeInfos(tx.find('node'), tx.find('task')));
    // and the counts by observed state (swarm_manager_tasks_total) as a count from scratch gives them
    const states = new Map<string, number>();
    for (const t of store.read((tx) => tx.find('task'))) states.set(t.Status.State, (states.get(t.Status.State) ?? 0) + 1);
    assert.deepEqual([...store.taskCountsByState()].sort(), [...states].sort(), `round ${round}: tasks by state`);
    for (const n of NODES) {
      const w = want.get(n)!;
      const kept = store.nodeLoad(n);
      const plain = (l: { active: number; activeByService: Map<string, number>; reserved: object; hostPorts: Map<string, number> } | undefined) =>
        l ? { active: l.active, byService: [...l.activeByService].sort(), reserved: l.reserved, ports: [...l.hostPorts].sort() } : undefined;
      if (w.tasks === 0) assert.equal(kept, undefined, `round ${round}, ${n}: no entry without a task`);
      else {
        nonEmpty++;
        assert.deepEqual(plain(kept), plain(w), `round ${round}, ${n}`);
        assert.equal(kept!.tasks, w.tasks);
      }
    }
  }
  assert.ok(nonEmpty > 300, `${nonEmpty} loaded nodes compared`);
  // everything deleted: nothing kept
  await store.update((tx) => {
    for (const t of tx.find('task')) tx.delete('task', t.ID);
  });
  assert.deepEqual(NODES.map((n) => store.nodeLoad(n)), [undefined, undefined, undefined, undefined]);
  assert.equal(store.taskIndexSizes().loadedNodes, 0);
  assert.equal(store.taskCountsByState().size, 0);
});
