import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeFixture } from '../testing/fixtures';
import { NOT_A_MANAGER_MESSAGE, unavailable } from '../lib/errors';
import type { Node } from '../types';
import { ViewHub, type ClusterChanges, type ViewBackend } from './hub';

/** The hub's narrow port, over a list of nodes the test changes; reads wait until the test lets them finish. */
class Cluster implements ClusterChanges, ViewBackend {
  nodes: Node[] = [];
  reads = 0;
  failWith: Error | undefined;
  private gate: Promise<void> = Promise.resolve();
  private open: () => void = () => undefined;
  private listener: () => void = () => undefined;

  subscribe(onChange: () => void): () => void {
    this.listener = onChange;
    return () => (this.listener = () => undefined);
  }
  change(): void {
    this.listener();
  }
  /** Reads from now on wait for release(). */
  hold(): void {
    this.gate = new Promise((r) => (this.open = r));
  }
  release(): void {
    this.open();
  }
  async listNodes() {
    this.reads++;
    await this.gate;
    if (this.failWith) throw this.failWith;
    return structuredClone(this.nodes);
  }
  async listServices() {
    return [];
  }
  async listTasks() {
    return [];
  }
}

const frames = (sent: string[], event: string) => sent.filter((f) => f.startsWith(`event: ${event}\n`)).map((f) => JSON.parse(f.split('\ndata: ')[1]!));
const settle = () => new Promise((r) => setImmediate(r));

test('a page gets the whole view, then one patch per read; changes during a read cause exactly one more', async () => {
  const c = new Cluster();
  c.nodes = [nodeFixture({ ID: 'n1' })];
  const hub = new ViewHub(c, c);
  const sent: string[] = [];
  await hub.join((f) => sent.push(f));
  assert.equal(c.reads, 1);
  assert.deepEqual(frames(sent, 'view')[0].nodes.map((n: { id: string }) => n.id), ['n1']);

  c.hold();
  c.nodes = [...c.nodes, nodeFixture({ ID: 'n2' })];
  c.change();
  await settle();
  // a burst while the read is out: no read of its own
  for (let i = 0; i < 100; i++) c.change();
  await settle();
  assert.equal(c.reads, 2);
  c.release();
  await hub.current();
  assert.equal(c.reads, 3, 'the burst cost one more read');
  // the second read saw nothing new: one patch only
  assert.deepEqual(frames(sent, 'patch'), [{ nodes: { set: [frames(sent, 'patch')[0].nodes.set[0]], remove: [] } }]);
  assert.equal(frames(sent, 'patch')[0].nodes.set[0].id, 'n2');
  hub.close();
});

test('no page open: changes read nothing until a page asks', async () => {
  const c = new Cluster();
  const hub = new ViewHub(c, c);
  for (let i = 0; i < 10; i++) c.change();
  await settle();
  assert.equal(c.reads, 0);
  await hub.current();
  assert.equal(c.reads, 1);
  await hub.current();
  assert.equal(c.reads, 1, 'nothing changed since: no read');
  hub.close();
});

test('a read that fails keeps the rows and carries the error; the next change clears it', async () => {
  const c = new Cluster();
  c.nodes = [nodeFixture({ ID: 'n1' })];
  const hub = new ViewHub(c, c);
  const sent: string[] = [];
  await hub.join((f) => sent.push(f));
  c.failWith = unavailable(NOT_A_MANAGER_MESSAGE);
  c.change();
  await hub.current();
  assert.deepEqual(frames(sent, 'patch').at(-1), { error: NOT_A_MANAGER_MESSAGE });
  assert.deepEqual((await hub.current()).nodes.map((n) => n.id), ['n1']);
  c.failWith = undefined;
  c.change();
  await hub.current();
  assert.deepEqual(frames(sent, 'patch').at(-1), { error: '' });
  hub.close();
});
