// The API server's connection limits and dockerd's warnings for a TCP host without client verification.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { createApiServer, type ApiLogger } from './server';
import { FACTS, FakeBackend } from './testing/fake-backend';

function capture(): { logger: ApiLogger; lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (_o: unknown, msg?: string) => void lines.push({ level, msg: msg ?? '' });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

/** Listens, and closes the server when the test ends (pass or fail). */
async function serve(t: TestContext, opts: Omit<Parameters<typeof createApiServer>[0], 'backend' | 'facts' | 'hosts'>) {
  const s = createApiServer({ backend: new FakeBackend(), facts: FACTS, hosts: ['tcp://127.0.0.1:0'], ...opts });
  t.after(() => s.close());
  await s.listen();
  return s;
}

const portOf = (addr: string) => Number(/:(\d+)$/.exec(addr)![1]);

/** Resolves when the server closes `s` (bounded by the test's own timeout). */
const closedByServer = (s: net.Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

test('plain TCP: dockerd’s warnings; loopback is not slowed down further', { timeout: 10_000 }, async (t) => {
  const { logger, lines } = capture();
  await serve(t, { logger, limits: { insecurePauseMs: 0, insecureNonLoopbackPauseMs: 0 } });
  const warns = lines.filter((l) => l.level === 'warn').map((l) => l.msg);
  assert.ok(warns.includes('Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network.'));
  assert.ok(warns.some((w) => w.startsWith('[DEPRECATION NOTICE]')));
  assert.ok(!warns.some((w) => /intentionally being slowed down/.test(w)), 'a loopback host is not slowed down');
});

test('connections past maxConnections are closed at once, with a log line', { timeout: 15_000 }, async (t) => {
  const { logger, lines } = capture();
  const s = await serve(t, { logger, limits: { maxConnections: 2, insecurePauseMs: 0 } });
  const port = portOf(s.addresses()[0]!);
  const a = await connect(port);
  const b = await connect(port);
  const c = await connect(port);
  await closedByServer(c);
  assert.equal(a.destroyed, false);
  assert.equal(b.destroyed, false);
  assert.ok(lines.some((l) => l.level === 'warn' && /connection limit reached/.test(l.msg)));
  a.destroy();
  b.destroy();
});

test('headers that never finish time out; an idle keep-alive connection is closed', { timeout: 15_000 }, async (t) => {
  const s = await serve(t, { limits: { headersTimeoutMs: 300, keepAliveTimeoutMs: 300, insecurePauseMs: 0 } });
  const port = portOf(s.addresses()[0]!);
  const slow = await connect(port);
  let got = '';
  slow.on('data', (d: Buffer) => (got += d.toString()));
  slow.write('GET /_ping HTTP/1.1\r\nHost: x\r\n'); // and never the blank line
  await closedByServer(slow);
  assert.match(got, /^HTTP\/1\.1 408/);

  const idle = await connect(port);
  let answer = '';
  idle.on('data', (d: Buffer) => (answer += d.toString()));
  idle.write('GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  await closedByServer(idle);
  assert.match(answer, /^HTTP\/1\.1 200/);
});
