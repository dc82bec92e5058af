// Server streams over real mutual TLS on loopback: how a handler is asked for messages while its peer reads none of
// them, and that a stream holds no response it has written while it waits for the next.
// - The peer that reads nothing is node's own HTTP/2 client, paused: grpc-js's client keeps every message that arrives
//   before its caller first reads, so through it the server is never held back (performance.md, "Complete sets 64 at
//   a time").
// - A stream idle for minutes (a node's assignments between changes) kept its last message alive, and a relay's 500
//   streams held 27 MiB that way (performance.md, tenth stop).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createRootCA, issueNodeKeyAndCertificate, type RootCA } from '../manager/ca/pki';
import { collectGarbage } from '../testing/gc';
import { ALL_NODES, createRpcClient, createRpcServer, defineService, serverStream } from '.';

const CLUSTER = 'cluster0000000000000000005';
const Service = defineService('shoal.Writes', {
  Large: serverStream<Record<string, never>, { i: number; pad: string }>(ALL_NODES),
  LargeOneAtATime: serverStream<Record<string, never>, { i: number; pad: string }>(ALL_NODES, { oneWriteAtATime: true }),
});
/** How many messages each handler was asked for. */
const pulls = { Large: 0, LargeOneAtATime: 0 };
const PAD = 'x'.repeat(256 * 1024);
const messages = (method: keyof typeof pulls) =>
  async function* (_r: unknown, ctx: { signal: AbortSignal }) {
    for (let i = 0; !ctx.signal.aborted && i < 1000; i++) {
      pulls[method]++;
      yield { i, pad: PAD };
    }
  };

type Big = { pad: string };
const Release = defineService('shoal.Release', {
  Plain: serverStream<Record<string, never>, Big>(ALL_NODES),
  OneAtATime: serverStream<Record<string, never>, Big>(ALL_NODES, { oneWriteAtATime: true }),
});
/** The message each method's handler yielded. */
const sent: Partial<Record<keyof typeof Release.methods, WeakRef<Big>>> = {};
const once = (method: keyof typeof Release.methods) =>
  async function* (_r: unknown, ctx: { signal: AbortSignal }) {
    // the handler itself lets go of it once yielded (a `for await` or a const would keep it: see pump)
    let m: Big | undefined = { pad: 'x'.repeat(1 << 20) + method };
    sent[method] = new WeakRef(m);
    yield m;
    m = undefined;
    await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
  };

type Ident = Awaited<ReturnType<typeof issueNodeKeyAndCertificate>>;
let ca: RootCA, manager: Ident, worker: Ident;
const stops: Array<() => Promise<void> | void> = [];
before(async () => {
  ca = await createRootCA();
  manager = await issueNodeKeyAndCertificate(ca, 'manager-node', 'manager', CLUSTER);
  worker = await issueNodeKeyAndCertificate(ca, 'worker-node', 'worker', CLUSTER);
});
after(async () => {
  for (const stop of stops) await stop();
});

async function startServer(add: (s: ReturnType<typeof createRpcServer>) => void) {
  const server = createRpcServer({ ...manager, caPem: ca.certPem, address: '127.0.0.1:0', clientAuth: 'require', clusterId: CLUSTER });
  add(server);
  await server.start();
  stops.push(() => server.stop(100));
  return server;
}

test('a oneWriteAtATime stream asks its handler for the next message only once the last one is written', async () => {
  const server = await startServer((s) => s.addService(Service, { Large: messages('Large'), LargeOneAtATime: messages('LargeOneAtATime') }));
  // 256 KiB messages to a peer that reads none of them: HTTP/2's flow control stops the writes. A plain server
  // stream's handler is still asked for what fills grpc-js's buffer of 16 messages; a oneWriteAtATime one only
  // for the message being written.
  const asked: Record<string, number> = {};
  for (const method of ['Large', 'LargeOneAtATime'] as const) {
    const session = http2.connect(`https://127.0.0.1:${server.port}`, { key: worker.keyPem, cert: worker.certPem, ca: ca.certPem, checkServerIdentity: () => undefined });
    session.on('error', () => undefined);
    try {
      const stream = session.request({ ':method': 'POST', ':path': `/shoal.Writes/${method}`, 'content-type': 'application/grpc', te: 'trailers' });
      stream.on('error', () => undefined);
      stream.pause();
      const body = Buffer.from('{}');
      const frame = Buffer.alloc(5 + body.length);
      frame.writeUInt32BE(body.length, 1);
      body.copy(frame, 5);
      stream.end(frame);
      // what the handler is asked for while nothing is read: until the count holds for 300 ms (at most 5 s)
      let last = -1;
      for (let i = 0; i < 50 && (pulls[method] === 0 || pulls[method] !== last); i++) {
        last = pulls[method];
        await new Promise((r) => setTimeout(r, 300));
      }
      asked[method] = pulls[method];
      stream.close();
    } finally {
      session.destroy();
    }
  }
  assert.ok(asked.LargeOneAtATime! >= 1 && asked.LargeOneAtATime! <= 3, `asked: ${JSON.stringify(asked)}`);
  assert.ok(asked.Large! >= 16, `asked: ${JSON.stringify(asked)}`);
});

test('a server stream holds no written response while it waits for its next one (plain and oneWriteAtATime)', async () => {
  const server = await startServer((s) => s.addService(Release, { Plain: once('Plain'), OneAtATime: once('OneAtATime') }));
  const client = createRpcClient(`127.0.0.1:${server.port}`, { certPem: worker.certPem, keyPem: worker.keyPem, caPem: ca.certPem });
  stops.push(() => client.close());
  for (const method of ['Plain', 'OneAtATime'] as const) {
    const ac = new AbortController();
    const it = client.serverStream(Release, method, {}, { signal: ac.signal })[Symbol.asyncIterator]();
    try {
      const first = await it.next();
      assert.equal(first.value?.pad.length, (1 << 20) + method.length);
      // the stream stays open, its handler waiting: the message went out, so nothing on the server should hold it
      await collectGarbage();
      assert.equal(sent[method]?.deref(), undefined, `${method}: the written message is still held`);
    } finally {
      ac.abort();
    }
  }
});
