import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { TLSSocket } from 'node:tls';
import { chooseManager, HINTED_LEADER_RETRIES, RemoteDispatcherConnector, type ManagerChoice } from './remote-dispatcher';
import { createRootCA, issueNodeKeyAndCertificate } from '../manager/ca/pki';
import { createRpcServer, type RpcServer } from '../rpc';
import { DispatcherService } from '../rpc/protocol';
import { ShoalError, unavailable } from '../lib/errors';
import net from 'node:net';

const M = ['m1:4242', 'm2:4242', 'm3:4242'];
const base: ManagerChoice = { managers: M, next: 0, hinted: null, prev: null, leader: null };

test('the first connection goes to the first manager; a failed one moves on, a working one stays', () => {
  assert.equal(chooseManager(base).next, 0);
  assert.equal(chooseManager({ ...base, prev: { address: M[0]!, hadSession: false } }).next, 1);
  assert.equal(chooseManager({ ...base, next: 2, prev: { address: M[2]!, hadSession: false } }).next, 0);
  assert.equal(chooseManager({ ...base, next: 1, prev: { address: M[1]!, hadSession: true } }).next, 1);
});

test("a failed connection moves on to any other manager, at random: a dead manager's agents spread over the survivors", () => {
  const five = ['m1:1', 'm2:1', 'm3:1', 'm4:1', 'm5:1'];
  const after = (random: number) => chooseManager({ managers: five, next: 2, hinted: null, prev: { address: five[2]!, hadSession: true }, leader: null, random }).next;
  // the last session worked: its manager again, whatever the draw
  assert.equal(after(0.7), 2);
  const failed = (random: number) => chooseManager({ managers: five, next: 2, hinted: null, prev: { address: five[2]!, hadSession: false }, leader: null, random }).next;
  assert.deepEqual([0, 0.25, 0.5, 0.75, 0.999].map(failed), [3, 4, 0, 1, 1]);
  const counts = new Map<number, number>();
  for (let i = 0; i < 400; i++) counts.set(failed((i + 0.5) / 400), (counts.get(failed((i + 0.5) / 400)) ?? 0) + 1);
  assert.deepEqual([...counts.entries()].sort(), [[0, 100], [1, 100], [3, 100], [4, 100]], 'each of the other four a quarter of the time, never the failed one');
});

test('a node that knows several managers at start takes any of them: nodes spread over the managers', async () => {
  const ca = await createRootCA();
  const node = await issueNodeKeyAndCertificate(ca, 'worker-node', 'worker', CLUSTER);
  const first = (r: number) => {
    const c = new RemoteDispatcherConnector({ managers: M, credentials: () => ({ ...node, caPem: ca.certPem }), random: () => r });
    try {
      return c.connect().address;
    } finally {
      c.close();
    }
  };
  assert.deepEqual([0, 0.34, 0.67, 0.9999].map(first), [M[0], M[1], M[2], M[2]]);
});

test('a leader hint sends the next connection to the leader, whatever the last one did', () => {
  const c = chooseManager({ ...base, next: 0, hinted: 2, prev: { address: M[0]!, hadSession: true } });
  assert.deepEqual(c, { next: 2, leader: { addr: M[2]!, failures: 0 } });
});

test('a hinted leader that did not answer is tried again a bounded number of times before a follower', () => {
  let state: ManagerChoice = { ...base, hinted: 1, prev: { address: M[0]!, hadSession: false } };
  let c = chooseManager(state);
  const went: number[] = [c.next];
  for (let i = 0; i < HINTED_LEADER_RETRIES + 2; i++) {
    // every attempt there fails without a session (a busy new leader, a timeout)
    state = { ...base, next: c.next, prev: { address: M[c.next]!, hadSession: false }, leader: c.leader };
    c = chooseManager(state);
    went.push(c.next);
  }
  // the leader (1) three times in all, then on to the next manager, then the one after
  assert.deepEqual(went, [1, ...Array(HINTED_LEADER_RETRIES).fill(1), 2, 0]);
});

test('a session with the hinted leader ends its retries: a later failure there moves on at once', () => {
  const c = chooseManager({ ...base, next: 1, prev: { address: M[1]!, hadSession: true }, leader: { addr: M[1]!, failures: 1 } });
  assert.deepEqual(c, { next: 1, leader: null });
  assert.equal(chooseManager({ ...base, next: 1, prev: { address: M[1]!, hadSession: false }, leader: c.leader }).next, 2);
});

// ---- the connection a retry uses (a real mutual-TLS server on loopback) ----

const CLUSTER = 'cluster0000000000000000002';

/** A manager's RPC server on loopback whose Session answers with the session ID `session` gives; every other call is refused. */
async function serveSessions(t: TestContext, manager: { certPem: string; keyPem: string }, caPem: string, session: (signal: AbortSignal) => Promise<string>): Promise<RpcServer> {
  const handlers: Record<string, (req: unknown, ctx: { signal: AbortSignal }) => unknown> = Object.fromEntries(
    Object.keys(DispatcherService.methods).map((name) => [
      name,
      () => {
        throw unavailable(`${name} is not served here`);
      },
    ]),
  );
  handlers.Session = async (_req, ctx) => ({ sessionId: await session(ctx.signal), heartbeatPeriodMs: 5000, managers: [], managerNodes: [], nodeId: 'worker-node' });
  const server = createRpcServer({ ...manager, caPem, address: '127.0.0.1:0', clientAuth: 'require', clusterId: CLUSTER });
  server.addService(DispatcherService, handlers as never);
  await server.start();
  t.after(() => server.stop(100));
  return server;
}

test('a session retry at the same manager keeps a live connection: one TLS handshake for both tries; a failed connection or new credentials get a new one', async (t) => {
  const ca = await createRootCA();
  const manager = await issueNodeKeyAndCertificate(ca, 'manager-node', 'manager', CLUSTER);
  const worker = await issueNodeKeyAndCertificate(ca, 'worker-node', 'worker', CLUSTER);
  const renewed = await issueNodeKeyAndCertificate(ca, 'worker-node', 'worker', CLUSTER);
  // the first session call hangs past the client's deadline (a leader busy with thousands of agents); later ones answer
  let calls = 0;
  const server = await serveSessions(t, manager, ca.certPem, async (signal) => {
    if (calls++ === 0) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    return `s${calls}`;
  });
  // TLS connections the server accepted (rpc/peer.ts reads a connection's certificate once)
  let handshakes = 0;
  const original = TLSSocket.prototype.getPeerCertificate;
  t.mock.method(TLSSocket.prototype, 'getPeerCertificate', function (this: TLSSocket, detailed?: boolean) {
    if ((this as TLSSocket & { server?: unknown }).server) handshakes++;
    return original.call(this, detailed as true);
  });

  let creds = { ...worker, caPem: ca.certPem };
  const addr = `127.0.0.1:${server.port}`;
  const connector = new RemoteDispatcherConnector({ managers: [addr], credentials: () => creds, callTimeoutMs: 300 });
  t.after(() => connector.close());
  const req = { nodeId: 'worker-node', description: { Hostname: 'w' }, addr: '' } as never;
  const first = connector.connect();
  await assert.rejects(first.session(req), /Deadline/i);
  const second = connector.connect();
  assert.equal(second.client, first.client, 'the retry kept the connection');
  assert.equal((await second.session(req)).sessionId, 's2');
  assert.equal(handshakes, 1);

  // renewed credentials: a new connection (the manager must see the new certificate)
  creds = { ...renewed, caPem: ca.certPem };
  const third = connector.connect();
  assert.notEqual(third.client, second.client);
  assert.equal((await third.session(req)).sessionId, 's3');
  assert.equal(handshakes, 2);

  // a manager that is gone: its failed connection is not kept (grpc-js would retry it on its own backoff)
  const gone = new RemoteDispatcherConnector({ managers: ['127.0.0.1:1'], credentials: () => creds, callTimeoutMs: 2000 });
  t.after(() => gone.close());
  const a = gone.connect();
  await assert.rejects(a.session(req));
  assert.notEqual(gone.connect().client, a.client);
});

test("a session's connection and its answer each get the call timeout: a slow handshake does not eat the answer's time; a refused connection fails at once", async (t) => {
  const ca = await createRootCA();
  const manager = await issueNodeKeyAndCertificate(ca, 'manager-node', 'manager', CLUSTER);
  const worker = await issueNodeKeyAndCertificate(ca, 'worker-node', 'worker', CLUSTER);
  // a leader busy with thousands of reconnecting agents: slow to answer
  const server = await serveSessions(t, manager, ca.certPem, async () => {
    await new Promise((r) => setTimeout(r, 250));
    return 's1';
  });
  // ... and slow to take a connection: every connection waits 250 ms before it reaches the server
  const sockets = new Set<net.Socket>();
  const slow = net.createServer((inbound) => {
    inbound.pause();
    sockets.add(inbound);
    setTimeout(() => {
      const outbound = net.connect(server.port, '127.0.0.1', () => {
        inbound.pipe(outbound);
        outbound.pipe(inbound);
        inbound.resume();
      });
      sockets.add(outbound);
      for (const s of [inbound, outbound]) s.on('error', () => undefined);
    }, 250);
  });
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    slow.close();
  });
  const creds = { ...worker, caPem: ca.certPem };
  const req = { nodeId: 'worker-node', description: { Hostname: 'w' }, addr: '' } as never;
  const connector = new RemoteDispatcherConnector({ managers: [`127.0.0.1:${(slow.address() as net.AddressInfo).port}`], credentials: () => creds, callTimeoutMs: 400 });
  t.after(() => connector.close());
  // 250 ms to connect + 250 ms to answer: over one 400 ms deadline, within two
  assert.equal((await connector.connect().session(req)).sessionId, 's1');

  const refused = new RemoteDispatcherConnector({ managers: ['127.0.0.1:1'], credentials: () => creds, callTimeoutMs: 5000 });
  t.after(() => refused.close());
  const started = Date.now();
  await assert.rejects(refused.connect().session(req), (e: unknown) => e instanceof ShoalError && e.reason === 'not-sent');
  assert.ok(Date.now() - started < 2000, `a refused connection failed after ${Date.now() - started} ms`);
});
