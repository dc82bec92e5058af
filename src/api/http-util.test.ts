// Body reading at the API edge: bounded size, nesting depth, UTF-8, and a body that stops arriving.
// A real HTTP server on a unix socket; the limits are passed small so the test stays quick.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BODY_LIMITS, jsonDepthExceeds, readJsonObject, sendError, sendJson, type BodyLimits } from './http-util';
import { call } from './testing/http';

let dir: string;
let sock: string;
let server: http.Server;
const limits: BodyLimits = { maxBytes: 1024, maxDepth: 8, idleMs: 200 };

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-body-'));
  sock = path.join(dir, 'api.sock');
  server = http.createServer((req, res) => {
    readJsonObject(req, true, limits).then(
      (v) => sendJson(res, 200, v),
      (e) => {
        if (!req.complete) res.setHeader('Connection', 'close');
        sendError(res, e);
      },
    );
  });
  await new Promise<void>((r) => server.listen(sock, r));
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

const msg = (b: Buffer) => (JSON.parse(b.toString()) as { message: string }).message;

test('the documented limits are the ones in force', () => {
  assert.deepEqual(BODY_LIMITS, { maxBytes: 4 * 1024 * 1024, maxDepth: 64, idleMs: 30_000 });
});

test('a body over the size limit answers 400', async () => {
  const r = await call(sock, 'POST', '/x', JSON.stringify({ a: 'x'.repeat(2000) }));
  assert.equal(r.status, 400);
  assert.match(msg(r.body), /request body too large \(more than 1024 bytes\)/);
});

test('nesting past the depth limit answers 400; strings with brackets do not count', async () => {
  const r = await call(sock, 'POST', '/x', '{"a":' + '['.repeat(9) + ']'.repeat(9) + '}');
  assert.equal(r.status, 400);
  assert.match(msg(r.body), /exceeded max depth \(8 levels/);
  const ok = await call(sock, 'POST', '/x', JSON.stringify({ a: '[[[[[[[[[[[[{{{{{{{{{\\"' }));
  assert.equal(ok.status, 200, ok.body.toString());
  assert.equal(jsonDepthExceeds('"\\\\"[[[', 1), true, 'an escaped backslash ends before the quote');
});

test('invalid UTF-8 answers 400', async () => {
  const r = await call(sock, 'POST', '/x', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]));
  assert.equal(r.status, 400);
  assert.match(msg(r.body), /not valid UTF-8/);
});

test('a body that stops arriving answers 408 and the connection closes', async () => {
  const answer = await new Promise<string>((resolve, reject) => {
    const s = net.connect(sock);
    let got = '';
    s.on('data', (c) => (got += c.toString()));
    s.on('close', () => resolve(got));
    s.on('error', reject);
    // Promises 100 bytes, sends 10, then nothing.
    s.write('POST /x HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":"bcd');
    setTimeout(() => s.destroy(new Error('no answer within 10 s')), 10_000).unref();
  });
  assert.match(answer, /^HTTP\/1\.1 408 /);
  assert.match(answer, /request body timed out/);
  assert.match(answer, /Connection: close/i);
});
