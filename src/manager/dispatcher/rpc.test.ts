import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { immediateStore } from '../../store/testing/immediate';
import type { Task } from '../../types';
import { setTestFaultFile } from '../../../test/harness/fault-injector';
import { createRpcServer, DispatcherService, RpcError } from '../../rpc';
import { ShoalError } from '../../lib/errors';
import { createRootCA, issueNodeKeyAndCertificate } from '../ca/pki';
import { RemoteDispatcherConnector } from '../../agent/remote-dispatcher';
import { Dispatcher, NODE_LEFT } from './dispatcher';
import { dispatcherHandlers } from './rpc';
import { LogBroker } from './logbroker';
import { waitFor } from '../../testing/wait';
import { taskFixture } from '../../testing/fixtures';

const CLUSTER = 'cluster0000000000000000001';
const desc = { Hostname: 'h', Platform: {}, Resources: {}, Engine: { EngineVersion: '1' } } as never;

const task = (id: string, nodeId: string): Task =>
  taskFixture({ ID: id, NodeID: nodeId, Status: { Timestamp: '', State: 'assigned', Message: '' } });

test('dispatcher over mTLS: node ID from the certificate, sessions per node, leave marks down, fault injector drops calls', async (t) => {
  const ca = await createRootCA();
  const mgr = await issueNodeKeyAndCertificate(ca, 'manager1', 'manager', CLUSTER);
  const w1 = await issueNodeKeyAndCertificate(ca, 'worker1', 'worker', CLUSTER);
  const w2 = await issueNodeKeyAndCertificate(ca, 'worker2', 'worker', CLUSTER);
  const store = immediateStore();
  await store.update((tx) => {
    tx.create('task', task('t1', 'worker1'));
    tx.create('task', task('t2', 'worker2'));
  });
  const dispatcher = new Dispatcher({ store, clock: { now: () => Date.now() } });
  dispatcher.start();
  const server = createRpcServer({ address: '127.0.0.1:0', ...mgr, caPem: ca.certPem, clientAuth: 'optional', clusterId: CLUSTER });
  server.addService(DispatcherService, dispatcherHandlers({ dispatcher, managers: () => [{ nodeId: 'manager1', addr: `127.0.0.1:${server.port}` }] }));
  await server.start();
  t.after(async () => {
    await server.stop(100);
    await dispatcher.stop();
  });
  const addr = `127.0.0.1:${server.port}`;
  const seen: string[][] = [];
  const c1 = new RemoteDispatcherConnector({ managers: [addr], credentials: () => ({ ...w1, caPem: ca.certPem }), onManagers: (m) => seen.push(m.map((x) => x.nodeId)) });
  const c2 = new RemoteDispatcherConnector({ managers: [addr], credentials: () => ({ ...w2, caPem: ca.certPem }) });
  t.after(() => (c1.close(), c2.close()));

  // The request says nothing about who we are: the certificate does.
  const d1 = c1.connect();
  const s1 = await d1.session({ nodeId: 'ignored', description: desc, addr: '127.0.0.21' });
  assert.equal(store.view((tx) => tx.get('node', 'worker1'))?.Status.State, 'ready');
  assert.equal(store.view((tx) => tx.get('node', 'ignored')), undefined);
  assert.deepEqual(seen, [['manager1']]);
  assert.equal((await d1.heartbeat(s1.sessionId)).heartbeatPeriodMs, 5000);

  // Assignments: only this node's tasks.
  const ac = new AbortController();
  const it = d1.assignments(s1.sessionId, ac.signal)[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.value.type, 'complete');
  assert.deepEqual(
    first.value.updateTasks.map((x: Task) => x.ID),
    ['t1'],
  );
  ac.abort();

  // Another node cannot use worker1's session.
  const d2 = c2.connect();
  await d2.session({ nodeId: 'worker1', description: desc, addr: '127.0.0.22' });
  await assert.rejects(d2.heartbeat(s1.sessionId), (e: unknown) => e instanceof RpcError && e.kind === 'NotFound');
  await assert.rejects(d2.updateTaskStatus(s1.sessionId, []), (e: unknown) => e instanceof RpcError && e.kind === 'NotFound');

  // Leave: down at once.
  await c1.leave();
  const n1 = store.view((tx) => tx.get('node', 'worker1'))!;
  assert.equal(n1.Status.State, 'down');
  assert.equal(n1.Status.Message, NODE_LEFT);

  // The test fault injector: calls to a dropped address fail at their deadline, having never arrived.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-fault-'));
  const file = path.join(dir, 'fault.json');
  fs.writeFileSync(file, JSON.stringify({ drop: ['127.0.0.1'] }));
  setTestFaultFile(file);
  t.after(() => {
    setTestFaultFile(null);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const before = store.view((tx) => tx.get('node', 'worker1'))!.Version.Index;
  const d3 = new RemoteDispatcherConnector({ managers: [addr], credentials: () => ({ ...w1, caPem: ca.certPem }), callTimeoutMs: 300 }).connect();
  const t0 = Date.now();
  await assert.rejects(d3.session({ nodeId: '', description: desc, addr: '' }), (e: unknown) => e instanceof RpcError && e.kind === 'Unavailable');
  assert.ok(Date.now() - t0 >= 250);
  assert.equal(store.view((tx) => tx.get('node', 'worker1'))!.Version.Index, before, 'nothing reached the manager');
  fs.writeFileSync(file, JSON.stringify({ drop: [] }));
  await new Promise((r) => setTimeout(r, 150));
  await d3.session({ nodeId: '', description: desc, addr: '127.0.0.21' });
  assert.equal(store.view((tx) => tx.get('node', 'worker1'))!.Status.State, 'ready');
  d3.close();
});

/** Starts `dispatcher` behind a real mTLS RPC server (no manager list), stopped after the test; returns its address. */
async function serveDispatcher(t: TestContext, dispatcher: Dispatcher, mgr: { certPem: string; keyPem: string }, caPem: string): Promise<string> {
  dispatcher.start();
  const server = createRpcServer({ address: '127.0.0.1:0', ...mgr, caPem, clientAuth: 'optional', clusterId: CLUSTER });
  server.addService(DispatcherService, dispatcherHandlers({ dispatcher, managers: () => [] }));
  await server.start();
  t.after(async () => {
    await server.stop(100);
    await dispatcher.stop();
  });
  return `127.0.0.1:${server.port}`;
}

test('a dispatcher that stops (leadership lost) ends its streams and refuses every call naming the leader; the agent connects there next', async (t) => {
  const ca = await createRootCA();
  const mgr = await issueNodeKeyAndCertificate(ca, 'manager1', 'manager', CLUSTER);
  const w1 = await issueNodeKeyAndCertificate(ca, 'worker1', 'worker', CLUSTER);
  const store = immediateStore();
  await store.update((tx) => tx.create('task', task('t1', 'worker1')));
  const LEADER = '127.0.0.9:2377';
  const notLeader = () => new ShoalError('Unavailable', `dispatcher: this manager is not the leader; the leader is at ${LEADER}`, 'not-leader', LEADER);
  const dispatcher = new Dispatcher({ store, clock: { now: () => Date.now() }, refusal: notLeader });
  const addr = await serveDispatcher(t, dispatcher, mgr, ca.certPem);
  const connector = new RemoteDispatcherConnector({ managers: [addr], credentials: () => ({ ...w1, caPem: ca.certPem }) });
  t.after(() => connector.close());
  const d = connector.connect();
  const s = await d.session({ nodeId: '', description: desc, addr: '127.0.0.21' });
  const it = d.assignments(s.sessionId, new AbortController().signal)[Symbol.asyncIterator]();
  assert.equal((await it.next()).value.type, 'complete');
  const pending = it.next();

  await dispatcher.stop();
  const isNotLeader = (e: unknown) => e instanceof RpcError && e.reason === 'not-leader' && e.leaderAddr === LEADER;
  await assert.rejects(pending, isNotLeader, 'the open stream ends with the refusal');
  await assert.rejects(d.heartbeat(s.sessionId), isNotLeader);
  await assert.rejects(d.updateTaskStatus(s.sessionId, [{ taskId: 't1', status: { State: 'running', Message: '', Timestamp: '' } } as never]), isNotLeader);
  await assert.rejects(d.session({ nodeId: '', description: desc, addr: '' }), isNotLeader);
  // the session had worked, yet the next connection goes to the leader the refusal named
  assert.equal(connector.connect().address, LEADER);
});

test("a node's reconnects share one TLS context; a renewed certificate gets a new one", async (t) => {
  const ca = await createRootCA();
  const mgr = await issueNodeKeyAndCertificate(ca, 'manager1', 'manager', CLUSTER);
  let creds = await issueNodeKeyAndCertificate(ca, 'worker1', 'worker', CLUSTER);
  const store = immediateStore();
  const addr = await serveDispatcher(t, new Dispatcher({ store, clock: { now: () => Date.now() } }), mgr, ca.certPem);
  // credentials() hands out a new object each time, as a node reading its files does
  const connector = new RemoteDispatcherConnector({ managers: [addr], credentials: () => ({ ...creds, caPem: ca.certPem }) });
  t.after(() => connector.close());
  const first = connector.connect();
  await first.session({ nodeId: '', description: desc, addr: '127.0.0.21' });
  // a retry keeps a live connection (remote-dispatcher.test); one that is gone is made anew, in the same TLS context
  assert.equal(connector.connect().client, first.client, 'the live channel kept');
  first.close();
  const again = connector.connect();
  assert.notEqual(again.client, first.client, 'a new channel');
  assert.equal(again.client.credentials, first.client.credentials, 'the same TLS context');
  await again.session({ nodeId: '', description: desc, addr: '127.0.0.21' });

  creds = await issueNodeKeyAndCertificate(ca, 'worker1', 'worker', CLUSTER);
  const renewed = connector.connect();
  assert.notEqual(renewed.client.credentials, first.client.credentials, 'the renewed key and certificate in a new context');
  await renewed.session({ nodeId: '', description: desc, addr: '127.0.0.21' });
  assert.equal(store.view((tx) => tx.get('node', 'worker1'))?.Status.State, 'ready');
});

test("a node's log subscriptions and their cancellations come on its assignment stream, over mTLS; a stream's end leaves the broker no listener", async (t) => {
  const ca = await createRootCA();
  const mgr = await issueNodeKeyAndCertificate(ca, 'manager1', 'manager', CLUSTER);
  const w1 = await issueNodeKeyAndCertificate(ca, 'worker1', 'worker', CLUSTER);
  const store = immediateStore();
  await store.update((tx) => tx.create('task', task('t1', 'worker1')));
  const dispatcher = new Dispatcher({ store, clock: { now: () => Date.now() }, batchMs: 5 });
  dispatcher.start();
  const broker = new LogBroker({ connectWaitMs: 300 });
  const server = createRpcServer({ address: '127.0.0.1:0', ...mgr, caPem: ca.certPem, clientAuth: 'optional', clusterId: CLUSTER });
  server.addService(DispatcherService, dispatcherHandlers({ dispatcher, managers: () => [], logBroker: broker }));
  await server.start();
  t.after(async () => {
    await server.stop(100);
    await dispatcher.stop();
  });
  const connector = new RemoteDispatcherConnector({ managers: [`127.0.0.1:${server.port}`], credentials: () => ({ ...w1, caPem: ca.certPem }) });
  t.after(() => connector.close());
  const d = connector.connect();
  const s = await d.session({ nodeId: '', description: desc, addr: '127.0.0.21' });
  assert.equal(s.logSubscriptionsOnAssignments, true, 'the session says where they come');

  const stream = new AbortController();
  const it = d.assignments(s.sessionId, stream.signal)[Symbol.asyncIterator]();
  assert.equal((await it.next()).value.type, 'complete');
  const reader = new AbortController();
  const lines = broker.subscribe('worker1', ['t1'], { follow: true, tail: 'all', timestamps: false }, reader.signal)[Symbol.asyncIterator]();
  const pendingLine = lines.next().catch(() => undefined);
  const m1 = (await it.next()).value;
  assert.deepEqual({ type: m1.type, updateTasks: m1.updateTasks, removeTasks: m1.removeTasks }, { type: 'incremental', updateTasks: [], removeTasks: [] });
  assert.equal(m1.logSubscriptions.length, 1);
  const sub = m1.logSubscriptions[0];
  assert.deepEqual({ taskIds: sub.taskIds, follow: sub.options.follow, close: sub.close }, { taskIds: ['t1'], follow: true, close: undefined });
  reader.abort();
  await pendingLine;
  const m2 = (await it.next()).value;
  assert.deepEqual(m2.logSubscriptions, [{ id: sub.id, taskIds: [], options: sub.options, close: true }], 'the cancellation');
  stream.abort();
  await it.next().catch(() => undefined);

  // Made while no stream is open: the node's next assignment stream carries it after its complete set.
  const again = new AbortController();
  t.after(() => again.abort());
  broker.subscribe('worker1', ['t1'], { follow: true, tail: 5, timestamps: false }, again.signal)[Symbol.asyncIterator]().next().catch(() => undefined);
  const stream2 = new AbortController();
  const it2 = d.assignments(s.sessionId, stream2.signal)[Symbol.asyncIterator]();
  assert.equal((await it2.next()).value.type, 'complete');
  assert.deepEqual((await it2.next()).value.logSubscriptions.map((x: { options: { tail: unknown } }) => x.options.tail), [5]);
  assert.equal(broker.listening('worker1'), true);
  stream2.abort();
  // the server hears of the stream's end a little later: then the node has no listener left
  await waitFor('the listener gone with its stream', () => !broker.listening('worker1') || undefined, 5_000);
});
