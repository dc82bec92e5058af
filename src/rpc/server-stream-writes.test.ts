// How a server stream's handler is asked for messages while its peer reads none of them, over real mutual TLS on
// loopback. The peer is node's own HTTP/2 client, paused: grpc-js's client keeps every message that arrives before
// its caller first reads, so through it the server is never held back (performance.md, "Complete sets 64 at a time").
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createRootCA, issueNodeKeyAndCertificate } from '../manager/ca/pki';
import { ALL_NODES, createRpcServer, defineService, serverStream } from '.';

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

const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const stop of stops) await stop();
});

test('a oneWriteAtATime stream asks its handler for the next message only once the last one is written', async () => {
  const ca = await createRootCA();
  const manager = await issueNodeKeyAndCertificate(ca, 'manager-node', 'manager', CLUSTER);
  const worker = await issueNodeKeyAndCertificate(ca, 'worker-node', 'worker', CLUSTER);
  const server = createRpcServer({ ...manager, caPem: ca.certPem, address: '127.0.0.1:0', clientAuth: 'require', clusterId: CLUSTER });
  server.addService(Service, { Large: messages('Large'), LargeOneAtATime: messages('LargeOneAtATime') });
  await server.start();
  stops.push(() => server.stop(100));
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
