// The TCP API locked down as dockerd does it: `--tlsverify --tlscacert --tlscert --tlskey`. The real
// docker CLI (DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=…) works against it, including an upgraded stream
// through the engine pass-through; plain HTTP, a certificate from another CA and no certificate are refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, TestDaemon, type DockerResult } from '../harness/daemon';
import { engineTestOptions, requireEngine, testEngine } from '../harness/engine';
import { createTestCA, issueTestCert } from '../harness/tls-certs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-tls-'));
let d: TestDaemon;
let port: number;
let server: { cert: string; key: string; ca: string };
let client: { cert: string; key: string; ca: string };
let stranger: { cert: string; key: string; ca: string };

/** The docker CLI over TCP with the client certificates of `certDir` (or none). */
function dockerTls(args: string[], certDir: string | undefined, timeoutMs = 60_000): DockerResult {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_CLI_HINTS: 'false', DOCKER_CONFIG: path.join(dir, 'docker-config') };
  delete env.DOCKER_TLS_VERIFY;
  delete env.DOCKER_CERT_PATH;
  if (certDir) Object.assign(env, { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certDir });
  const r = spawnSync('docker', args, { env, encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function okTls(args: string[], certDir: string): string {
  const r = dockerTls(args, certDir);
  assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stdout}\n${r.stderr}\n--- daemon log ---\n${d.log()}`);
  return r.stdout;
}

/** GET /_ping over HTTPS with the given client identity: the status, or the error that ended it. */
function httpsPing(id: { cert?: string; key?: string }): Promise<number | Error> {
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/_ping',
        ca: fs.readFileSync(server.ca),
        cert: id.cert ? fs.readFileSync(id.cert) : undefined,
        key: id.key ? fs.readFileSync(id.key) : undefined,
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', (e) => resolve(e));
      },
    );
    req.on('error', (e) => resolve(e));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe('API over TCP with --tlsverify', () => {
  before(async () => {
    const ca = createTestCA(path.join(dir, 'ca'), 'shoal-test-ca');
    server = issueTestCert(ca, path.join(dir, 'server'), 'server');
    client = issueTestCert(ca, path.join(dir, 'client'), 'client');
    const other = createTestCA(path.join(dir, 'other-ca'), 'someone-else');
    stranger = issueTestCert(other, path.join(dir, 'stranger'), 'client');
    port = await freePort();
    const engine = testEngine();
    d = new TestDaemon({
      hostname: 'tls1',
      engine: engine?.host,
      extraArgs: ['--host', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', server.ca, '--tlscert', server.cert, '--tlskey', server.key],
    });
    await d.start();
  });

  after(async () => {
    await d?.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the docker CLI with DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH works: version, info, swarm init, service create/ls', () => {
    assert.match(okTls(['version', '--format', '{{.Server.APIVersion}}'], path.dirname(client.cert)), /^1\.\d+/);
    assert.match(okTls(['info', '--format', '{{.Name}}'], path.dirname(client.cert)), /tls1/);
    okTls(['swarm', 'init'], path.dirname(client.cert));
    okTls(['service', 'create', '--detach', '--no-resolve-image', '--name', 'over-tls', 'busybox', 'sleep', '1000'], path.dirname(client.cert));
    assert.match(okTls(['service', 'ls', '--format', '{{.Name}}'], path.dirname(client.cert)), /over-tls/);
    // No insecure-TCP warning when clients are verified.
    assert.doesNotMatch(fs.readFileSync(path.join(d.dataDir, 'daemon.log'), 'utf8'), /without --tlsverify is insecure/);
  });

  test('plain HTTP to the TLS port fails', async () => {
    const r = await new Promise<number | Error>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/_ping', agent: false, timeout: 10_000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (e) => resolve(e));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    assert.notEqual(r, 200, 'plain HTTP must not reach the API');
    const cli = dockerTls(['version', '--format', '{{.Server.APIVersion}}'], undefined, 20_000);
    assert.notEqual(cli.status, 0);
    assert.doesNotMatch(cli.stdout, /^1\.\d+/);
  });

  test('a client certificate from another CA is refused, and so is no certificate', async () => {
    assert.equal(await httpsPing(client), 200, 'the right client certificate is accepted');
    const wrong = await httpsPing(stranger);
    assert.ok(wrong instanceof Error, `a certificate from another CA must be refused, got ${String(wrong)}`);
    const none = await httpsPing({});
    assert.ok(none instanceof Error, `no client certificate must be refused, got ${String(none)}`);
    // The CLI with the stranger's certificates (that trust our server: the CA file is ours) fails too.
    const mixed = path.join(dir, 'mixed');
    fs.mkdirSync(mixed, { recursive: true });
    fs.copyFileSync(stranger.cert, path.join(mixed, 'cert.pem'));
    fs.copyFileSync(stranger.key, path.join(mixed, 'key.pem'));
    fs.copyFileSync(server.ca, path.join(mixed, 'ca.pem'));
    const r = dockerTls(['version', '--format', '{{.Server.Version}}'], mixed, 20_000);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /certificate|tls|remote error/i);
  });

  test('an upgraded stream (docker run: attach through the engine pass-through) works over TLS', engineTestOptions(), () => {
    const e = requireEngine();
    const out = okTls(['run', '--rm', e.image, 'echo', 'hello-over-tls'], path.dirname(client.cert));
    assert.match(out, /hello-over-tls/);
  });
});
