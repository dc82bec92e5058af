// The dashboard's listener with the API's TLS (`--tlsverify --tlscacert --tlscert --tlskey`): HTTPS,
// and only clients with a certificate signed by the API's CA; then its edges on a real manager: the
// page and its headers, the actions' refusals with Docker's texts (a global service cannot be scaled,
// a bad count or availability, an unknown service, a rollback without a previous spec, a cross-site or
// non-JSON POST), 404 and 405. Real openssl certificates, a real daemon, real sockets.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, TestDaemon } from '../harness/daemon';
import { createTestCA, issueTestCert } from '../harness/tls-certs';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}
type Identity = { cert?: string; key?: string };

describe('dashboard over TLS with --tlsverify, and its refusals', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-dashboard-tls-'));
  let d: TestDaemon;
  let port: number;
  let server: { cert: string; key: string; ca: string };
  let client: Identity;
  let stranger: Identity;

  function request(method: string, p: string, o: { id?: Identity; body?: string; headers?: Record<string, string> } = {}): Promise<Answer | Error> {
    const id = o.id ?? client;
    return new Promise((resolve) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          method,
          path: p,
          ca: fs.readFileSync(server.ca),
          cert: id.cert ? fs.readFileSync(id.cert) : undefined,
          key: id.key ? fs.readFileSync(id.key) : undefined,
          headers: o.headers,
          agent: false,
          timeout: 10_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (e) => resolve(e));
        },
      );
      req.on('error', (e) => resolve(e));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end(o.body);
    });
  }
  const ok = async (method: string, p: string, o?: Parameters<typeof request>[2]): Promise<Answer> => {
    const r = await request(method, p, o);
    if (r instanceof Error) throw r;
    return r;
  };
  const post = (p: string, body: unknown, headers: Record<string, string> = { 'Content-Type': 'application/json' }) => ok('POST', p, { body: JSON.stringify(body), headers });
  const message = (a: Answer) => (JSON.parse(a.body) as { message: string }).message;

  before(async () => {
    const ca = createTestCA(path.join(dir, 'ca'), 'shoal-dashboard-ca');
    server = issueTestCert(ca, path.join(dir, 'server'), 'server');
    client = issueTestCert(ca, path.join(dir, 'client'), 'client');
    stranger = issueTestCert(createTestCA(path.join(dir, 'other-ca'), 'someone-else'), path.join(dir, 'stranger'), 'client');
    port = await freePort();
    d = new TestDaemon({
      hostname: 'dash-tls',
      extraArgs: ['--dashboard-addr', `127.0.0.1:${port}`, '--tlsverify', '--tlscacert', server.ca, '--tlscert', server.cert, '--tlskey', server.key],
    });
    await d.start();
  });
  after(async () => {
    await d?.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('HTTPS with the API’s CA: the right client certificate gets the page; another CA’s, none, or plain HTTP do not', async () => {
    const page = await ok('GET', '/');
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(page.body, /<script type="module" src="\/app\.js"><\/script>/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.equal((await ok('GET', '/app.js')).headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal((await ok('HEAD', '/style.css')).status, 200);

    const wrong = await request('GET', '/', { id: stranger });
    assert.ok(wrong instanceof Error, `a certificate from another CA must be refused, got ${wrong instanceof Error ? '' : wrong.status}`);
    const none = await request('GET', '/', { id: {} });
    assert.ok(none instanceof Error, `no client certificate must be refused, got ${none instanceof Error ? '' : none.status}`);
    const plain = await new Promise<number | Error>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 10_000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (e) => resolve(e));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    assert.ok(plain instanceof Error || plain !== 200, 'plain HTTP must not reach the dashboard');
  });

  test('before the swarm: the view carries Docker’s “not a swarm manager” text', async () => {
    const v = JSON.parse((await ok('GET', '/api/view')).body) as { nodes: unknown[]; error?: string };
    assert.deepEqual(v.nodes, []);
    assert.match(v.error ?? '', /^This node is not a swarm manager\. Use "docker swarm init" or "docker swarm join"/);
  });

  test('actions refused with Docker’s texts; 404, 405; cross-site and non-JSON POSTs refused', async () => {
    d.dockerOk(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${await freePort()}`]);
    d.dockerOk(['service', 'create', '--detach', '--no-resolve-image', '--name', 'everywhere', '--mode', 'global', 'busybox', 'sleep', '1000']);
    d.dockerOk(['service', 'create', '--detach', '--no-resolve-image', '--name', 'web', 'busybox', 'sleep', '1000']);
    const nodeId = d.dockerOk(['info', '--format', '{{.Swarm.NodeID}}']).trim();

    let r = await post('/api/services/everywhere/scale', { Replicas: 2 });
    assert.deepEqual([r.status, message(r)], [400, 'scale can only be used with replicated or replicated-job mode']);
    r = await post('/api/services/web/scale', { Replicas: -1 });
    assert.deepEqual([r.status, message(r)], [400, 'invalid replicas value -1: want a non-negative integer']);
    r = await post('/api/services/web/scale', []);
    assert.deepEqual([r.status, message(r)], [400, 'invalid JSON: expected an object']);
    r = await post('/api/services/nosuch/scale', { Replicas: 1 });
    assert.equal(r.status, 404);
    assert.match(message(r), /nosuch/);
    r = await post('/api/services/web/rollback', {});
    assert.equal(r.status, 400);
    assert.match(message(r), /does not have a previous spec/);
    r = await post(`/api/nodes/${nodeId}/availability`, { Availability: 'asleep' });
    assert.deepEqual([r.status, message(r)], [400, 'invalid availability "asleep": want active, pause or drain']);
    r = await post('/api/services/web/scale', { Replicas: 1 }, { 'Content-Type': 'text/plain' });
    assert.deepEqual([r.status, message(r)], [400, "unsupported Content-Type header (text/plain): must be 'application/json'"]);
    r = await post('/api/services/web/scale', { Replicas: 3 }, { 'Content-Type': 'application/json', Origin: 'https://elsewhere.example' });
    assert.equal(r.status, 403);
    assert.equal(d.dockerOk(['service', 'inspect', '--format', '{{.Spec.Mode.Replicated.Replicas}}', 'web']).trim(), '1', 'nothing refused reached the cluster');

    r = await ok('GET', '/nope');
    assert.deepEqual([r.status, message(r)], [404, 'page not found']);
    r = await ok('DELETE', '/api/view');
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'GET, HEAD, POST');

    // and one that is accepted, from the page's own origin
    r = await post('/api/services/web/scale', { Replicas: 2 }, { 'Content-Type': 'application/json', Origin: `https://127.0.0.1:${port}` });
    assert.deepEqual([r.status, JSON.parse(r.body)], [200, { Warnings: null }]);
    assert.equal(d.dockerOk(['service', 'inspect', '--format', '{{.Spec.Mode.Replicated.Replicas}}', 'web']).trim(), '2');
  });
});
