import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Node, Task, TaskSpec, TaskState } from '../../../types';
import { addTask, buildNodeInfos, type NodeInfo } from './nodeinfo';
import { ASSIGNED_MESSAGE, PENDING_MESSAGE, pickNode, scheduleTasks } from './schedule';
import { noSuitableNode, Pipeline } from './filters';
import { sourceDirOf } from '../../../testing/golden';

const T0 = Date.UTC(2024, 0, 1);

interface Case {
  name: string;
  nodes: { id: string; state?: Node['Status']['State']; availability?: Node['Spec']['Availability']; labels?: Record<string, string>; role?: 'worker' | 'manager'; cpu?: number; mem?: number; os?: string; arch?: string }[];
  existing?: { service: string; node: string; cpu?: number; state?: TaskState; hostPorts?: number[] }[];
  /** Host-mode published ports of the pending tasks' service. */
  hostPorts?: number[];
  spec: Partial<TaskSpec>;
  pending: { id: string; slot?: number; node?: string }[];
  expect: Record<string, string>;
}

function node(c: Case['nodes'][number]): Node {
  return {
    ID: c.id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Role: c.role ?? 'worker', Availability: c.availability ?? 'active', Labels: c.labels ?? {} },
    Description: {
      Hostname: `host-${c.id}`,
      Platform: { OS: c.os ?? 'linux', Architecture: c.arch ?? 'x86_64' },
      Resources: { NanoCPUs: c.cpu ?? 4e9, MemoryBytes: c.mem ?? 8 * 2 ** 30 },
      Engine: { EngineVersion: '27.0.0' },
    },
    Status: { State: c.state ?? 'ready', Addr: '10.0.0.1' },
  };
}

function task(id: string, service: string, spec: Partial<TaskSpec>, o: { slot?: number; node?: string; state?: TaskState; hostPorts?: number[] }): Task {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Labels: {},
    Spec: { ContainerSpec: { Image: 'x' }, ...spec },
    ServiceID: service,
    ...(o.slot !== undefined ? { Slot: o.slot } : {}),
    ...(o.node !== undefined ? { NodeID: o.node } : {}),
    Status: { Timestamp: '', State: o.state ?? 'pending', Message: PENDING_MESSAGE },
    DesiredState: 'running',
    internal: { specVersion: 1, serviceName: service, ...(o.hostPorts ? { ports: o.hostPorts.map((p) => ({ Protocol: 'tcp' as const, TargetPort: 80, PublishedPort: p, PublishMode: 'host' as const })) } : {}) },
  };
}

const file = path.join(sourceDirOf(__dirname), 'testdata', 'schedule-golden.json');
const cases = JSON.parse(fs.readFileSync(file, 'utf8')) as Case[];

for (const c of cases) {
  test(`golden: ${c.name}`, () => {
    const existing = (c.existing ?? []).map((e, i) =>
      task(`e${i}`, e.service, e.cpu ? { Resources: { Reservations: { NanoCPUs: e.cpu } } } : {}, { node: e.node, state: e.state ?? 'running', slot: i + 1, hostPorts: e.hostPorts }),
    );
    const infos = buildNodeInfos(c.nodes.map(node), existing);
    const pending = c.pending.map((p) => task(p.id, 's', c.spec, { ...(p.slot !== undefined ? { slot: p.slot } : {}), ...(p.node ? { node: p.node } : {}), hostPorts: c.hostPorts }));
    const r = scheduleTasks(pending, infos, T0);
    const got: Record<string, string> = {};
    for (const u of r.updates) {
      if (u.Status.State === 'assigned') {
        assert.equal(u.Status.Message, ASSIGNED_MESSAGE);
        assert.equal(u.Status.Err, undefined);
        got[u.ID] = u.NodeID!;
      } else {
        assert.equal(u.Status.State, 'pending');
        assert.equal(u.Status.Message, PENDING_MESSAGE);
        got[u.ID] = `err:${u.Status.Err}`;
      }
    }
    assert.deepEqual(got, c.expect);
    assert.equal(r.unplaced, Object.values(c.expect).filter((v) => v.startsWith('err:')).length);
  });
}

test('an unchanged explanation is not written again; a no-longer-wanted pending task is shut down', () => {
  const infos = buildNodeInfos([], []);
  const t = task('t', 's', {}, { slot: 1 });
  const first = scheduleTasks([t], infos, T0).updates[0]!;
  assert.equal(first.Status.Err, 'no suitable node');
  assert.deepEqual(scheduleTasks([first], infos, T0 + 1).updates, []);
  const old = { ...task('o', 's', {}, { slot: 2 }), DesiredState: 'shutdown' as const };
  const r = scheduleTasks([old], infos, T0);
  assert.equal(r.updates[0]!.Status.State, 'shutdown');
  assert.equal(r.unplaced, 0);
});

/** The placement rule stated plainly: for each task in order, rank every node that passes its filters (pickNode). */
function referenceSchedule(tasks: Task[], infos: Map<string, NodeInfo>): Record<string, string> {
  const got: Record<string, string> = {};
  const all = [...infos.values()].sort((a, b) => (a.node.ID < b.node.ID ? -1 : 1));
  const ordered = [...tasks].sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0) || (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
  for (const t of ordered) {
    const pipeline = new Pipeline(t);
    const chosen = pickNode(t, all.filter((n) => pipeline.passes(n)));
    if (!chosen) {
      got[t.ID] = `err:${noSuitableNode(pipeline.explain())}`;
      continue;
    }
    addTask(chosen, { ...t, NodeID: chosen.node.ID, Status: { ...t.Status, State: 'assigned' } });
    got[t.ID] = chosen.node.ID;
  }
  return got;
}

test('grouped placement chooses what ranking every node for every task chooses (random clusters, specs with reservations, max replicas, host ports, constraints)', () => {
  let seed = 11;
  // the high bits of a linear congruential generator (its low bits repeat with short periods)
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), Math.floor((seed / 0x80000000) * n));
  for (let round = 0; round < 150; round++) {
    const nodes = Array.from({ length: 1 + rnd(12) }, (_, i) =>
      node({ id: `n${String(i).padStart(2, '0')}`, cpu: (1 + rnd(4)) * 1e9, availability: rnd(8) === 0 ? 'drain' : 'active', labels: { zone: `z${rnd(2)}` } }),
    );
    const specs: Partial<TaskSpec>[] = Array.from({ length: 1 + rnd(3) }, () => ({
      ...(rnd(2) ? { Resources: { Reservations: { NanoCPUs: (1 + rnd(2)) * 5e8 } } } : {}),
      Placement: { ...(rnd(3) === 0 ? { MaxReplicas: 1 + rnd(3) } : {}), ...(rnd(4) === 0 ? { Constraints: ['node.labels.zone==z1'] } : {}) },
    }));
    const ports = rnd(5) === 0 ? [8080] : undefined;
    const existing = Array.from({ length: rnd(15) }, (_, i) => task(`e${i}`, rnd(2) ? 's' : 'other', specs[0]!, { node: nodes[rnd(nodes.length)]!.ID, state: 'running', slot: i + 1 }));
    const pending = Array.from({ length: 1 + rnd(40) }, (_, i) => task(`p${String(i).padStart(3, '0')}`, 's', specs[rnd(specs.length)]!, { slot: 100 + i, hostPorts: ports }));
    const nodeList = nodes;
    const want = referenceSchedule(pending, buildNodeInfos(nodeList, existing));
    const r = scheduleTasks(pending, buildNodeInfos(nodeList, existing), T0);
    const got: Record<string, string> = {};
    for (const u of r.updates) got[u.ID] = u.Status.State === 'assigned' ? u.NodeID! : `err:${u.Status.Err}`;
    assert.deepEqual(got, want, `round ${round}`);
  }
});
