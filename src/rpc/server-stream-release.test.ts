// A server stream holds no response it has written while it waits for the next, over real mutual TLS on loopback:
// a stream idle for minutes (a node's assignments between changes) kept its last message alive, and a relay's 500
// streams held 27 MiB that way (performance.md, tenth stop).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRootCA, issueNodeKeyAndCertificate } from '../manager/ca/pki';
import { collectGarbage } from '../testing/gc';
import { ALL_NODES, createRpcClient, createRpcServer, defineService, serverStream } from '.';

const CLUSTER = 'cluster0000000000000000006';
type Big = { pad: string };
const Service = defineService('shoal.Release', {
  Plain: serverStream<Record<string, never>, Big>(ALL_NODES),
  OneAtATime: serverStream<Record<string, never>, Big>(ALL_NODES, { oneWriteAtATime: true }),
});
/** The message each method's handler yielded. */
const sent: Partial<Record<keyof typeof Service.methods, WeakRef<Big>>> = {};
const once = (method: keyof typeof Service.methods) =>
  async function* (_r: unknown, ctx: { signal: AbortSignal }) {
    // the handler itself lets go of it once yielded (a `for await` or a const would keep it: see pump)
    let m: Big | undefined = { pad: 'x'.repeat(1 << 20) + method };
    sent[method] = new WeakRef(m);
    yield m;
    m = undefined;
    await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
  };

const stops: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const stop of stops) await stop();
});

test('a server stream holds no written response while it waits for its next one (plain and oneWriteAtATime)', async () => {
  const ca = await createRootCA();
  const manager = await issueNodeKeyAndCertificate(ca, 'manager-node', 'manager', CLUSTER);
  const worker = await issueNodeKeyAndCertificate(ca, 'worker-node', 'worker', CLUSTER);
  const server = createRpcServer({ ...manager, caPem: ca.certPem, address: '127.0.0.1:0', clientAuth: 'require', clusterId: CLUSTER });
  server.addService(Service, { Plain: once('Plain'), OneAtATime: once('OneAtATime') });
  await server.start();
  stops.push(() => server.stop(100));
  const client = createRpcClient(`127.0.0.1:${server.port}`, { certPem: worker.certPem, keyPem: worker.keyPem, caPem: ca.certPem });
  stops.push(() => client.close());
  for (const method of ['Plain', 'OneAtATime'] as const) {
    const ac = new AbortController();
    const it = client.serverStream(Service, method, {}, { signal: ac.signal })[Symbol.asyncIterator]();
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
