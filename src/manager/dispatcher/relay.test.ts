// The dispatcher relay over real mutual TLS on loopback: a "leader" serving its Dispatcher and a
// "follower" relaying to it, with agents holding their sessions through the follower.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { immediateStore } from '../../store/testing/immediate';
import type { Task } from '../../types';
import { createRpcClient, createRpcServer, DispatcherService, relayMetadata, RpcError, type RpcClient } from '../../rpc';
import { ShoalError } from '../../lib/errors';
import { createRootCA, issueNodeKeyAndCertificate, type RootCA } from '../ca/pki';
import { RemoteDispatcherConnector } from '../../agent/remote-dispatcher';
import { Dispatcher } from './dispatcher';
import { dispatcherHandlers } from './rpc';
import { relayDispatcherHandlers } from './relay';
import { taskFixture } from '../../testing/fixtures';
import { collectGarbage } from '../../testing/gc';

const CLUSTER = 'cluster0000000000000000003';
const desc = { Hostname: 'h', Platform: {}, Resources: {}, Engine: { EngineVersion: '1' } } as never;
const task = (id: string, nodeId: string): Task => taskFixture({ ID: id, NodeID: nodeId, Status: { Timestamp: '', State: 'assigned', Message: '' } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Pair {
  ca: RootCA;
  store: ReturnType<typeof immediateStore>;
  dispatcher: Dispatcher;
  /** The follower's address: agents connect here. */
  relayAddr: string;
  leaderAddr: string;
  stopRelay(): void;
  /** What the follower believes about the leader (undefined: none known). */
  leaderKnown: { value: boolean };
}

/** A leader (Dispatcher behind its handlers) and a follower whose dispatcher service relays to it. */
async function leaderAndRelay(
  t: TestContext,
  opts: {
    graceMs?: number;
    refusal?: () => ShoalError;
    wrapLeader?: (h: ReturnType<typeof dispatcherHandlers>) => ReturnType<typeof dispatcherHandlers>;
    nodeAllowed?: (id: string) => boolean;
    completeSetsAtOnce?: number;
  } = {},
): Promise<Pair> {
  const ca = await createRootCA();
  const leaderCert = await issueNodeKeyAndCertificate(ca, 'manager-leader', 'manager', CLUSTER);
  const followerCert = await issueNodeKeyAndCertificate(ca, 'manager-follower', 'manager', CLUSTER);
  const store = immediateStore();
  await store.update((tx) => {
    tx.create('task', task('t1', 'worker1'));
    tx.create('task', task('t2', 'worker2'));
  });
  const dispatcher = new Dispatcher({ store, clock: { now: () => Date.now() }, disconnectGraceMs: opts.graceMs, ...(opts.refusal ? { refusal: opts.refusal } : {}) });
  dispatcher.start();
  const leader = createRpcServer({ address: '127.0.0.1:0', ...leaderCert, caPem: ca.certPem, clientAuth: 'optional', clusterId: CLUSTER });
  const local = () => (opts.wrapLeader ?? ((h) => h))(dispatcherHandlers({ dispatcher, managers: () => [], ...(opts.nodeAllowed ? { nodeAllowed: opts.nodeAllowed } : {}) }));
  const noLeader = () => new ShoalError('Unavailable', 'dispatcher: this manager is not the leader and no leader is known', 'no-leader');
  leader.addService(DispatcherService, relayDispatcherHandlers(local(), { leads: () => true, leaderChannel: () => assert.fail('the leader relays nothing'), refusal: noLeader }));
  await leader.start();
  const leaderAddr = `127.0.0.1:${leader.port}`;
  // The follower's own dispatcher never runs: every call it served itself would be refused.
  const followerDispatcher = new Dispatcher({ store: immediateStore(), clock: { now: () => Date.now() } });
  const follower = createRpcServer({ address: '127.0.0.1:0', ...followerCert, caPem: ca.certPem, clientAuth: 'optional', clusterId: CLUSTER });
  const leaderKnown = { value: true };
  let channel: RpcClient | undefined;
  follower.addService(
    DispatcherService,
    relayDispatcherHandlers(dispatcherHandlers({ dispatcher: followerDispatcher, managers: () => [] }), {
      leads: () => false,
      leaderChannel: () => {
        if (!leaderKnown.value) throw noLeader();
        return (channel ??= createRpcClient(leaderAddr, { ...followerCert, caPem: ca.certPem, serverRole: 'swarm-manager' }));
      },
      refusal: noLeader,
      retryMs: 20,
      ...(opts.completeSetsAtOnce ? { completeSetsAtOnce: opts.completeSetsAtOnce } : {}),
    }),
  );
  await follower.start();
  t.after(async () => {
    channel?.close();
    follower.forceStop();
    await leader.stop(100);
    await dispatcher.stop();
  });
  return {
    ca,
    store,
    dispatcher,
    relayAddr: `127.0.0.1:${follower.port}`,
    leaderAddr,
    stopRelay: () => {
      follower.forceStop();
      channel?.close();
    },
    leaderKnown,
  };
}

const nodeState = (p: Pair, id: string) => p.store.view((tx) => tx.get('node', id))?.Status.State;

async function agent(t: TestContext, p: Pair, nodeId: string, addr = p.relayAddr) {
  const cert = await issueNodeKeyAndCertificate(p.ca, nodeId, 'worker', CLUSTER);
  const connector = new RemoteDispatcherConnector({ managers: [addr], credentials: () => ({ ...cert, caPem: p.ca.certPem }), callTimeoutMs: 3000 });
  t.after(() => connector.close());
  return { cert, connector };
}

test("an agent's calls through a follower reach the leader's dispatcher as that agent", async (t) => {
  const p = await leaderAndRelay(t);
  const { connector } = await agent(t, p, 'worker1');
  const d = connector.connect();
  const s = await d.session({ nodeId: 'ignored', description: desc, addr: '127.0.0.21' });
  assert.equal(nodeState(p, 'worker1'), 'ready', "the leader registered the agent's own node");
  assert.deepEqual(p.dispatcher.connectedNodes(), ['worker1']);
  assert.equal((await d.heartbeat(s.sessionId)).heartbeatPeriodMs, 5000);
  const it = d.assignments(s.sessionId, new AbortController().signal)[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.value.type, 'complete');
  assert.deepEqual(
    first.value.updateTasks.map((x: Task) => x.ID),
    ['t1'],
  );
  await d.updateTaskStatus(s.sessionId, [{ taskId: 't1', status: { State: 'running', Message: 'started', Timestamp: new Date().toISOString() } } as never]);
  await p.dispatcher.flush();
  assert.equal(p.store.view((tx) => tx.get('task', 't1'))?.Status.State, 'running');

  // another node cannot use worker1's session through the relay either
  const other = (await agent(t, p, 'worker2')).connector.connect();
  await other.session({ nodeId: '', description: desc, addr: '127.0.0.22' });
  await assert.rejects(other.heartbeat(s.sessionId), (e: unknown) => e instanceof RpcError && e.kind === 'NotFound');
});

test("a worker's claim to relay for another node is not believed: its call is its own", async (t) => {
  const p = await leaderAndRelay(t);
  const { cert } = await agent(t, p, 'worker2');
  const client = createRpcClient(p.leaderAddr, { ...cert, caPem: p.ca.certPem, serverRole: 'swarm-manager' });
  t.after(() => client.close());
  const res = await client.unary(DispatcherService, 'Session', { description: desc, addr: '' }, { timeoutMs: 3000, metadata: relayMetadata({ nodeId: 'worker1', role: 'swarm-worker', clusterId: CLUSTER }) });
  assert.equal(res.nodeId, 'worker2');
  assert.equal(nodeState(p, 'worker1'), undefined);
  // and only a relay may report a node's connection lost
  await assert.rejects(client.unary(DispatcherService, 'RelayedConnectionLost', { sessionId: res.sessionId }, { timeoutMs: 3000 }), (e: unknown) => e instanceof RpcError && e.kind === 'PermissionDenied');
});

test('a relayed session opens once a leader is known, within the agent deadline', async (t) => {
  const p = await leaderAndRelay(t);
  p.leaderKnown.value = false;
  setTimeout(() => (p.leaderKnown.value = true), 300).unref();
  const d = (await agent(t, p, 'worker1')).connector.connect();
  const t0 = Date.now();
  await d.session({ nodeId: '', description: desc, addr: '127.0.0.21' });
  assert.ok(Date.now() - t0 >= 250, 'it waited for the leader');
  assert.equal(nodeState(p, 'worker1'), 'ready');
});

test("the agent's own connection dropping starts the short grace at the leader; the relay's death does not", async (t) => {
  const p = await leaderAndRelay(t, { graceMs: 200 });
  const a1 = await agent(t, p, 'worker1');
  const a2 = await agent(t, p, 'worker2');
  const streams: AbortController[] = [];
  for (const a of [a1, a2]) {
    const d = a.connector.connect();
    const s = await d.session({ nodeId: '', description: desc, addr: '127.0.0.21' });
    const ac = new AbortController();
    streams.push(ac);
    const it = d.assignments(s.sessionId, ac.signal)[Symbol.asyncIterator]();
    assert.equal((await it.next()).value.type, 'complete');
  }
  // worker1's stream to the relay ends (as when its daemon dies and its connection closes)
  streams[0]!.abort();
  for (let i = 0; i < 40 && nodeState(p, 'worker1') !== 'down'; i++) {
    await sleep(50);
    p.dispatcher.checkHeartbeats();
  }
  assert.equal(nodeState(p, 'worker1'), 'down', 'down by the grace, long before its heartbeat TTL (15.5 s)');
  assert.equal(nodeState(p, 'worker2'), 'ready');

  // the relay dies: worker2's relayed stream ends at the leader without a word about worker2's connection
  p.stopRelay();
  for (let i = 0; i < 16; i++) {
    await sleep(50);
    p.dispatcher.checkHeartbeats();
  }
  assert.equal(nodeState(p, 'worker2'), 'ready', 'still ready 0.8 s later: four times the grace, judged by its heartbeats only');
  assert.deepEqual(p.dispatcher.connectedNodes(), ['worker2']);
});

test("the leader's refusals reach a relayed agent without the leader's address: it stays with its relay", async (t) => {
  const LEADER = '127.0.0.9:2377';
  const p = await leaderAndRelay(t, { refusal: () => new ShoalError('Unavailable', `dispatcher: this manager is not the leader; the leader is at ${LEADER}`, 'not-leader', LEADER) });
  const { connector } = await agent(t, p, 'worker1');
  const d = connector.connect();
  const s = await d.session({ nodeId: '', description: desc, addr: '127.0.0.21' });
  await p.dispatcher.stop();
  await assert.rejects(d.heartbeat(s.sessionId), (e: unknown) => e instanceof RpcError && e.kind === 'Unavailable' && e.leaderAddr === undefined);
  assert.equal(connector.connect().address, p.relayAddr);
});

test("many agents' heartbeats and status reports reach the leader in a few batches, each answered as its own call", async (t) => {
  const batches = { heartbeats: [] as number[], reports: [] as number[], single: 0 };
  const p = await leaderAndRelay(t, {
    nodeAllowed: (id) => id !== 'worker-removed',
    wrapLeader: (h) => ({
      ...h,
      Heartbeat: (req, ctx) => (batches.single++, h.Heartbeat(req, ctx)),
      RelayedHeartbeats: (req, ctx) => (batches.heartbeats.push(req.entries.length), h.RelayedHeartbeats(req, ctx)),
      RelayedTaskStatus: (req, ctx) => (batches.reports.push(req.entries.length), h.RelayedTaskStatus(req, ctx)),
    }),
  });
  await p.store.update((tx) => {
    for (let i = 0; i < 12; i++) tx.create('task', task(`tw${i}`, `worker-b${i}`));
  });
  const agents = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
    const d = (await agent(t, p, `worker-b${i}`)).connector.connect();
    return { d, s: await d.session({ nodeId: '', description: desc, addr: '127.0.0.21' }) };
  }));
  // a node removed from the swarm after its session started (this test's leader has no per-call check of its own)
  const removed = (await agent(t, p, 'worker-removed')).connector.connect();
  const removedSession = await removed.session({ nodeId: '', description: desc, addr: '127.0.0.30' });

  const [beats, removedBeat] = await Promise.all([Promise.all(agents.map((a) => a.d.heartbeat(a.s.sessionId))), removed.heartbeat(removedSession.sessionId).catch((e: unknown) => e)]);
  assert.ok(beats.every((b) => b.heartbeatPeriodMs === 5000));
  assert.ok(removedBeat instanceof RpcError && removedBeat.kind === 'PermissionDenied', 'the removed node alone is refused');
  assert.equal(batches.single, 0, 'no heartbeat went to the leader on its own');
  assert.ok(batches.heartbeats.length <= 3 && batches.heartbeats.reduce((a, b) => a + b, 0) === 13, `13 heartbeats in ${batches.heartbeats.length} calls`);

  // each report in the batch lands on its own task; one agent using another's session is refused alone
  const at = new Date().toISOString();
  const outcomes = await Promise.all([
    ...agents.slice(1).map((a, i) => a.d.updateTaskStatus(a.s.sessionId, [{ taskId: `tw${i + 1}`, status: { State: 'running', Message: 'started', Timestamp: at } } as never]).then(() => 'ok', (e: unknown) => e)),
    agents[0]!.d.updateTaskStatus(agents[1]!.s.sessionId, [{ taskId: 'tw1', status: { State: 'failed', Message: 'forged', Timestamp: at } } as never]).then(() => 'ok', (e: unknown) => e),
  ]);
  assert.deepEqual(outcomes.slice(0, 11), Array(11).fill('ok'));
  assert.ok(outcomes[11] instanceof RpcError && outcomes[11].kind === 'NotFound', 'the forged report is refused');
  assert.ok(batches.reports.length <= 3 && batches.reports.reduce((a, b) => a + b, 0) === 12, `12 reports in ${batches.reports.length} calls`);
  await p.dispatcher.flush();
  for (let i = 1; i < 12; i++) assert.equal(p.store.view((tx) => tx.get('task', `tw${i}`))?.Status.State, 'running');
});

test('only managers may send a batch', async (t) => {
  const p = await leaderAndRelay(t);
  const { cert } = await agent(t, p, 'worker1');
  const client = createRpcClient(p.leaderAddr, { ...cert, caPem: p.ca.certPem, serverRole: 'swarm-manager' });
  t.after(() => client.close());
  await assert.rejects(client.unary(DispatcherService, 'RelayedHeartbeats', { entries: [{ nodeId: 'worker2', sessionId: 'x' }] }, { timeoutMs: 3000 }), (e: unknown) => e instanceof RpcError && e.kind === 'PermissionDenied');
});

test("heartbeats ride one stream a session, at the leader and through a relay; a refusal fails the heartbeat; a manager without the stream gets calls", async (t) => {
  const calls = { streams: 0, unary: 0, relayed: 0 };
  let streamSupported = true;
  const p = await leaderAndRelay(t, {
    wrapLeader: (h) => ({
      ...h,
      Heartbeat: (req, ctx) => (calls.unary++, h.Heartbeat(req, ctx)),
      Heartbeats: (reqs, ctx) => {
        calls.streams++;
        if (!streamSupported) throw new ShoalError('Unimplemented', 'unknown method Heartbeats (a previous release)');
        return h.Heartbeats(reqs, ctx);
      },
      RelayedHeartbeats: (req, ctx) => (calls.relayed++, h.RelayedHeartbeats(req, ctx)),
    }),
  });
  // at the leader: three heartbeats are three messages on one stream, no call
  const direct = (await agent(t, p, 'worker1', p.leaderAddr)).connector.connect();
  const s1 = await direct.session({ nodeId: 'ignored', description: desc, addr: '127.0.0.21' });
  for (let i = 0; i < 3; i++) assert.equal((await direct.heartbeat(s1.sessionId)).heartbeatPeriodMs, 5000);
  assert.deepEqual(calls, { streams: 1, unary: 0, relayed: 0 });
  // a session the node does not own is refused as the call was, and the stream goes with the refusal
  await assert.rejects(direct.heartbeat('bogus'), (e) => e instanceof RpcError && e.kind === 'NotFound' && /session invalid/.test(e.message));
  await direct.heartbeat(s1.sessionId);
  assert.deepEqual(calls, { streams: 3, unary: 0, relayed: 0 });

  // through the relay: the relay answers the stream and gathers the beats into its batches to the leader
  const viaRelay = (await agent(t, p, 'worker2')).connector.connect();
  const s2 = await viaRelay.session({ nodeId: 'ignored', description: desc, addr: '127.0.0.22' });
  for (let i = 0; i < 2; i++) await viaRelay.heartbeat(s2.sessionId);
  assert.deepEqual(calls, { streams: 3, unary: 0, relayed: 2 });

  // a manager of the previous release: Unimplemented once, then a call per heartbeat on that connection
  streamSupported = false;
  const old = (await agent(t, p, 'worker1', p.leaderAddr)).connector.connect();
  const s3 = await old.session({ nodeId: 'ignored', description: desc, addr: '127.0.0.21' });
  for (let i = 0; i < 3; i++) assert.equal((await old.heartbeat(s3.sessionId)).heartbeatPeriodMs, 5000);
  assert.deepEqual(calls, { streams: 4, unary: 3, relayed: 2 });
  assert.equal(nodeState(p, 'worker1'), 'ready');
});

test('a heartbeat the manager does not answer fails within the heartbeat timeout, and the next one opens a new stream', async (t) => {
  let silent = true;
  let streams = 0;
  const p = await leaderAndRelay(t, {
    wrapLeader: (h) => ({
      ...h,
      Heartbeats: (reqs, ctx) => {
        streams++;
        if (!silent) return h.Heartbeats(reqs, ctx);
        return (async function* () {
          for await (const _ of reqs) await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
        })();
      },
    }),
  });
  const d = (await agent(t, p, 'worker1', p.leaderAddr)).connector.connect();
  const s = await d.session({ nodeId: 'ignored', description: desc, addr: '127.0.0.21' });
  const t0 = Date.now();
  await assert.rejects(d.heartbeat(s.sessionId), (e) => e instanceof ShoalError && e.kind === 'Unavailable' && /no answer within 3000 ms/.test(e.message));
  const waited = Date.now() - t0;
  assert.ok(waited >= 2900 && waited < 4000, `failed after ${waited} ms (timeout: max(2 × period, 2 s), capped by the 3 s call timeout)`);
  silent = false;
  assert.equal((await d.heartbeat(s.sessionId)).heartbeatPeriodMs, 5000);
  assert.equal(streams, 2);
});

test('status reports ride one stream a session, at the leader and through a relay; a refusal fails the batch; a manager without the stream gets calls', async (t) => {
  const calls = { streams: 0, unary: 0, relayed: 0 };
  let streamSupported = true;
  const p = await leaderAndRelay(t, {
    wrapLeader: (h) => ({
      ...h,
      UpdateTaskStatus: (req, ctx) => (calls.unary++, h.UpdateTaskStatus(req, ctx)),
      TaskStatusUpdates: (reqs, ctx) => {
        calls.streams++;
        if (!streamSupported) throw new ShoalError('Unimplemented', 'unknown method TaskStatusUpdates (a previous release)');
        return h.TaskStatusUpdates(reqs, ctx);
      },
      RelayedTaskStatus: (req, ctx) => (calls.relayed++, h.RelayedTaskStatus(req, ctx)),
    }),
  });
  const report = (taskId: string, State: string) => [{ taskId, status: { State, Message: State, Timestamp: new Date().toISOString() } } as never];
  const stateOf = async (id: string) => {
    await p.dispatcher.flush();
    return p.store.view((tx) => tx.get('task', id))?.Status.State;
  };
  // at the leader: three batches are three messages on one stream, no call, each written when answered
  const direct = (await agent(t, p, 'worker1', p.leaderAddr)).connector.connect();
  const s1 = await direct.session({ nodeId: 'ignored', description: desc, addr: '127.0.0.21' });
  for (const state of ['accepted', 'starting', 'running']) {
    await direct.updateTaskStatus(s1.sessionId, report('t1', state));
    assert.equal(await stateOf('t1'), state);
  }
  assert.deepEqual(calls, { streams: 1, unary: 0, relayed: 0 });
  // a session the node does not own is refused as the call was, and the stream goes with the refusal
  await assert.rejects(direct.updateTaskStatus('bogus', report('t1', 'failed')), (e) => e instanceof RpcError && e.kind === 'NotFound' && /session invalid/.test(e.message));
  assert.equal(await stateOf('t1'), 'running');
  await direct.updateTaskStatus(s1.sessionId, report('t1', 'complete'));
  assert.equal(await stateOf('t1'), 'complete');
  assert.deepEqual(calls, { streams: 3, unary: 0, relayed: 0 });

  // through the relay: the relay answers the stream and puts the reports in its batches to the leader
  const viaRelay = (await agent(t, p, 'worker2')).connector.connect();
  const s2 = await viaRelay.session({ nodeId: 'ignored', description: desc, addr: '127.0.0.22' });
  for (const state of ['starting', 'running']) await viaRelay.updateTaskStatus(s2.sessionId, report('t2', state));
  assert.equal(await stateOf('t2'), 'running');
  assert.deepEqual(calls, { streams: 3, unary: 0, relayed: 2 });

  // a manager of the previous release: Unimplemented once, then a call per batch on that connection
  streamSupported = false;
  const old = (await agent(t, p, 'worker1', p.leaderAddr)).connector.connect();
  const s3 = await old.session({ nodeId: 'ignored', description: desc, addr: '127.0.0.21' });
  for (const state of ['shutdown', 'failed']) await old.updateTaskStatus(s3.sessionId, report('t1', state));
  assert.equal(await stateOf('t1'), 'failed');
  assert.deepEqual(calls, { streams: 4, unary: 2, relayed: 2 });
});

test('a node removed from the swarm is refused on its open heartbeat and status streams, as its calls are', async (t) => {
  const removed = new Set<string>();
  const p = await leaderAndRelay(t, { nodeAllowed: (id) => !removed.has(id) });
  const direct = (await agent(t, p, 'worker1', p.leaderAddr)).connector.connect();
  const s = await direct.session({ nodeId: 'ignored', description: desc, addr: '127.0.0.21' });
  const report = [{ taskId: 't1', status: { State: 'running', Message: 'started', Timestamp: new Date().toISOString() } } as never];
  // both streams open and answering
  assert.equal((await direct.heartbeat(s.sessionId)).heartbeatPeriodMs, 5000);
  await direct.updateTaskStatus(s.sessionId, report);
  removed.add('worker1');
  const refused = (e: unknown) => e instanceof RpcError && e.kind === 'PermissionDenied' && /node worker1 was removed from swarm/.test(e.message);
  await assert.rejects(direct.heartbeat(s.sessionId), refused);
  await assert.rejects(direct.updateTaskStatus(s.sessionId, report), refused);
});

test("a relay holds one node's complete set at a time when told to: the next node's call to the leader waits until it is written", async (t) => {
  const p = await leaderAndRelay(t, { completeSetsAtOnce: 1 });
  // worker1's set is far larger than HTTP/2's 64 KiB window, and worker1 reads none of it
  await p.store.update((tx) => {
    for (let i = 0; i < 300; i++) tx.create('task', task(`big${i}`, 'worker1'));
  });
  const w1 = await agent(t, p, 'worker1');
  const s1 = await w1.connector.connect().session({ nodeId: '', description: desc, addr: '127.0.0.21' });
  // node's own HTTP/2 client, paused: the relay's write to it stops at the window
  const raw = http2.connect(`https://${p.relayAddr}`, { key: w1.cert.keyPem, cert: w1.cert.certPem, ca: p.ca.certPem, checkServerIdentity: () => undefined });
  raw.on('error', () => undefined);
  t.after(() => raw.destroy());
  const stalled = raw.request({ ':method': 'POST', ':path': '/shoal.Dispatcher/Assignments', 'content-type': 'application/grpc', te: 'trailers' });
  stalled.pause();
  const body = Buffer.from(JSON.stringify({ sessionId: s1.sessionId }));
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  stalled.on('error', () => undefined);
  // the relay answers with its headers when it writes worker1's set: it holds its one slot from then on
  const writing = new Promise((r) => stalled.once('response', r));
  stalled.end(frame);
  await writing;

  const w2 = (await agent(t, p, 'worker2')).connector.connect();
  const s2 = await w2.session({ nodeId: '', description: desc, addr: '127.0.0.22' });
  const ac = new AbortController();
  t.after(() => ac.abort());
  let second: { value: { type: string; updateTasks: Task[] } } | undefined;
  const reading = w2.assignments(s2.sessionId, ac.signal)[Symbol.asyncIterator]().next().then((r) => (second = r as never));
  await sleep(300);
  assert.equal(second, undefined, "worker2's set waits while worker1's is not written");
  stalled.close(); // worker1's stream ends: its slot is free
  await reading;
  assert.equal(second!.value.type, 'complete');
  assert.deepEqual(second!.value.updateTasks.map((x) => x.ID), ['t2']);
});

test("a relay holds no relayed message once it is written, while the node's stream waits for its next one", async (t) => {
  const p = await leaderAndRelay(t);
  // a complete set of about 4 MiB, relayed as the leader encoded it (one buffer)
  const pad = 'x'.repeat(10_000);
  await p.store.update((tx) => {
    for (let i = 0; i < 400; i++) tx.create('task', { ...task(`big${i}`, 'worker1'), Labels: { pad } });
  });
  const w1 = await agent(t, p, 'worker1', process.env.VIA_LEADER ? p.leaderAddr : p.relayAddr);
  const conn = w1.connector.connect();
  const s1 = await conn.session({ nodeId: '', description: desc, addr: '127.0.0.21' });
  const held = async () => {
    await collectGarbage();
    return process.memoryUsage().arrayBuffers;
  };
  const ac = new AbortController();
  const it = conn.assignments(s1.sessionId, ac.signal)[Symbol.asyncIterator]();
  let first = await it.next();
  assert.equal((first.value as { updateTasks: Task[] }).updateTasks.length, 401);
  first = undefined as never;
  // the stream stays open: the relay waits for the leader's next message
  const open = await held();
  ac.abort();
  await sleep(200);
  const closed = await held();
  assert.ok(open - closed < 1 << 20, `array buffers held while the stream is open: ${((open - closed) / 1048576).toFixed(1)} MiB more than after it closed`);
});
