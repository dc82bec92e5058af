// The mesh over real loopback sockets: echo backends on 127.0.0.1, the mesh on a free port, clients connecting to it.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, test } from 'node:test';
import { freePort } from '../../../test/harness/daemon';
import { ManualClock } from '../../lib/ports';
import { parseProxyHeader } from './core/proxy-protocol';
import type { MeshBackend, PublishedPortTable } from './core/types';
import { RoutingMesh, type RoutingMeshOptions } from './mesh';

const HOST = '127.0.0.1';
const T = { timeout: 20_000 };
const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A TCP backend: echoes, answers a FIN with `[end N]` (bytes it got) then its own FIN; with `proxy`, first reads a
 * PROXY header and answers it as a JSON line. */
async function tcpBackend(id: string, proxy = false) {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let n = 0;
    let pending: Buffer | undefined = proxy ? Buffer.alloc(0) : undefined;
    s.on('data', (d: Buffer) => {
      if (pending) {
        pending = Buffer.concat([pending, d]);
        const h = parseProxyHeader(pending);
        if (!h) return;
        s.write(JSON.stringify(h) + '\n');
        d = pending.subarray(h.length);
        pending = undefined;
        if (!d.length) return;
      }
      n += d.length;
      s.write(d);
    });
    s.on('end', () => s.end(`[end ${n}]`));
  });
  srv.listen(0, HOST);
  await once(srv, 'listening');
  cleanup.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => srv.close(r));
  });
  const backend: MeshBackend = { id, host: HOST, port: (srv.address() as net.AddressInfo).port };
  return { backend, srv };
}

/** A UDP backend answering each datagram with `<id>:<payload>`, or with the PROXY v2 header it read as JSON. */
async function udpBackend(id: string, proxy = false) {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => {
    if (proxy) {
      const h = parseProxyHeader(m)!;
      s.send(JSON.stringify({ ...h, payload: m.subarray(h.length).toString() }), r.port, r.address);
    } else s.send(`${id}:${m.toString()}`, r.port, r.address);
  });
  s.bind(0, HOST);
  await once(s, 'listening');
  cleanup.push(() => new Promise<void>((r) => s.close(() => r())));
  return { id, host: HOST, port: s.address().port } as MeshBackend;
}

async function startMesh(opts: RoutingMeshOptions = {}) {
  const mesh = new RoutingMesh({ bindHost: HOST, connectTimeoutMs: 5000, ...opts });
  cleanup.push(() => mesh.close());
  return mesh;
}

/** A client connection through the mesh that has been answered once (so the mesh has picked its backend). */
async function openEcho(port: number, msg = 'ping'): Promise<net.Socket> {
  const c = net.connect({ host: HOST, port, allowHalfOpen: true });
  cleanup.push(() => void c.destroy());
  await once(c, 'connect');
  c.write(msg);
  const [d] = (await once(c, 'data')) as [Buffer];
  assert.equal(d.toString(), msg);
  return c;
}

/** Sends `msg` and waits for the full answer up to the server's end. */
async function exchangeToEnd(c: net.Socket, msg: string, halfClose = true): Promise<string> {
  const chunks: Buffer[] = [];
  c.on('data', (d) => chunks.push(d));
  c.write(msg);
  if (halfClose) c.end();
  await once(c, 'end');
  return Buffer.concat(chunks).toString();
}

const tcp = (port: number, backends: MeshBackend[], extra: Partial<PublishedPortTable> = {}): PublishedPortTable => ({ protocol: 'tcp', port, backends, ...extra });

/** How many of the backend servers' connections are open now, by backend. */
const openOn = async (...bs: { srv: net.Server }[]) =>
  Promise.all(bs.map((b) => new Promise<number>((r, j) => b.srv.getConnections((e, n) => (e ? j(e) : r(n))))));

test('TCP: held connections spread evenly over 3 backends', T, async () => {
  const bs = await Promise.all(['a', 'b', 'c'].map((id) => tcpBackend(id)));
  const mesh = await startMesh();
  const port = await freePort();
  await mesh.apply([tcp(port, bs.map((b) => b.backend))]);
  for (let i = 0; i < 6; i++) await openEcho(port);
  assert.deepEqual(await openOn(...bs), [2, 2, 2]);
  assert.deepEqual([...mesh.activeByBackend('tcp', port).values()], [2, 2, 2]);
  const st = mesh.status()[0];
  assert.equal(st.counters.active, 6);
  assert.equal(st.counters.total, 6);
});

test('TCP: a removed backend keeps its open connection and gets no new ones; an added one gets new ones', T, async () => {
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => tcpBackend(id)));
  const mesh = await startMesh();
  const port = await freePort();
  await mesh.apply([tcp(port, [a.backend, b.backend])]);
  const onA = await openEcho(port); // first pick: a
  assert.deepEqual(await openOn(a, b), [1, 0]);
  await mesh.apply([tcp(port, [b.backend])]);
  for (let i = 0; i < 3; i++) await openEcho(port);
  assert.deepEqual(await openOn(a, b), [1, 3]);
  // the connection to the removed backend still works both ways, half-close included
  assert.equal(await exchangeToEnd(onA, 'still here'), 'still here[end 14]');
  await mesh.apply([tcp(port, [b.backend, c.backend])]);
  await openEcho(port);
  assert.deepEqual(await openOn(b, c), [3, 1]);
});

test('TCP: half-close passes a FIN on and the answer still comes back', T, async () => {
  const a = await tcpBackend('a');
  const mesh = await startMesh();
  const port = await freePort();
  await mesh.apply([tcp(port, [a.backend])]);
  const c = net.connect({ host: HOST, port, allowHalfOpen: true });
  cleanup.push(() => void c.destroy());
  await once(c, 'connect');
  assert.equal(await exchangeToEnd(c, 'hello'), 'hello[end 5]');
  await once(c.end(), 'close');
  const st = mesh.status()[0].counters;
  assert.deepEqual([st.bytesIn, st.bytesOut], [5, 'hello[end 5]'.length]);
});

test('TCP: a dead backend is skipped; no backend at all closes the client', T, async () => {
  const live = await tcpBackend('live');
  const dead: MeshBackend = { id: 'dead', host: HOST, port: await freePort() };
  const mesh = await startMesh();
  const port = await freePort();
  await mesh.apply([tcp(port, [dead, live.backend])]);
  for (let i = 0; i < 3; i++) await openEcho(port);
  const st = mesh.status()[0].counters;
  assert.ok(st.failedConnects >= 1, `failed connects ${st.failedConnects}`);
  assert.equal(st.noBackend, 0);
  assert.deepEqual(await openOn(live), [3]);

  await mesh.apply([tcp(port, [dead])]);
  const c = net.connect({ host: HOST, port });
  c.on('error', () => undefined); // a reset is what it gets
  await new Promise((r) => c.on('close', r));
  assert.equal(mesh.status()[0].counters.noBackend, 1);
});

async function echoOnce(c: net.Socket, msg: string): Promise<string> {
  c.write(msg);
  const [d] = (await once(c, 'data')) as [Buffer];
  return d.toString();
}

test('apply: idempotent, a removed port closes its listener', T, async () => {
  const a = await tcpBackend('a');
  const mesh = await startMesh();
  const port = await freePort();
  const table = [tcp(port, [a.backend])];
  await mesh.apply(table);
  const held = await openEcho(port);
  await mesh.apply(table);
  await mesh.apply([{ ...table[0], backends: [...table[0].backends] }]);
  assert.equal(await echoOnce(held, 'again'), 'again');
  assert.equal(mesh.status()[0].counters.total, 1);

  const heldEnded = new Promise((r) => held.on('end', r));
  await mesh.apply([]);
  assert.deepEqual(mesh.status(), []);
  const c = net.connect({ host: HOST, port });
  const [err] = (await once(c, 'error').catch((e) => [e])) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNREFUSED');
  await heldEnded; // an unpublished port's connections end with it
});

test('apply: a port in use is reported on its own, the others open; the next apply retries it', T, async () => {
  const a = await tcpBackend('a');
  const mesh = await startMesh();
  const [busy, free] = [await freePort(), await freePort()];
  const squatter = net.createServer().listen(busy, HOST);
  await once(squatter, 'listening');
  cleanup.push(() => void squatter.close());
  const table = [tcp(busy, [a.backend]), tcp(free, [a.backend])];
  await mesh.apply(table);
  const [s1, s2] = [busy, free].map((p) => mesh.status().find((s) => s.port === p)!);
  assert.equal(s1.listening, false);
  assert.match(s1.error ?? '', /EADDRINUSE/);
  assert.equal(s2.listening, true);
  await openEcho(free);

  await new Promise((r) => squatter.close(r));
  await mesh.apply(table);
  assert.deepEqual(mesh.status().map((s) => s.listening), [true, true]);
  await openEcho(busy);
});

test('PROXY v1 and v2: the backend sees the real client address and port', T, async () => {
  const b = await tcpBackend('p', true);
  const mesh = await startMesh();
  const [p1, p2] = [await freePort(), await freePort()];
  await mesh.apply([tcp(p1, [b.backend], { proxyProtocol: 'v1' }), tcp(p2, [b.backend], { proxyProtocol: 'v2' })]);
  for (const [port, version] of [[p1, 1], [p2, 2]] as const) {
    const c = net.connect({ host: HOST, port });
    cleanup.push(() => void c.destroy());
    await once(c, 'connect');
    c.write('x');
    // the backend answers the header it read, then echoes the client's byte: the header came first
    let got = '';
    c.on('data', (d) => (got += d.toString()));
    while (!got.endsWith('\nx')) await once(c, 'data');
    const h = JSON.parse(got.slice(0, -2));
    assert.deepEqual(h, { version, length: h.length, protocol: 'tcp', srcAddress: HOST, srcPort: c.localPort, dstAddress: HOST, dstPort: port });
  }
});

test('UDP: flows spread over 2 backends, replies come from the published port, a flow sticks to its backend', T, async () => {
  const backends = [await udpBackend('a'), await udpBackend('b')];
  const mesh = await startMesh();
  const port = await freePort();
  await mesh.apply([{ protocol: 'udp', port, backends }]);
  const ask = async (s: dgram.Socket, msg: string) => {
    s.send(msg, port, HOST);
    const [m, r] = (await once(s, 'message')) as [Buffer, dgram.RemoteInfo];
    assert.equal(r.port, port);
    return m.toString();
  };
  const c1 = dgram.createSocket('udp4');
  const c2 = dgram.createSocket('udp4');
  cleanup.push(() => void c1.close(), () => void c2.close());
  assert.equal(await ask(c1, 'q1'), 'a:q1');
  assert.equal(await ask(c2, 'q2'), 'b:q2');
  assert.equal(await ask(c1, 'q3'), 'a:q3');
  assert.equal(mesh.udpFlowCount(port), 2);
  const st = mesh.status()[0].counters;
  assert.deepEqual([st.udpDatagramsIn, st.udpDatagramsOut, st.total], [3, 3, 2]);
});

test('UDP: an idle flow ends after the idle timeout (injected clock); PROXY v2 starts each datagram', T, async () => {
  const clock = new ManualClock(1000);
  const backend = await udpBackend('p', true);
  const mesh = await startMesh({ clock, udpIdleMs: 30_000 });
  const port = await freePort();
  await mesh.apply([{ protocol: 'udp', port, proxyProtocol: 'v2', backends: [backend] }]);
  const c = dgram.createSocket('udp4');
  cleanup.push(() => void c.close());
  c.bind(0, HOST);
  await once(c, 'listening');
  c.send('hi', port, HOST);
  const [m] = (await once(c, 'message')) as [Buffer];
  const h = JSON.parse(m.toString());
  assert.deepEqual(h, { version: 2, length: 28, protocol: 'udp', srcAddress: HOST, srcPort: c.address().port, dstAddress: HOST, dstPort: port, payload: 'hi' });
  clock.advance(29_999);
  mesh.sweepUdpFlows();
  assert.equal(mesh.udpFlowCount(port), 1);
  clock.advance(1);
  mesh.sweepUdpFlows();
  assert.equal(mesh.udpFlowCount(port), 0);
  assert.equal(mesh.status()[0].counters.active, 0);
});
