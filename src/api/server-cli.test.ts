// The real docker CLI (read-only commands) against the API server over the FakeBackend.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FakeBackend } from './testing/fake-backend';
import { startApiFixture, type ApiFixture } from './testing/http';

let f: ApiFixture;
let dir: string;
let sock: string;
let backend: FakeBackend;

before(async () => {
  f = await startApiFixture();
  ({ dir, sock, backend } = f);
});

after(() => f.close());


const DOCKER = '/usr/local/bin/docker';
const haveDocker = fs.existsSync(DOCKER);

function docker(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      DOCKER,
      ['-H', `unix://${sock}`, ...args],
      { timeout: 20_000, env: { ...process.env, DOCKER_CONFIG: path.join(dir, 'docker-config'), DOCKER_CONTEXT: '', DOCKER_HOST: '' } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

// Under CI the docker CLI is part of the machine: a missing one fails rather than skips.
describe('real docker CLI', { skip: !haveDocker && process.env.CI !== 'true' && 'docker CLI not installed' }, () => {
  test('docker version', async () => {
    const r = await docker(['version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Server: Shoal/);
    assert.match(r.stdout, /API version:\s+1\.47 \(minimum version 1\.24\)/);
    const f = await docker(['version', '--format', '{{.Server.APIVersion}}']);
    assert.equal(f.stdout.trim(), '1.47');
  });

  test('docker info', async () => {
    const r = await docker(['info']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /ERROR|errors pretty printing/i);
    assert.match(r.stdout, /Swarm: active/);
    assert.match(r.stdout, /ClusterID: cluster1/);
    assert.match(r.stdout, /Is Manager: true/);
    assert.match(r.stdout, /Name: shoal-test/);
  });

  test('docker node ls', async () => {
    const r = await docker(['node', 'ls']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^ID\s+HOSTNAME\s+STATUS\s+AVAILABILITY\s+MANAGER STATUS\s+ENGINE VERSION/);
    assert.match(lines[1], /^node1 \*\s+shoal-test\s+Ready\s+Active\s+Leader\s+28\.2\.2/);
  });

  test('docker service ls, ps and logs', async () => {
    const ls = await docker(['service', 'ls']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /svc1\s+web\s+replicated/);
    backend.logLines = [{ stream: 'stdout', time: Date.now(), data: Buffer.from('hello from web\n'), taskId: 'task1', nodeId: 'node1', serviceId: 'svc1' }];
    backend.holdLogs = false;
    const logs = await docker(['service', 'logs', 'web']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /^web\.1\.task1@shoal-test\s+\| hello from web$/m);
  });

  test('docker ps without an engine, and a swarm error', async () => {
    const ps = await docker(['ps']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /^CONTAINER ID/);
    backend.manager = false;
    try {
      const r = await docker(['node', 'ls']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /This node is not a swarm manager/);
    } finally {
      backend.manager = true;
    }
  });
});
