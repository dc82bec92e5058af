// The API server: system endpoints, swarm and nodes, against the FakeBackend.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { NOT_A_MANAGER_MESSAGE, unavailable } from '../lib/errors';
import { defaultSwarmSpec } from '../types';
import { createApiServer } from './server';
import { FACTS, mkService, type FakeBackend } from './testing/fake-backend';
import { call, json, startApiFixture, type ApiFixture } from './testing/http';

let f: ApiFixture;
let dir: string;
let sock: string;
let backend: FakeBackend;

before(async () => {
  f = await startApiFixture();
  ({ dir, sock, backend } = f);
});

after(() => f.close());

describe('system', () => {
  test('socket is 0660 and a stale socket file is replaced', async () => {
    assert.equal(fs.statSync(sock).mode & 0o777, 0o660);
    const p2 = path.join(dir, 'stale.sock');
    // A process that exits without closing its server leaves the socket file behind.
    execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(p2)}, () => process.exit(0))`], { timeout: 10_000 });
    assert.ok(fs.statSync(p2).isSocket());
    const s3 = createApiServer({ backend, facts: FACTS, hosts: [`unix://${p2}`, 'tcp://127.0.0.1:0'] });
    await s3.listen();
    assert.equal((await call(p2, 'GET', '/_ping')).status, 200);
    assert.match(s3.addresses()[1], /^tcp:\/\/127\.0\.0\.1:\d+$/);
    await s3.close();
    assert.equal(fs.existsSync(p2), false);
    // A regular file in the way is not removed.
    const p3 = path.join(dir, 'regular-file');
    fs.writeFileSync(p3, 'keep');
    const s4 = createApiServer({ backend, facts: FACTS, hosts: [`unix://${p3}`] });
    await assert.rejects(s4.listen(), /is not a socket/);
    assert.equal(fs.readFileSync(p3, 'utf8'), 'keep');
    await s4.close();
  });

  test('a streaming request whose client goes away is aborted: the events stream behind it ends', async () => {
    const ended = backend.eventStreamsEnded;
    const before = backend.eventsToSend;
    backend.eventsToSend = [{ Type: 'node', Action: 'update', Actor: { ID: 'node1', Attributes: {} }, scope: 'swarm', time: 2, timeNano: 2 }];
    const first = await new Promise<{ req: http.ClientRequest; line: string }>((resolve, reject) => {
      const req = http.request({ socketPath: sock, method: 'GET', path: '/v1.47/events?filters=' + encodeURIComponent('{"scope":["swarm"]}') }, (res) => {
        res.once('data', (d: Buffer) => resolve({ req, line: d.toString() }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(backend.eventStreamsEnded, ended, 'the stream is open while its client reads');
    first.req.destroy();
    for (let i = 0; i < 100 && backend.eventStreamsEnded === ended; i++) await new Promise((r) => setTimeout(r, 20));
    backend.eventsToSend = before;
    assert.match(first.line, /"Action":"update"/);
    assert.equal(backend.eventStreamsEnded, ended + 1);
  });

  test('GET and HEAD /_ping answer OK with Docker headers', async () => {
    const g = await call(sock, 'GET', '/_ping');
    assert.equal(g.status, 200);
    assert.equal(g.body.toString(), 'OK');
    assert.equal(g.headers['api-version'], '1.47');
    assert.equal(g.headers['docker-experimental'], 'false');
    assert.equal(g.headers['ostype'], 'linux');
    assert.equal(g.headers['swarm'], 'active/manager');
    assert.equal(g.headers['cache-control'], 'no-cache, no-store, must-revalidate');
    assert.equal(g.headers['pragma'], 'no-cache');
    assert.equal(g.headers['server'], 'Docker/28.2.2 (linux)');
    const h = await call(sock, 'HEAD', '/v1.47/_ping');
    assert.equal(h.status, 200);
    assert.equal(h.body.length, 0);
    assert.equal(h.headers['swarm'], 'active/manager');
    backend.manager = false;
    try {
      assert.equal((await call(sock, 'HEAD', '/_ping')).headers['swarm'], 'inactive');
    } finally {
      backend.manager = true;
    }
  });

  test('version negotiation: too new, too old, in range', async () => {
    const tooNew = await call(sock, 'GET', '/v1.99/version');
    assert.equal(tooNew.status, 400);
    assert.equal(json(tooNew).message, 'client version 1.99 is too new. Maximum supported API version is 1.47');
    assert.equal(tooNew.headers['content-type'], 'application/json');
    const tooOld = await call(sock, 'GET', '/v1.12/version');
    assert.equal(tooOld.status, 400);
    assert.match(json(tooOld).message, /too old\. Minimum supported API version is 1\.24/);
    const ok = await call(sock, 'GET', '/v1.24/version');
    assert.equal(ok.status, 200);
    assert.equal(json(ok).ApiVersion, '1.47');
    assert.equal(json(ok).MinAPIVersion, '1.24');
    assert.equal(json(ok).Components[0].Name, 'Engine');
  });

  test('/info carries the swarm block without secrets', async () => {
    const r = await call(sock, 'GET', '/v1.47/info');
    assert.equal(r.status, 200);
    const i = json(r);
    assert.equal(i.Name, 'shoal-test');
    assert.equal(i.Swarm.LocalNodeState, 'active');
    assert.equal(i.Swarm.Cluster.ID, 'cluster1');
    assert.equal(i.Swarm.Cluster.internal, undefined);
    assert.equal(i.Swarm.Cluster.JoinTokens, undefined);
    assert.doesNotMatch(r.body.toString(), /SECRET-KEY|SWMTKN/);
  });

  test('unknown paths: 404 page not found; garbage never crashes', async () => {
    const r = await call(sock, 'GET', '/nope');
    assert.equal(r.status, 404);
    assert.deepEqual(json(r), { message: 'page not found' });
    assert.equal((await call(sock, 'GET', '/v1.47/%zz')).status, 404);
    assert.equal((await call(sock, 'PUT', '/swarm')).status, 404);
    const raw = await new Promise<string>((resolve) => {
      const c = net.connect(sock, () => c.write('NONSENSE\r\n\r\n'));
      let out = '';
      c.on('data', (d) => (out += d));
      c.on('close', () => resolve(out));
      setTimeout(() => c.destroy(), 2000);
    });
    assert.match(raw, /^HTTP\/1.1 400/);
    assert.equal((await call(sock, 'GET', '/_ping')).status, 200);
  });
});

describe('swarm and nodes', () => {
  test('init returns the node ID as a JSON string; body reaches the backend', async () => {
    const r = await call(sock, 'POST', '/v1.47/swarm/init', { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: '127.0.0.1' });
    assert.equal(r.status, 200);
    assert.equal(json(r), 'newnode123');
    assert.deepEqual(backend.last('init'), [{ ListenAddr: '0.0.0.0:2377', AdvertiseAddr: '127.0.0.1' }]);
  });

  test('join, leave, update, unlockkey pass their arguments', async () => {
    assert.equal((await call(sock, 'POST', '/swarm/join', { RemoteAddrs: ['1.2.3.4:2377'], JoinToken: 'T' })).status, 200);
    assert.deepEqual(backend.last('join'), [{ RemoteAddrs: ['1.2.3.4:2377'], JoinToken: 'T' }]);
    assert.equal((await call(sock, 'POST', '/swarm/leave?force=1')).status, 200);
    assert.deepEqual(backend.last('leave'), [true]);
    assert.equal((await call(sock, 'POST', '/swarm/leave')).status, 200);
    assert.deepEqual(backend.last('leave'), [false]);
    const spec = defaultSwarmSpec();
    assert.equal((await call(sock, 'POST', '/swarm/update?version=10&rotateWorkerToken=true&rotateManagerToken=false', spec)).status, 200);
    assert.deepEqual(backend.last('updateSwarm'), [10, spec, { rotateWorkerToken: true, rotateManagerToken: false, rotateManagerUnlockKey: false }]);
    const bad = await call(sock, 'POST', '/swarm/update?version=x', spec);
    assert.equal(bad.status, 400);
    assert.match(json(bad).message, /invalid swarm version 'x'/);
    assert.deepEqual(json(await call(sock, 'GET', '/swarm/unlockkey')), { UnlockKey: 'SWMKEY-1-abc' });
  });

  test('GET /swarm strips internal but keeps join tokens', async () => {
    const s = json(await call(sock, 'GET', '/swarm'));
    assert.equal(s.ID, 'cluster1');
    assert.equal(s.internal, undefined);
    assert.equal(s.JoinTokens.Worker, 'SWMTKN-1-w');
  });

  test('nodes: filters parsed (both encodings), internal stripped, args passed', async () => {
    const r = await call(sock, 'GET', '/nodes?filters=' + encodeURIComponent('{"role":{"manager":true}}'));
    assert.equal(r.status, 200);
    assert.deepEqual(backend.last('listNodes'), [{ role: ['manager'] }]);
    assert.equal(json(r)[0].internal, undefined);
    assert.equal(json(r)[0].ID, 'node1');
    await call(sock, 'GET', '/nodes?filters=' + encodeURIComponent('{"name":["a","b"]}'));
    assert.deepEqual(backend.last('listNodes'), [{ name: ['a', 'b'] }]);
    const badF = await call(sock, 'GET', '/nodes?filters=%7Bnope');
    assert.equal(badF.status, 400);
    assert.equal((await call(sock, 'GET', '/nodes/node1')).status, 200);
    const nf = await call(sock, 'GET', '/nodes/zzz');
    assert.equal(nf.status, 404);
    assert.equal(json(nf).message, 'node zzz not found');
    assert.equal((await call(sock, 'POST', '/nodes/node1/update?version=3', { Role: 'worker', Availability: 'drain' })).status, 200);
    assert.deepEqual(backend.last('updateNode'), ['node1', 3, { Role: 'worker', Availability: 'drain' }]);
    assert.equal((await call(sock, 'DELETE', '/nodes/node1?force=true')).status, 200);
    assert.deepEqual(backend.last('removeNode'), ['node1', true]);
  });

  test('error mapping: not a manager 503, conflict 409, bad JSON 400, thrown Error 500', async () => {
    backend.manager = false;
    try {
      const r = await call(sock, 'GET', '/nodes');
      assert.equal(r.status, 503);
      assert.equal(json(r).message, NOT_A_MANAGER_MESSAGE);
      assert.equal(r.headers['content-type'], 'application/json');
    } finally {
      backend.manager = true;
    }
    backend.failNext = unavailable('This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.');
    assert.equal((await call(sock, 'POST', '/swarm/init', {})).status, 503);
    const dup = await call(sock, 'POST', '/services/create', { Name: 'web', TaskTemplate: {}, Mode: {} });
    assert.equal(dup.status, 409);
    const badJson = await call(sock, 'POST', '/services/create', '{"Name":');
    assert.equal(badJson.status, 400);
    assert.match(json(badJson).message, /^invalid JSON/);
    const empty = await call(sock, 'POST', '/swarm/init');
    assert.equal(empty.status, 400);
    backend.failNext = new TypeError('boom');
    const boom = await call(sock, 'GET', '/nodes');
    assert.equal(boom.status, 500);
    assert.equal(json(boom).message, 'boom');
    const seq = await call(sock, 'POST', '/services/svc1/update?version=1', mkService('svc1', 'web').Spec);
    assert.equal(seq.status, 500);
    assert.match(json(seq).message, /update out of sequence/);
  });
});
