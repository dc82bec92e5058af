import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, test } from 'node:test';
import * as dnsPacket from 'dns-packet';
import type { NetworkNames } from '../../types';
import { DnsServer, type DnsListener } from './server';
import { frame } from './forward';

// The server over real loopback sockets, queried with dns-packet; names it does not own go to a small
// upstream started here on loopback (a stand-in for the node's resolver, not for our code).

type Reply = ReturnType<typeof dnsPacket.decode>;
let nextId = 1;

function udpQuery(port: number, name: string, type = 'A', extra: dnsPacket.Packet = {}): Promise<Reply> {
  const id = nextId++;
  const sock = dgram.createSocket('udp4');
  return new Promise<Reply>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no UDP answer for ${name}`)), 10_000);
    sock.on('message', (m) => {
      clearTimeout(timer);
      resolve(dnsPacket.decode(m));
    });
    sock.send(dnsPacket.encode({ id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }], ...extra }), port, '127.0.0.1');
  }).finally(() => sock.close());
}

function tcpQuery(port: number, name: string, type = 'A'): Promise<Reply> {
  const sock = net.connect({ host: '127.0.0.1', port });
  return new Promise<Reply>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no TCP answer for ${name}`)), 10_000);
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(timer);
        resolve(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))));
      }
    });
    sock.write(frame(dnsPacket.encode({ id: nextId++, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }] })));
  }).finally(() => sock.destroy());
}

const addrs = (r: Reply) => (r.answers ?? []).map((a) => a.data as string);

/**
 * A loopback resolver on UDP and TCP (same port): example.com → its address, fail.example →
 * SERVFAIL, slow.example → silence, others NXDOMAIN.
 */
class Upstream {
  udp = dgram.createSocket('udp4');
  tcp = net.createServer();
  /** Open connections, destroyed at stop: a query it never answers would otherwise hold `close` forever. */
  conns = new Set<net.Socket>();
  seen: string[] = [];
  constructor(private readonly answer = '192.0.2.10') {}

  private reply(m: Buffer, proto: string): Buffer | null {
    const q = dnsPacket.decode(m);
    const name = q.questions![0]!.name;
    this.seen.push(`${proto}:${name}`);
    if (name === 'slow.example') return null;
    const rcode = name === 'example.com' ? 0 : name === 'fail.example' ? 2 : 3;
    const answers = rcode === 0 ? [{ name, type: 'A', ttl: 30, data: this.answer }] : [];
    return dnsPacket.encode({ id: q.id, type: 'response', flags: dnsPacket.RECURSION_AVAILABLE | rcode, questions: q.questions, answers });
  }

  /** UDP on a free port, TCP on the same number; another pick when that TCP port is taken (bounded). */
  async start(): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.startOnce();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 8) throw err;
        this.udp.close();
        this.udp = dgram.createSocket('udp4');
        this.tcp = net.createServer();
      }
    }
  }

  private async startOnce(): Promise<number> {
    this.udp.on('message', (m, r) => {
      const out = this.reply(m, 'udp');
      if (out) this.udp.send(out, r.port, r.address);
    });
    await new Promise<void>((resolve) => this.udp.bind(0, '127.0.0.1', resolve));
    this.tcp.on('connection', (s) => {
      this.conns.add(s);
      s.on('close', () => this.conns.delete(s));
      s.on('error', () => s.destroy());
      s.once('data', (b: Buffer) => {
        const out = this.reply(b.subarray(2, 2 + b.readUInt16BE(0)), 'tcp');
        if (out) s.end(frame(out));
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen(this.udp.address().port, '127.0.0.1', () => {
        this.tcp.off('error', reject);
        resolve();
      });
    });
    return this.udp.address().port;
  }

  saw(name: string): boolean {
    return this.seen.some((s) => s.endsWith(`:${name}`));
  }

  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await new Promise<void>((r) => this.udp.close(() => r()));
    await new Promise<void>((r) => this.tcp.close(() => r()));
  }
}

const backend: NetworkNames = {
  networkId: 'nb',
  networkName: 'backend',
  ingress: false,
  records: { web: ['10.0.1.2'], 'tasks.web': ['10.0.1.4', '10.0.1.5', '10.0.1.6'] },
  ptr: { '10.0.1.5': 'web.1.t1' },
};
const other: NetworkNames = { networkId: 'no', networkName: 'other', ingress: false, records: { secret: ['10.0.9.9'] }, ptr: {} };

let upstream: Upstream;
let server: DnsServer;
let l: DnsListener;

before(async () => {
  upstream = new Upstream();
  const port = await upstream.start();
  server = new DnsServer({ upstreams: [{ host: '127.0.0.1', port }], timeoutMs: 500 });
  server.setRecords([backend, other]);
  l = await server.listen({ host: '127.0.0.1', port: 0 });
});

after(async () => {
  await server.close();
  await upstream.stop();
});

test('dns server: A for a service and tasks.<service> over UDP and TCP, TTL 600, recursion available', async () => {
  for (const q of [udpQuery, tcpQuery]) {
    const r = await q(l.port, 'WEB');
    assert.equal(r.rcode, 'NOERROR');
    assert.equal(r.flag_qr, true);
    assert.equal(r.flag_ra, true);
    assert.deepEqual(addrs(r), ['10.0.1.2']);
    assert.equal(r.answers![0]!.ttl, 600);
    assert.equal(r.answers![0]!.name, 'WEB');
    const t = await q(l.port, 'tasks.web');
    assert.deepEqual(addrs(t).sort(), ['10.0.1.4', '10.0.1.5', '10.0.1.6']);
  }
  assert.deepEqual(upstream.seen, [], 'names the swarm owns never go upstream');
});

test('dns server: the order of several addresses changes between answers (shuffled as Docker)', async () => {
  const orders = new Set<string>();
  for (let i = 0; i < 40 && orders.size < 2; i++) orders.add(addrs(await udpQuery(l.port, 'tasks.web')).join(','));
  assert.ok(orders.size >= 2, `always the same order: ${[...orders].join(' | ')}`);
});

test('dns server: AAAA for a known name is an empty NOERROR; PTR names the task', async () => {
  const r = await udpQuery(l.port, 'web', 'AAAA');
  assert.equal(r.rcode, 'NOERROR');
  assert.deepEqual(r.answers, []);
  const p = await udpQuery(l.port, '5.1.0.10.in-addr.arpa', 'PTR');
  assert.deepEqual(addrs(p), ['web.1.t1.backend']);
});

test('dns server: unknown names are forwarded and the upstream answer relayed, NXDOMAIN included', async () => {
  const r = await udpQuery(l.port, 'example.com');
  assert.deepEqual(addrs(r), ['192.0.2.10']);
  assert.equal(r.answers![0]!.ttl, 30);
  const nx = await udpQuery(l.port, 'nope.example');
  assert.equal(nx.rcode, 'NXDOMAIN');
  assert.ok(upstream.saw('example.com') && upstream.saw('nope.example'));
  const t = await tcpQuery(l.port, 'example.com');
  assert.deepEqual(addrs(t), ['192.0.2.10']);
  assert.ok(upstream.seen.includes('tcp:example.com'), 'a TCP query is forwarded over TCP');
});

test('dns server: setRecords swaps the table live', async () => {
  server.setRecords([{ ...backend, records: { ...backend.records, web: ['10.0.1.3'] } }]);
  try {
    assert.deepEqual(addrs(await udpQuery(l.port, 'web')), ['10.0.1.3']);
  } finally {
    server.setRecords([backend, other]);
  }
  assert.deepEqual(addrs(await udpQuery(l.port, 'web')), ['10.0.1.2']);
});

test('dns server: a listener scoped to a network answers only that network; the rest is forwarded', async () => {
  const scoped = await server.listen({ host: '127.0.0.1', port: 0, scope: ['nb'] });
  try {
    assert.deepEqual(addrs(await udpQuery(l.port, 'secret')), ['10.0.9.9']);
    const r = await udpQuery(scoped.port, 'secret');
    assert.equal(r.rcode, 'NXDOMAIN', 'answered by the upstream, not from the other network');
    scoped.setScope(['no']);
    assert.deepEqual(addrs(await udpQuery(scoped.port, 'secret')), ['10.0.9.9']);
  } finally {
    await scoped.close();
  }
});

test('dns server: an answer too big for UDP is truncated with TC; TCP carries it whole', async () => {
  const many = Array.from({ length: 60 }, (_, i) => `10.0.3.${i + 1}`);
  server.setRecords([{ ...backend, records: { big: many } }]);
  try {
    const u = await udpQuery(l.port, 'big');
    assert.equal(u.flag_tc, true);
    assert.ok(addrs(u).length < 60 && addrs(u).length > 0);
    const e = await udpQuery(l.port, 'big', 'A', { additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 4096 }] });
    assert.equal(e.flag_tc, false, 'EDNS0 buffer size is honoured');
    assert.equal(addrs(e).length, 60);
    const t = await tcpQuery(l.port, 'big');
    assert.equal(t.flag_tc, false);
    assert.equal(addrs(t).length, 60);
  } finally {
    server.setRecords([backend, other]);
  }
});

test('dns server: a failing upstream is skipped, silence is bounded by the timeout, then SERVFAIL', async () => {
  const good = new Upstream('192.0.2.77');
  const goodPort = await good.start();
  const bad = new Upstream();
  const badPort = await bad.start();
  const s = new DnsServer({ upstreams: [{ host: '127.0.0.1', port: badPort }, { host: '127.0.0.1', port: goodPort }], timeoutMs: 300 });
  const sl = await s.listen({ host: '127.0.0.1', port: 0 });
  try {
    // The first upstream answers SERVFAIL for fail.example: the second is asked.
    const r = await udpQuery(sl.port, 'fail.example');
    assert.equal(r.rcode, 'SERVFAIL');
    assert.ok(bad.saw('fail.example') && good.saw('fail.example'), 'both upstreams were tried');
    const ok = await udpQuery(sl.port, 'example.com');
    assert.deepEqual(addrs(ok), ['192.0.2.10'], 'the first upstream answers when it can');
    const slow = await udpQuery(sl.port, 'slow.example');
    assert.equal(slow.rcode, 'SERVFAIL');
    assert.equal(s.inflightCount(), 0);
  } finally {
    await s.close();
    await good.stop();
    await bad.stop();
  }
});

test('dns server: forwarded queries past the in-flight bound are REFUSED', async () => {
  const up = new Upstream();
  const port = await up.start();
  const s = new DnsServer({ upstreams: [{ host: '127.0.0.1', port }], timeoutMs: 2000, maxInflight: 1 });
  const sl = await s.listen({ host: '127.0.0.1', port: 0 });
  try {
    const first = udpQuery(sl.port, 'slow.example');
    for (let i = 0; i < 100 && s.inflightCount() === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(s.inflightCount(), 1);
    const second = await udpQuery(sl.port, 'example.com');
    assert.equal(second.rcode, 'REFUSED');
    assert.equal((await first).rcode, 'SERVFAIL');
  } finally {
    await s.close();
    await up.stop();
  }
});

test('dns server: a client with its own upstreams (a task’s --dns) is forwarded there, others to the node’s', async () => {
  const own = new Upstream('192.0.2.99');
  const port = await own.start();
  try {
    server.setClientUpstreams('127.0.0.1', [{ host: '127.0.0.1', port }]);
    assert.deepEqual(addrs(await udpQuery(l.port, 'example.com')), ['192.0.2.99']);
    assert.deepEqual(addrs(await tcpQuery(l.port, 'example.com')), ['192.0.2.99']);
    assert.deepEqual(addrs(await udpQuery(l.port, 'web')), ['10.0.1.2'], 'swarm names are still answered here');
    server.setClientUpstreams('127.0.0.1', undefined);
    assert.deepEqual(addrs(await udpQuery(l.port, 'example.com')), ['192.0.2.10']);
  } finally {
    server.setClientUpstreams('127.0.0.1', undefined);
    await own.stop();
  }
});

test('dns server: with no upstream at all, unknown names get SERVFAIL', async () => {
  const s = new DnsServer({ upstreams: [] });
  const sl = await s.listen({ host: '127.0.0.1', port: 0 });
  try {
    assert.equal((await udpQuery(sl.port, 'example.com')).rcode, 'SERVFAIL');
  } finally {
    await s.close();
  }
});
