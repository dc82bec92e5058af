// The engine passthrough (src/api/engine-proxy.ts, router/engine.ts) against a fake engine.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { EngineProxy } from './engine-proxy';
import { silentLogger } from './logger';
import type { FakeBackend } from './testing/fake-backend';
import { call, json, streamUntil, startApiFixture, type ApiFixture, type FakeEngine } from './testing/http';

let f: ApiFixture;
let sock: string;
let backend: FakeBackend;
let engine: FakeEngine;
let engSock: string;

before(async () => {
  f = await startApiFixture();
  ({ sock, backend, engine, engSock } = f);
});

after(() => f.close());

describe('engine passthrough', () => {
  test('no engine: ps and images list empty, others explain', async () => {
    assert.deepEqual(json(await call(sock, 'GET', '/v1.47/containers/json?all=1')), []);
    assert.deepEqual(json(await call(sock, 'GET', '/images/json')), []);
    const r = await call(sock, 'POST', '/containers/create', {});
    assert.equal(r.status, 501);
    assert.equal(json(r).message, 'no container engine: this node runs tasks on the process runtime');
    // no engine to ask a registry: dockerd's answer when no registry is reachable (an error, so the CLI keeps the tag)
    const d = await call(sock, 'GET', '/distribution/nginx:alpine/json');
    assert.equal(d.status, 500);
    assert.match(json(d).message, /^no registry access for nginx:alpine: /);
  });

  test('requests and bodies pass through; versions above the engine are capped', async () => {
    engine.paths.length = 0;
    const r = await call(engSock, 'GET', '/v1.47/containers/json?all=1');
    assert.equal(r.status, 200);
    assert.deepEqual(json(r), [{ Id: 'c1', Names: ['/x'] }]);
    assert.ok(engine.paths.includes('GET /v1.45/containers/json?all=1'), engine.paths.join(','));
    assert.equal(r.headers['api-version'], '1.47');
    const c = await call(engSock, 'POST', '/containers/create?name=x', { Image: 'busybox' });
    assert.equal(c.status, 201);
    assert.deepEqual(json(c).Echo, { Image: 'busybox' });
    const nf = await call(engSock, 'GET', '/volumes/nope');
    assert.equal(nf.status, 404);
  });

  test("distribution inspect is the engine's registry answer, never a local image ID", async () => {
    const d = await call(engSock, 'GET', '/v1.47/distribution/nginx:alpine/json', undefined, { 'X-Registry-Auth': 'e30=' });
    assert.equal(d.status, 200);
    assert.deepEqual(json(d), {
      Descriptor: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: 'sha256:' + 'b'.repeat(64), size: 10229 },
      Platforms: [{ architecture: 'arm64', os: 'linux' }],
    });
    assert.equal(engine.registryAuth, 'e30=');
    assert.ok(engine.paths.includes('GET /distribution/nginx:alpine/json'), engine.paths.join(','));
    // a registry error passes as the engine gave it, even for an image the engine has locally
    const miss = await call(engSock, 'GET', '/distribution/library/redis:7/json');
    assert.equal(miss.status, 500);
    assert.match(json(miss).message, /registry-1\.docker\.io/);
    assert.ok(!engine.paths.some((p) => p.includes('/images/nginx:alpine/json')), 'no local image look-up');
  });

  test('a registry look-up that never answers is cut at the bound given (the route passes REGISTRY_LOOKUP_TIMEOUT_MS)', async () => {
    const proxy = new EngineProxy(`unix://${engine.socketPath}`, silentLogger, {});
    try {
      await assert.rejects(proxy.request('GET', '/distribution/hang/json', { timeoutMs: 200 }), /timed out/);
    } finally {
      proxy.close();
    }
  });

  test('hijacked (non-upgrade) stream is relayed raw', async () => {
    const r = await call(engSock, 'POST', '/containers/hj/attach?stream=1&stdout=1');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'raw-hello');
  });

  test('upgrade: 101 then raw bidirectional bytes with half-close', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      const c = net.connect({ path: engSock, allowHalfOpen: true });
      const timer = setTimeout(() => {
        c.destroy();
        reject(new Error('upgrade timeout'));
      }, 5000);
      let buf = '';
      let sent = false;
      c.on('connect', () => {
        c.write('POST /v1.47/exec/e1/start HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n{}');
      });
      c.on('data', (d) => {
        buf += d.toString();
        if (!sent && buf.includes('\r\n\r\n')) {
          sent = true;
          c.write('ping');
          setTimeout(() => c.end(), 100); // half-close: we can still read
        }
      });
      c.on('end', () => {
        clearTimeout(timer);
        resolve(buf);
      });
      c.on('error', reject);
    });
    assert.match(out, /^HTTP\/1.1 101/);
    const body = out.slice(out.indexOf('\r\n\r\n') + 4);
    assert.equal(body, '{}PINGbye');
    assert.ok(engine.paths.includes('UPGRADE POST /v1.45/exec/e1/start'));
  });

  test('engine events are merged with swarm events', async () => {
    backend.eventsToSend = [{ Type: 'node', Action: 'update', Actor: { ID: 'node1', Attributes: {} }, scope: 'swarm', time: 2, timeNano: 2 }];
    const r = await streamUntil(engSock, '/events', (b) => b.toString().split('\n').filter(Boolean).length >= 2);
    const scopes = r.body.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l).scope).sort();
    assert.deepEqual(scopes, ['local', 'swarm']);
  });
});

// ---------------------------------------------------------------------------------------------
// The real docker CLI, read-only commands.
