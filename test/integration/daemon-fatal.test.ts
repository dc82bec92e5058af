// A throw nobody catches, and a rejection nobody handles, are logged with their stack and stop the
// daemon cleanly (exit code 1, API socket removed) instead of leaving it running with a piece gone.
// The throw is injected by a preload module (`node -r`), so the daemon itself carries no test hook.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ping, waitFor } from '../harness/daemon';

const MAIN = path.resolve(__dirname, '..', '..', 'src', 'node', 'main.js');

async function runWithInjected(kind: 'throw' | 'reject'): Promise<{ code: number | null; log: string; sock: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-fatal-'));
  const sock = path.join(dir, 'shoal.sock');
  const inject = path.join(dir, 'inject.js');
  // fires once the daemon answers on its socket
  const fault = kind === 'throw' ? "throw new Error('injected loop failure')" : "Promise.reject(new Error('injected rejection'))";
  fs.writeFileSync(
    inject,
    `const fs = require('fs');
const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(sock)})) { clearInterval(t); setTimeout(() => { ${fault}; }, 300); } }, 50);
t.unref();`,
  );
  const logFile = path.join(dir, 'daemon.log');
  const out = fs.openSync(logFile, 'a');
  const p = spawn(process.execPath, ['-r', inject, MAIN, '--data-dir', dir, '--host', `unix://${sock}`, '--hostname', 'fatal'], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
  await waitFor(() => ping(sock), 20_000, 'the daemon answering').catch(() => undefined);
  const code = await exited;
  clearTimeout(timer);
  const log = fs.readFileSync(logFile, 'utf8');
  const sockLeft = fs.existsSync(sock) ? 'left' : 'removed';
  fs.rmSync(dir, { recursive: true, force: true });
  return { code, log, sock: sockLeft };
}

test('an uncaught exception: stack logged, clean stop, exit 1', { timeout: 60_000 }, async () => {
  const r = await runWithInjected('throw');
  assert.equal(r.code, 1, r.log);
  assert.match(r.log, /uncaught exception: stopping the daemon/);
  assert.match(r.log, /injected loop failure[^"]*\\n\s+at /, 'the stack is logged');
  assert.match(r.log, /"msg":"stopping"/);
  assert.equal(r.sock, 'removed', 'the API was closed in order');
});

test('an unhandled rejection: stack logged, clean stop, exit 1', { timeout: 60_000 }, async () => {
  const r = await runWithInjected('reject');
  assert.equal(r.code, 1, r.log);
  assert.match(r.log, /unhandled rejection: stopping the daemon/);
  assert.match(r.log, /injected rejection/);
  assert.equal(r.sock, 'removed');
});
