import { test } from 'node:test';
import assert from 'node:assert/strict';
import { immediateStore } from '../../store/testing/immediate';
import type { Clock } from '../../lib/ports';
import type { Node, Task } from '../../types';
import { Scheduler } from './index';
import { waitFor } from '../../testing/wait';

const clock: Clock = { now: () => Date.now() };
const node = (id: string, availability: Node['Spec']['Availability'] = 'active'): Node => ({
  ID: id,
  Version: { Index: 0 },
  CreatedAt: '',
  UpdatedAt: '',
  Spec: { Role: 'worker', Availability: availability, Labels: {} },
  Description: { Hostname: id, Platform: { OS: 'linux', Architecture: 'x86_64' }, Resources: { NanoCPUs: 1e9, MemoryBytes: 1e9 }, Engine: { EngineVersion: '27' } },
  Status: { State: 'ready', Addr: '10.0.0.1' },
});
const pending = (id: string, slot: number): Task => ({
  ID: id,
  Version: { Index: 0 },
  CreatedAt: '',
  UpdatedAt: '',
  Labels: {},
  Spec: { ContainerSpec: { Image: 'x' } },
  ServiceID: 's',
  Slot: slot,
  Status: { Timestamp: '', State: 'pending', Message: 'pending task scheduling' },
  DesiredState: 'running',
  internal: { specVersion: 1, serviceName: 's' },
});

test('Scheduler: explains, then places pending tasks once a node becomes available; spreads them', async () => {
  const store = immediateStore();
  await store.update((tx) => {
    tx.create('node', node('A', 'drain'));
    tx.create('task', pending('t1', 1));
    tx.create('task', pending('t2', 2));
  });
  let writes = 0;
  const w = store.watch({ kinds: ['task'] });
  const sched = new Scheduler({ store, clock });
  sched.start();
  try {
    await waitFor('explained', () => store.view((tx) => tx.find('task')).every((t) => t.Status.Err === 'no suitable node (1 node not available for new tasks)'), 3000);
    writes = w.drain().length;
    assert.equal(writes, 2);
    await store.update((tx) => {
      tx.create('node', node('B'));
      tx.create('node', node('C'));
    });
    await waitFor('assigned', () => store.view((tx) => tx.find('task')).every((t) => t.Status.State === 'assigned'), 3000);
    const ts = store.view((tx) => tx.find('task'));
    assert.deepEqual(ts.map((t) => t.NodeID).sort(), ['B', 'C']);
    assert.ok(ts.every((t) => t.Status.Message === 'scheduler assigned task to node' && t.Status.Err === undefined));
  } finally {
    w.close();
    await sched.stop();
  }
});
