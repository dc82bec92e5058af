#!/usr/bin/env node
// `npm run demo`: a single-node Shoal cluster on the process runtime, driven by the shoal CLI.
// Starts a daemon in a temporary data dir, initialises a swarm, deploys a 3-replica service, shows
// node ls / service ls / service ps / service logs, then a web service with a published port and
// requests to that port through the routing mesh, removes the services, stops the daemon and
// removes the temp dir. Every wait is bounded; any failure exits non-zero with the daemon's log tail.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const DAEMON = path.join(ROOT, 'dist', 'src', 'node', 'main.js');
const SHOAL = path.join(ROOT, 'bin', 'shoal.js');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-demo-'));
const sock = path.join(dir, 'shoal.sock');
const host = `unix://${sock}`;
const logFile = path.join(dir, 'daemon.log');
let daemon;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function logTail(n = 40) {
  try {
    return fs.readFileSync(logFile, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '(no daemon log)';
  }
}

function ping() {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: sock, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'OK'));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => (req.destroy(), resolve(false)));
    req.end();
  });
}

/** An argument as a POSIX shell would need it typed. */
const shellQuote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** Runs `shoal -H … args`, echoing the command and its output; throws when it fails. */
function shoal(args, { timeoutMs = 60_000, quiet = false } = {}) {
  if (!quiet) console.log(`\n$ shoal ${args.map(shellQuote).join(' ')}`);
  const r = spawnSync(process.execPath, [SHOAL, '-H', host, ...args], { encoding: 'utf8', timeout: timeoutMs });
  if (!quiet) process.stdout.write(r.stdout);
  if (r.status !== 0) {
    throw new Error(`shoal ${args.join(' ')} failed (${r.error ? r.error.message : `exit ${r.status}`}):\n${r.stdout}${r.stderr}`);
  }
  if (r.stderr && !quiet) process.stderr.write(r.stderr);
  return r.stdout;
}

async function startDaemon() {
  if (!fs.existsSync(DAEMON)) throw new Error(`${DAEMON} is missing: run \`npm run build\` first`);
  const out = fs.openSync(logFile, 'a');
  daemon = spawn(
    process.execPath,
    [DAEMON, '--data-dir', dir, '--host', host, '--runtime', 'process', '--hostname', 'demo-node', '--swarm-default-advertise-addr', '127.0.0.1'],
    { stdio: ['ignore', out, out], detached: true },
  );
  fs.closeSync(out);
  console.log(`Shoal daemon starting (pid ${daemon.pid}, data dir ${dir})`);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (daemon.exitCode !== null) throw new Error(`daemon exited with code ${daemon.exitCode}`);
    if (await ping()) return;
    await sleep(100);
  }
  throw new Error('daemon did not answer /_ping within 30 s');
}

async function stopDaemon() {
  const p = daemon;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  const signal = (sig) => {
    try {
      process.kill(-p.pid, sig); // the whole group: the daemon and anything its runtime started
    } catch {
      try {
        p.kill(sig);
      } catch {
        /* gone */
      }
    }
  };
  signal('SIGTERM');
  const t = setTimeout(() => signal('SIGKILL'), 35_000);
  await exited;
  clearTimeout(t);
}

async function waitForReplicas(name, want, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = shoal(['service', 'ls'], { quiet: true });
    const row = last.split('\n').find((l) => l.split(/\s+/)[1] === name);
    if (row && row.split(/\s+/)[3] === want) return;
    await sleep(500);
  }
  throw new Error(`service ${name} did not reach ${want} within ${timeoutMs} ms:\n${last}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = require('node:net').createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** GET / on a local port, retried until it answers or the deadline passes (the mesh opens its listener when the table arrives). */
async function get(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  while (Date.now() < deadline) {
    try {
      return await new Promise((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 2000, agent: false }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        req.on('timeout', () => req.destroy(new Error('timed out')));
      });
    } catch (e) {
      lastErr = e;
      await sleep(200);
    }
  }
  throw new Error(`no answer on port ${port} within ${timeoutMs} ms: ${lastErr && lastErr.message}`);
}

async function main() {
  await startDaemon();
  shoal(['version']);
  // Its own listen port, so the demo never collides with a swarm already on 2377.
  shoal(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${await freePort()}`]);
  shoal(['service', 'create', '--name', 'demo', '--replicas', '3', 'busybox', 'sh', '-c', 'while true; do echo hello from $HOSTNAME; sleep 5; done'], {
    timeoutMs: 120_000,
  });
  await waitForReplicas('demo', '3/3', 60_000);
  shoal(['node', 'ls']);
  shoal(['service', 'ls']);
  shoal(['service', 'ps', 'demo']);
  await sleep(1500);
  shoal(['service', 'logs', '--tail', '2', 'demo']);
  // A published port: the routing mesh answers it on the node and balances over the tasks, each of
  // which listens on the port the process runtime gave it ($PORT, docs/design/networking.md §2.4).
  const port = await freePort();
  const server = `require('http').createServer((q, r) => r.end('hello from ' + process.env.HOSTNAME + '\\n')).listen(process.env.PORT)`;
  shoal(['service', 'create', '--name', 'web', '--replicas', '2', '--publish', `${port}:80`, 'node:20', process.execPath, '-e', server], { timeoutMs: 120_000 });
  await waitForReplicas('web', '2/2', 60_000);
  shoal(['service', 'ls']);
  const seen = new Set();
  for (let i = 0; i < 6; i++) {
    const body = await get(port, 20_000);
    console.log(`$ curl http://127.0.0.1:${port}/\n${body.trim()}`);
    seen.add(body.trim());
  }
  if (seen.size < 2) throw new Error(`the mesh sent every request to one task: ${[...seen].join(', ')}`);
  shoal(['service', 'rm', 'demo', 'web']);
  console.log('\nDemo finished: 3 replicas ran on the process runtime, a published port was answered by both web tasks through the routing mesh, and the services were removed.');
}

let failed = false;
main()
  .catch((e) => {
    failed = true;
    console.error(`\ndemo failed: ${e && e.message ? e.message : e}`);
    console.error(`--- daemon log (tail) ---\n${logTail()}`);
  })
  .then(stopDaemon)
  .catch((e) => {
    failed = true;
    console.error(`stopping the daemon failed: ${e.message}`);
  })
  .finally(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(failed ? 1 : 0);
  });
