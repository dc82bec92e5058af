import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRootCA, issueNodeKeyAndCertificate, createRotationCA } from '../manager/ca/pki';
import {
  defineService,
  unary,
  serverStream,
  clientStream,
  bidi,
  MANAGERS,
  ALL_NODES,
  createRpcServer,
  createRpcClient,
  clientCredentials,
  ClientCredentialsCache,
  requireRole,
  RpcError,
  AsyncQueue,
  serialize,
  deserialize,
  EncodedMessage,
  type RpcServer,
  type RpcClientOptions,
  type WireCodec,
} from './index';
import { notFound, ShoalError } from '../lib/errors';
import * as grpc from '@grpc/grpc-js';
import net from 'node:net';
import { TLSSocket } from 'node:tls';

const CLUSTER = 'cluster0000000000000000001';

/** A method codec of its own: 'F' then the number as f64; anything else (codec.ts's JSON) is refused. */
const codecUses = { serialize: 0, deserialize: 0 };
function framed<K extends string>(key: K): WireCodec<Record<K, number>> {
  return {
    serialize: (v) => {
      codecUses.serialize++;
      const b = Buffer.alloc(9);
      b.write('F', 0, 'latin1');
      b.writeDoubleLE(v[key], 1);
      return b;
    },
    deserialize: (b) => {
      codecUses.deserialize++;
      if (b.length !== 9 || b.toString('latin1', 0, 1) !== 'F') throw new Error('not framed');
      return { [key]: b.readDoubleLE(1) } as Record<K, number>;
    },
  };
}

const TestService = defineService('shoal.Test', {
  Echo: unary<{ msg: string }, { msg: string; peer: string | null; role: string | null }>(ALL_NODES),
  ManagerOnly: unary<Record<string, never>, { ok: boolean }>(MANAGERS),
  Wrapped: unary<Record<string, never>, { ok: boolean }>(ALL_NODES),
  Public: unary<Record<string, never>, { peer: string | null }>('anonymous'),
  Fail: unary<Record<string, never>, Record<string, never>>(ALL_NODES),
  Refuse: unary<Record<string, never>, Record<string, never>>(ALL_NODES),
  RefuseStream: serverStream<Record<string, never>, { i: number }>(ALL_NODES),
  Bytes: unary<{ data: Uint8Array }, { data: Uint8Array; len: number }>(ALL_NODES),
  Count: serverStream<{ n: number }, { i: number }>(ALL_NODES),
  Forever: serverStream<Record<string, never>, { i: number }>(ALL_NODES),
  Sum: clientStream<{ x: number }, { sum: number }>(ALL_NODES),
  Chat: bidi<{ x: number }, { y: number }>(ALL_NODES),
  FramedChat: bidi<{ x: number }, { y: number }>(ALL_NODES, { req: framed('x'), res: framed('y') }),
});

interface Ident {
  certPem: string;
  keyPem: string;
}
let ca: { certPem: string; keyPem: string };
let manager: Ident, worker: Ident, removed: Ident, forged: Ident, otherCluster: Ident;
let forgedCA: { certPem: string; keyPem: string };
let strict: RpcServer, optional: RpcServer;
const removedIds = new Set<string>(['removed-node']);
let foreverFinished = false;
const echoSignals: AbortSignal[] = [];

function handlers() {
  return {
    Echo: (req: { msg: string }, ctx: { peer: { nodeId: string; role: string } | null; signal: AbortSignal }) => {
      echoSignals.push(ctx.signal);
      return { msg: req.msg, peer: ctx.peer?.nodeId ?? null, role: ctx.peer?.role ?? null };
    },
    ManagerOnly: () => ({ ok: true }),
    Wrapped: requireRole(['swarm-manager'])(() => ({ ok: true })),
    Public: (_r: unknown, ctx: { peer: { nodeId: string } | null }) => ({ peer: ctx.peer?.nodeId ?? null }),
    Fail: () => {
      throw notFound('no such thing');
    },
    Refuse: () => {
      throw new ShoalError('Unavailable', 'raft: this manager is not the leader', 'not-leader', '127.0.0.9:2377');
    },
    RefuseStream: async function* () {
      yield { i: 0 };
      throw new ShoalError('Unavailable', 'raft: lost leadership before the proposal committed', 'lost-leadership');
    },
    Bytes: (req: { data: Uint8Array }) => ({ data: req.data, len: req.data.length }),
    Count: async function* (req: { n: number }) {
      for (let i = 0; i < req.n; i++) yield { i };
    },
    Forever: async function* (_r: unknown, ctx: { signal: AbortSignal }) {
      try {
        for (let i = 0; !ctx.signal.aborted; i++) {
          yield { i };
          await new Promise((r) => setTimeout(r, 5));
        }
      } finally {
        foreverFinished = true;
      }
    },
    Sum: async (reqs: AsyncIterable<{ x: number }>) => {
      let sum = 0;
      for await (const r of reqs) sum += r.x;
      return { sum };
    },
    FramedChat: async function* (reqs: AsyncIterable<{ x: number }>) {
      for await (const r of reqs) yield { y: r.x * 2 };
    },
    Chat: async function* (reqs: AsyncIterable<{ x: number }>) {
      for await (const r of reqs) yield { y: r.x * 2 };
    },
  };
}

async function startServer(clientAuth: 'require' | 'optional'): Promise<RpcServer> {
  const s = createRpcServer({ ...manager, caPem: ca.certPem, address: '127.0.0.1:0', clientAuth, clusterId: CLUSTER, isNodeAllowed: (id) => !removedIds.has(id) });
  s.addService(TestService, handlers());
  await s.start();
  return s;
}

const clients: { close(): void }[] = [];
function client(s: RpcServer, opts: RpcClientOptions) {
  const c = createRpcClient(`127.0.0.1:${s.port}`, opts);
  clients.push(c);
  return c;
}
const as = (id: Ident, caPem = ca.certPem): RpcClientOptions => ({ certPem: id.certPem, keyPem: id.keyPem, caPem });

async function rejectsWith(p: Promise<unknown>, code: grpc.status, re?: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RpcError, `expected RpcError, got ${String(e)}`);
    assert.equal(e.code, code, `code ${e.code} (${e.details})`);
    if (re) assert.match(e.details, re);
    return true;
  });
}

before(async () => {
  ca = await createRootCA();
  forgedCA = await createRootCA();
  manager = await issueNodeKeyAndCertificate(ca, 'manager-node', 'manager', CLUSTER);
  worker = await issueNodeKeyAndCertificate(ca, 'worker-node', 'worker', CLUSTER);
  removed = await issueNodeKeyAndCertificate(ca, 'removed-node', 'manager', CLUSTER);
  forged = await issueNodeKeyAndCertificate(forgedCA, 'manager-node', 'manager', CLUSTER);
  otherCluster = await issueNodeKeyAndCertificate(ca, 'alien-node', 'manager', 'another-cluster');
  strict = await startServer('require');
  optional = await startServer('optional');
});

after(async () => {
  for (const c of clients) c.close();
  await Promise.all([strict.stop(100), optional.stop(100)]);
});

test('a manager can call manager-only and all-node methods; the handler sees its identity', async () => {
  const c = client(strict, as(manager));
  assert.deepEqual(await c.unary(TestService, 'Echo', { msg: 'hi' }), { msg: 'hi', peer: 'manager-node', role: 'swarm-manager' });
  assert.deepEqual(await c.unary(TestService, 'ManagerOnly', {}), { ok: true });
  assert.deepEqual(await c.unary(TestService, 'Wrapped', {}), { ok: true });
});

test("a connection's certificate is read once: later calls on it reuse the identity", async (t) => {
  let reads = 0;
  const original = TLSSocket.prototype.getPeerCertificate;
  t.mock.method(TLSSocket.prototype, 'getPeerCertificate', function (this: TLSSocket, detailed?: boolean) {
    if ((this as TLSSocket & { server?: unknown }).server) reads++;
    return original.call(this, detailed as true);
  });
  const c = client(strict, as(worker));
  for (let i = 0; i < 5; i++) assert.deepEqual(await c.unary(TestService, 'Echo', { msg: `m${i}` }), { msg: `m${i}`, peer: 'worker-node', role: 'swarm-worker' });
  // one read for the connection (grpc-js's layout changed if every call reads it again: rpc/peer.ts callSocket)
  assert.equal(reads, 1);
  const other = client(strict, as(manager));
  assert.equal((await other.unary(TestService, 'Echo', { msg: 'x' })).peer, 'manager-node');
});

test("a unary call's signal stays unaborted once it answered (grpc-js reports every closed stream as cancelled)", async () => {
  const c = client(strict, as(manager));
  echoSignals.length = 0;
  for (let i = 0; i < 3; i++) await c.unary(TestService, 'Echo', { msg: 'x' });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(echoSignals.length, 3);
  assert.deepEqual(echoSignals.map((s) => s.aborted), [false, false, false]);
});

test('a worker certificate cannot call a manager-only method', async () => {
  const c = client(strict, as(worker));
  assert.equal((await c.unary(TestService, 'Echo', { msg: 'w' })).role, 'swarm-worker');
  await rejectsWith(c.unary(TestService, 'ManagerOnly', {}), grpc.status.PERMISSION_DENIED, /not part of roles: \[swarm-manager\]/);
  await rejectsWith(c.unary(TestService, 'Wrapped', {}), grpc.status.PERMISSION_DENIED);
  const e = await c.unary(TestService, 'ManagerOnly', {}).catch((x: RpcError) => x);
  assert.equal((e as RpcError).kind, 'PermissionDenied');
  assert.match((e as RpcError).rpcText, /^rpc error: code = PermissionDenied desc = /);
});

test('a forged certificate (other CA) is refused at the handshake on a strict server', async () => {
  const c = client(strict, as(forged, ca.certPem));
  await rejectsWith(c.unary(TestService, 'Echo', { msg: 'x' }, { timeoutMs: 3000 }), grpc.status.UNAVAILABLE);
});

test('a forged certificate is anonymous on an optional-auth server: only anonymous methods answer', async () => {
  const c = client(optional, as(forged, ca.certPem));
  await rejectsWith(c.unary(TestService, 'Echo', { msg: 'x' }), grpc.status.UNAUTHENTICATED);
  assert.deepEqual(await c.unary(TestService, 'Public', {}), { peer: null });
  const anon = client(optional, { caPem: ca.certPem });
  assert.deepEqual(await anon.unary(TestService, 'Public', {}), { peer: null });
  await rejectsWith(anon.unary(TestService, 'ManagerOnly', {}), grpc.status.UNAUTHENTICATED);
  const m = client(optional, as(manager));
  assert.deepEqual(await m.unary(TestService, 'Public', {}), { peer: 'manager-node' });
  assert.deepEqual(await m.unary(TestService, 'ManagerOnly', {}), { ok: true });
});

test('a client without a certificate cannot reach a strict server', async () => {
  const anon = client(strict, { caPem: ca.certPem });
  await assert.rejects(anon.unary(TestService, 'Public', {}, { timeoutMs: 3000 }), (e: RpcError) => e.code === grpc.status.UNAVAILABLE);
});

test('a removed node is refused', async () => {
  const c = client(strict, as(removed));
  await rejectsWith(c.unary(TestService, 'Echo', { msg: 'x' }), grpc.status.PERMISSION_DENIED, /removed-node was removed from swarm/);
  const o = client(optional, as(removed));
  await rejectsWith(o.unary(TestService, 'Echo', { msg: 'x' }), grpc.status.PERMISSION_DENIED);
  assert.deepEqual(await o.unary(TestService, 'Public', {}), { peer: null });
});

test('a certificate of another cluster is refused', async () => {
  const c = client(strict, as(otherCluster));
  await rejectsWith(c.unary(TestService, 'Echo', { msg: 'x' }), grpc.status.PERMISSION_DENIED, /organization/);
});

test('the client refuses a server whose certificate lacks the expected role', async () => {
  const s = createRpcServer({ ...worker, caPem: ca.certPem, address: '127.0.0.1:0' });
  s.addService(TestService, handlers());
  await s.start();
  try {
    const c = client(s, as(manager));
    await rejectsWith(c.unary(TestService, 'Echo', { msg: 'x' }, { timeoutMs: 3000 }), grpc.status.UNAVAILABLE);
    const ok = client(s, { ...as(manager), serverRole: 'swarm-worker', serverNodeId: 'worker-node' });
    assert.equal((await ok.unary(TestService, 'Echo', { msg: 'x' })).peer, 'manager-node');
    const wrongId = client(s, { ...as(manager), serverRole: 'swarm-worker', serverNodeId: 'someone-else' });
    await rejectsWith(wrongId.unary(TestService, 'Echo', { msg: 'x' }, { timeoutMs: 3000 }), grpc.status.UNAVAILABLE);
  } finally {
    await s.stop(100);
  }
});

test('errors keep their kind across the wire', async () => {
  const c = client(strict, as(worker));
  const e = (await c.unary(TestService, 'Fail', {}).catch((x: unknown) => x)) as RpcError;
  assert.equal(e.code, grpc.status.NOT_FOUND);
  assert.equal(e.kind, 'NotFound');
  assert.equal(e.message, 'no such thing');
  assert.equal(e.reason, undefined);
});

test('a reason code crosses the wire in the trailers, on a unary call and a stream, with the text unchanged', async () => {
  const c = client(strict, as(worker));
  const e = (await c.unary(TestService, 'Refuse', {}).catch((x: unknown) => x)) as RpcError;
  assert.ok(e instanceof RpcError);
  assert.equal(e.kind, 'Unavailable');
  assert.equal(e.reason, 'not-leader');
  assert.equal(e.leaderAddr, '127.0.0.9:2377', 'the leader address crosses in its own trailer');
  assert.equal(e.message, 'raft: this manager is not the leader');
  const got: number[] = [];
  const s = (await (async () => {
    for await (const m of c.serverStream(TestService, 'RefuseStream', {})) got.push(m.i);
  })().catch((x: unknown) => x)) as RpcError;
  assert.deepEqual(got, [0]);
  assert.equal(s.reason, 'lost-leadership');
  assert.equal(s.leaderAddr, undefined);
  assert.equal(s.message, 'raft: lost leadership before the proposal committed');
});

test('a call that finds no connection is marked never sent', async () => {
  const probe = await new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
  const nobody = createRpcClient(`127.0.0.1:${probe}`, as(worker));
  clients.push(nobody);
  const e = (await nobody.unary(TestService, 'Echo', { msg: 'x' }, { timeoutMs: 5000 }).catch((x: unknown) => x)) as RpcError;
  assert.equal(e.code, grpc.status.UNAVAILABLE);
  assert.equal(e.reason, 'not-sent');
});

test('bytes survive the JSON codec', async () => {
  const data = Uint8Array.from({ length: 1000 }, (_, i) => i % 256);
  const c = client(strict, as(worker));
  const r = await c.unary(TestService, 'Bytes', { data });
  assert.ok(r.data instanceof Uint8Array);
  assert.equal(r.len, 1000);
  assert.deepEqual(Array.from(r.data), Array.from(data));
  assert.deepEqual(deserialize(serialize({ a: Buffer.from([1, 2]) })), { a: new Uint8Array([1, 2]) });
  assert.equal(deserialize(serialize(undefined)), null);
  // with and without tagged bytes, nested and beside text that merely looks like the tag
  const mixed = { s: 'a "$b" in a string', $b: 'not alone', list: [{ x: new Uint8Array([9]) }, { y: '$b' }], empty: new Uint8Array(0) };
  assert.deepEqual(deserialize(serialize(mixed)), { s: 'a "$b" in a string', $b: 'not alone', list: [{ x: new Uint8Array([9]) }, { y: '$b' }], empty: new Uint8Array(0) });
  const plain = { labels: { $b: 'x', other: 1 }, text: '$b' };
  assert.deepEqual(deserialize(serialize(plain)), { labels: { $b: 'x', other: 1 }, text: '$b' });
  // without bytes the plain path writes exactly what the tagged one would
  const noBytes = { a: [1, 'x', null, { b: true, d: new Date(0), n: { deep: ['y'] } }], e: {} };
  assert.equal(serialize(noBytes).toString(), JSON.stringify(noBytes));
  // a Buffer deep inside still becomes bytes
  assert.deepEqual(deserialize(serialize({ a: [{ b: { c: Buffer.from([7]) } }] })), { a: [{ b: { c: new Uint8Array([7]) } }] });
  // a lone-tag object from a peer is bytes whether or not the message has other tags
  assert.deepEqual(deserialize(Buffer.from('{"k":{"$b":"AQI="}}')), { k: new Uint8Array([1, 2]) });
});

test('server streaming', async () => {
  const c = client(strict, as(worker));
  const got: number[] = [];
  for await (const m of c.serverStream(TestService, 'Count', { n: 500 })) got.push(m.i);
  assert.deepEqual(got, Array.from({ length: 500 }, (_, i) => i));
});

test('a server stream read encoded and served again as it came: the far end gets the same messages, bytes included', async () => {
  const c = client(strict, as(worker));
  const encoded: EncodedMessage[] = [];
  for await (const m of c.serverStreamEncoded(TestService, 'Count', { n: 3 })) encoded.push(m);
  assert.ok(encoded.every((m) => m instanceof EncodedMessage));
  assert.deepEqual(encoded.map((m) => deserialize(m.bytes)), [{ i: 0 }, { i: 1 }, { i: 2 }]);
  // what a relay serves: the bytes themselves, not their JSON
  const withBytes = serialize({ data: new Uint8Array([1, 2, 3]) });
  assert.equal(serialize(new EncodedMessage(withBytes)), withBytes);
  assert.deepEqual(deserialize(serialize(new EncodedMessage(withBytes))), { data: new Uint8Array([1, 2, 3]) });
});

test('server streaming is refused for a forged cert on the optional server', async () => {
  const c = client(optional, as(forged));
  await assert.rejects(
    (async () => {
      for await (const _ of c.serverStream(TestService, 'Count', { n: 3 })) void _;
    })(),
    (e: RpcError) => e.code === grpc.status.UNAUTHENTICATED,
  );
});

test('cancelling a server stream stops the handler', async () => {
  foreverFinished = false;
  const c = client(strict, as(worker));
  const s = c.serverStream(TestService, 'Forever', {});
  let n = 0;
  for await (const _ of s) {
    if (++n === 5) s.cancel();
  }
  assert.ok(n >= 5);
  for (let i = 0; i < 100 && !foreverFinished; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(foreverFinished, 'server generator should be closed after cancel');
});

test('client streaming', async () => {
  const c = client(strict, as(worker));
  const call = c.clientStream(TestService, 'Sum');
  for (let i = 1; i <= 100; i++) await call.send({ x: i });
  call.end();
  assert.deepEqual(await call.response, { sum: 5050 });
});

test('bidirectional streaming', async () => {
  const c = client(strict, as(manager));
  const s = c.bidi(TestService, 'Chat');
  const got: number[] = [];
  const reader = (async () => {
    for await (const m of s.responses) got.push(m.y);
  })();
  for (let i = 0; i < 50; i++) await s.send({ x: i });
  s.end();
  await reader;
  assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i * 2));
});

test('a bidi method with its own codec uses it both ways, on client and server', async () => {
  const c = client(strict, as(manager));
  const s = c.bidi(TestService, 'FramedChat');
  const before = { ...codecUses };
  const got: number[] = [];
  const reader = (async () => {
    for await (const m of s.responses) got.push(m.y);
  })();
  for (let i = 0; i < 5; i++) await s.send({ x: i + 0.5 });
  s.end();
  await reader;
  assert.deepEqual(got, [1, 3, 5, 7, 9]);
  // 5 requests and 5 responses, each serialized on one side and deserialized on the other
  assert.equal(codecUses.serialize - before.serialize, 10);
  assert.equal(codecUses.deserialize - before.deserialize, 10);
});

test('credentials can be swapped live (root rotation)', async () => {
  const { newCA } = await createRotationCA(ca);
  const newManager = await issueNodeKeyAndCertificate(newCA, 'manager-node', 'manager', CLUSTER);
  const newWorker = await issueNodeKeyAndCertificate(newCA, 'worker-node', 'worker', CLUSTER);
  const s = createRpcServer({ ...manager, caPem: ca.certPem, address: '127.0.0.1:0', clusterId: CLUSTER });
  s.addService(TestService, handlers());
  await s.start();
  try {
    const before1 = client(s, as(newWorker, ca.certPem + newCA.certPem));
    await rejectsWith(before1.unary(TestService, 'Echo', { msg: 'x' }, { timeoutMs: 3000 }), grpc.status.UNAVAILABLE);
    s.updateCredentials({ ...newManager, caPem: ca.certPem + newCA.certPem });
    const oldTrust = client(s, as(worker, ca.certPem + newCA.certPem));
    assert.equal((await oldTrust.unary(TestService, 'Echo', { msg: 'x' })).peer, 'worker-node');
    const newTrust = client(s, as(newWorker, newCA.certPem));
    assert.equal((await newTrust.unary(TestService, 'Echo', { msg: 'y' })).peer, 'worker-node');
  } finally {
    await s.stop(100);
  }
});

test('AsyncQueue delivers in order, ends and fails', async () => {
  const q = new AsyncQueue<number>();
  q.push(1);
  setTimeout(() => {
    q.push(2);
    q.end();
    q.push(3);
  }, 5);
  const got: number[] = [];
  for await (const v of q) got.push(v);
  assert.deepEqual(got, [1, 2]);
  const f = new AsyncQueue<number>();
  setTimeout(() => f.fail(new Error('boom')), 5);
  await assert.rejects(
    (async () => {
      for await (const _ of f) void _;
    })(),
    /boom/,
  );
});

test('a queue can feed a server stream (dispatcher-style push)', async () => {
  const Push = defineService('shoal.Push', { Watch: serverStream<Record<string, never>, { v: number }>(ALL_NODES) });
  const q = new AsyncQueue<{ v: number }>();
  const s = createRpcServer({ ...manager, caPem: ca.certPem, address: '127.0.0.1:0' });
  s.addService(Push, { Watch: () => q });
  await s.start();
  try {
    const c = client(s, as(worker));
    const stream = c.serverStream(Push, 'Watch', {});
    const got: number[] = [];
    const reading = (async () => {
      for await (const m of stream) got.push(m.v);
    })();
    for (let i = 0; i < 10; i++) {
      q.push({ v: i });
      await new Promise((r) => setTimeout(r, 1));
    }
    q.end();
    await reading;
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  } finally {
    await s.stop(100);
  }
});

test('clients of one credentials cache share one TLS context per material; other material makes a new one', async () => {
  let made = 0;
  const cache = new ClientCredentialsCache((o) => (made++, clientCredentials(o)));
  // three reconnects with the same key, certificate and roots (each a new options object, as a connector reads them)
  const cs = [0, 1, 2].map(() => client(strict, { ...as(worker), credentialsCache: cache }));
  for (const c of cs) assert.equal((await c.unary(TestService, 'Echo', { msg: 'hi' })).peer, 'worker-node');
  assert.equal(made, 1, 'one context for three connections');
  assert.ok(cs.every((c) => c.credentials === cs[0]!.credentials));
  // a renewal (another certificate): new credentials, and they are the ones used
  const renewed = client(strict, { ...as(manager), credentialsCache: cache });
  assert.equal(made, 2);
  assert.notEqual(renewed.credentials, cs[0]!.credentials);
  assert.equal((await renewed.unary(TestService, 'Echo', { msg: 'hi' })).role, 'swarm-manager');
  // another expected server role is other credentials too (the identity check is part of them)
  client(strict, { ...as(manager), serverRole: 'swarm-worker', credentialsCache: cache });
  assert.equal(made, 3);
  // without a cache every client makes its own
  assert.notEqual(client(strict, as(worker)).credentials, client(strict, as(worker)).credentials);
});
