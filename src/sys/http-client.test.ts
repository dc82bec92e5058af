import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HttpTransport, isTimeout, readText } from './http-client';

// The transport over a real unix socket: answers, its own timeouts (no head; a body that stops), and a
// close() that lets a request in flight finish.
describe('HttpTransport (node:http over a unix socket)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-http-client-'));
  const socketPath = path.join(dir, 'engine.sock');
  const connections = new Set<unknown>();
  const server = http.createServer((req, res) => {
    connections.add(req.socket);
    if (req.url === '/silent') return; // never answers
    if (req.url === '/stall') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part'); // then nothing more
      return;
    }
    if (req.url === '/slow') {
      setTimeout(() => res.end('late'), 300);
      return;
    }
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => res.end(JSON.stringify({ method: req.method, url: req.url, body, length: req.headers['content-length'] ?? null })));
  });

  before(() => new Promise<void>((r) => server.listen(socketPath, r)));
  after(() => {
    server.closeAllConnections();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('answers, with a body and its length, on a kept-alive connection', async () => {
    const t = new HttpTransport({ socketPath }, 5000);
    for (let i = 0; i < 3; i++) {
      const res = await t.request({ method: 'POST', path: `/x?i=${i}`, body: '{"a":1}', headers: { 'content-type': 'application/json' } });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(JSON.parse(await readText(res.body)), { method: 'POST', url: `/x?i=${i}`, body: '{"a":1}', length: '7' });
    }
    const before = connections.size;
    await readText((await t.request({ method: 'GET', path: '/again' })).body);
    assert.equal(connections.size, before, 'the connection was reused');
    await t.close();
  });

  test('no response head within the timeout: rejects with the transport timeout', async () => {
    const t = new HttpTransport({ socketPath }, 200);
    const err = await t.request({ method: 'GET', path: '/silent' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isTimeout(err), `expected a timeout, got ${String(err)}`);
    await t.close();
  });

  test('a body that stops arriving: the stream fails with the transport timeout; timeoutMs 0 waits', async () => {
    const t = new HttpTransport({ socketPath }, 200);
    const res = await t.request({ method: 'GET', path: '/stall' });
    const err = await readText(res.body).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isTimeout(err), `expected a timeout, got ${String(err)}`);
    const slow = await t.request({ method: 'GET', path: '/slow', timeoutMs: 0 });
    assert.equal(await readText(slow.body), 'late');
    await t.close();
  });

  test('close() lets a request in flight finish', async () => {
    const t = new HttpTransport({ socketPath }, 5000);
    const pending = t.request({ method: 'GET', path: '/slow' });
    await new Promise((r) => setTimeout(r, 50));
    await t.close();
    assert.equal(await readText((await pending).body), 'late');
  });

  test('an aborted request rejects as aborted', async () => {
    const t = new HttpTransport({ socketPath }, 5000);
    const ac = new AbortController();
    const p = t.request({ method: 'GET', path: '/silent', signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(p, (e: Error) => e.name === 'AbortError');
    await t.close();
  });
});
