import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDaemonArgs } from './config';

test('daemon flags of the DESIGN.md contract', () => {
  const c = parseDaemonArgs(['--data-dir', '/tmp/x', '--host', 'unix:///tmp/x.sock', '-H', 'tcp://127.0.0.1:2375', '--runtime', 'docker', '--engine=unix:///e.sock', '--hostname', 'n1', '--swarm-default-advertise-addr', '127.0.0.2']);
  assert.equal(c.dataDir, '/tmp/x');
  assert.deepEqual(c.hosts, ['unix:///tmp/x.sock', 'tcp://127.0.0.1:2375']);
  assert.equal(c.runtime, 'docker');
  assert.equal(c.engine, 'unix:///e.sock');
  assert.equal(c.hostname, 'n1');
  assert.equal(c.defaultAdvertiseAddr, '127.0.0.2');
});

test('defaults: process runtime, socket in the data dir; docker runtime defaults to the local engine', () => {
  const c = parseDaemonArgs(['--data-dir', '/tmp/y']);
  assert.equal(c.runtime, 'process');
  assert.deepEqual(c.hosts, ['unix:///tmp/y/shoal.sock']);
  assert.equal(parseDaemonArgs(['--runtime', 'docker']).engine, 'unix:///var/run/docker.sock');
});

test('bad flags are refused with a clear message', () => {
  assert.throws(() => parseDaemonArgs(['--runtime', 'podman']), /invalid --runtime podman/);
  assert.throws(() => parseDaemonArgs(['--bogus']), /unknown flag: --bogus/);
  assert.throws(() => parseDaemonArgs(['--data-dir']), /flag needs an argument: --data-dir/);
});

test('DNS flags: a listen address and repeatable upstreams, each host[:port]', () => {
  const c = parseDaemonArgs(['--dns-listen-addr', '127.0.0.2:5353', '--dns-upstream', '10.0.0.53', '--dns-upstream=127.0.0.1:5300']);
  assert.equal(c.dnsListenAddr, '127.0.0.2:5353');
  assert.deepEqual(c.dnsUpstreams, ['10.0.0.53', '127.0.0.1:5300']);
  assert.throws(() => parseDaemonArgs(['--dns-listen-addr', '127.0.0.2:x']), /invalid --dns-listen-addr/);
});
