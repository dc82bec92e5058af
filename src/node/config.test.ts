import assert from 'node:assert/strict';
import { test } from 'node:test';
import { daemonUsage, parseDaemonArgs, UsageRequested } from './config';

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
  assert.throws(() => parseDaemonArgs(['--bogus']), /unknown option '--bogus'/);
  assert.throws(() => parseDaemonArgs(['--data-dir']), /option '--data-dir <string>' argument missing/);
  assert.throws(() => parseDaemonArgs(['stray']), /too many arguments/);
});

test('TLS flags mean what they mean to dockerd', () => {
  const noEnv = {};
  // no flag: plain HTTP, and not an explicit choice (a non-loopback TCP host is slowed down)
  let c = parseDaemonArgs(['-H', 'tcp://127.0.0.1:2375'], noEnv);
  assert.equal(c.tls, undefined);
  assert.equal(c.tlsExplicit, false);
  // --tlsverify: TLS, clients verified against --tlscacert
  c = parseDaemonArgs(['--tlsverify', '--tlscacert', '/c/ca.pem', '--tlscert=/c/s.pem', '--tlskey', '/c/s-key.pem'], noEnv);
  assert.deepEqual(c.tls, { verify: true, caFile: '/c/ca.pem', certFile: '/c/s.pem', keyFile: '/c/s-key.pem' });
  assert.equal(c.tlsExplicit, true);
  // --tls alone verifies too (dockerd ≥ 20.10), unless --tlsverify=false says otherwise
  assert.equal(parseDaemonArgs(['--tls', '--tlscert', '/s', '--tlskey', '/k'], noEnv).tls?.verify, true);
  c = parseDaemonArgs(['--tls', '--tlsverify=false', '--tlscert', '/s', '--tlskey', '/k'], noEnv);
  assert.equal(c.tls?.verify, false);
  // --tlsverify=false alone still turns TLS on (any --tlsverify does)
  assert.equal(parseDaemonArgs(['--tlsverify=false'], noEnv).tls?.verify, false);
  // --tls=false: an explicit opt-out, no TLS
  c = parseDaemonArgs(['--tls=false'], noEnv);
  assert.equal(c.tls, undefined);
  assert.equal(c.tlsExplicit, true);
  // DOCKER_TLS_VERIFY turns verification on; DOCKER_CERT_PATH is where the default files are
  c = parseDaemonArgs([], { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' });
  assert.equal(c.tls?.verify, true);
  assert.equal(c.tls?.caFile, '/certs/ca.pem');
  assert.equal(c.tls?.certFile, '', 'a default certificate file that does not exist is dropped, as dockerd does');
  assert.throws(() => parseDaemonArgs(['--tls=maybe'], noEnv), /invalid argument "maybe" for "--tls" flag/);
});

test('DNS flags: a listen address and repeatable upstreams, each host[:port]', () => {
  const c = parseDaemonArgs(['--dns-listen-addr', '127.0.0.2:5353', '--dns-upstream', '10.0.0.53', '--dns-upstream=127.0.0.1:5300']);
  assert.equal(c.dnsListenAddr, '127.0.0.2:5353');
  assert.deepEqual(c.dnsUpstreams, ['10.0.0.53', '127.0.0.1:5300']);
  assert.throws(() => parseDaemonArgs(['--dns-listen-addr', '127.0.0.2:x']), /invalid --dns-listen-addr/);
});

test('--metrics-addr takes host:port, as dockerd’s', () => {
  assert.equal(parseDaemonArgs(['--metrics-addr', '127.0.0.1:9323']).metricsAddr, '127.0.0.1:9323');
  assert.equal(parseDaemonArgs(['--metrics-addr=[::1]:0']).metricsAddr, '[::1]:0');
  assert.equal(parseDaemonArgs([]).metricsAddr, undefined);
  assert.throws(() => parseDaemonArgs(['--metrics-addr', '127.0.0.1']), /invalid --metrics-addr: want host:port, got "127.0.0.1"/);
  assert.throws(() => parseDaemonArgs(['--metrics-addr', 'h:99999']), /invalid --metrics-addr/);
});

test('--mesh-nft: the nft program that turns the mesh kernel path on, or none; unset by default (user space)', () => {
  assert.equal(parseDaemonArgs([]).meshNft, undefined);
  assert.equal(parseDaemonArgs(['--mesh-nft', '/usr/sbin/nft']).meshNft, '/usr/sbin/nft');
  assert.equal(parseDaemonArgs(['--mesh-nft=none']).meshNft, 'none');
});

test('--heap-trim is on unless turned off, with a boolean as pflag reads one', () => {
  assert.equal(parseDaemonArgs([]).heapTrim, true);
  assert.equal(parseDaemonArgs(['--heap-trim']).heapTrim, true);
  assert.equal(parseDaemonArgs(['--heap-trim=false']).heapTrim, false);
  assert.throws(() => parseDaemonArgs(['--heap-trim=maybe']), /invalid argument "maybe" for "--heap-trim" flag/);
});

test('--heap-growth is 50 % unless given; 0 leaves V8 its own factor; other values are refused', () => {
  assert.equal(parseDaemonArgs([]).heapGrowthPercent, 50);
  assert.equal(parseDaemonArgs(['--heap-growth', '0']).heapGrowthPercent, 0);
  assert.equal(parseDaemonArgs(['--heap-growth=100']).heapGrowthPercent, 100);
  for (const bad of ['5', '301', '1.5', 'x', '-1']) {
    assert.throws(() => parseDaemonArgs(['--heap-growth', bad]), /invalid --heap-growth: want 0 or an integer percent \(10–300\)/, bad);
  }
});

test('--help lists every flag the parser takes', () => {
  assert.throws(() => parseDaemonArgs(['--help']), UsageRequested);
  const usage = daemonUsage();
  for (const flag of ['--data-dir', '--data-root', '--host', '--runtime', '--engine', '--hostname', '--swarm-default-advertise-addr', '--log-level', '--metrics-addr', '--raft-tick-ms', '--mesh-listen-addr', '--mesh-drain-ms', '--mesh-nft', '--dns-listen-addr', '--dns-upstream', '--dashboard-addr', '--heap-trim', '--heap-growth', '--tls ', '--tlsverify', '--tlscacert', '--tlscert', '--tlskey', '--help']) {
    assert.ok(usage.includes(flag), `${flag} missing from:\n${usage}`);
  }
  // and each listed long flag is one the parser accepts (a flag added to one and not the other fails here)
  for (const m of usage.matchAll(/(--[a-z-]+)/g)) {
    const flag = m[1]!;
    if (flag === '--help') continue;
    assert.doesNotThrow(() => parseDaemonArgs(flag === '--tls' || flag === '--tlsverify' || flag === '--heap-trim' ? [flag] : [flag, flag.includes('ms') || flag === '--heap-growth' ? '100' : flag === '--runtime' ? 'docker' : flag.includes('addr') || flag.includes('upstream') ? '127.0.0.1:1' : 'x'], {}), flag);
  }
});

test('--dashboard-addr takes host:port; none by default', () => {
  assert.equal(parseDaemonArgs(['--dashboard-addr', '127.0.0.1:8080']).dashboardAddr, '127.0.0.1:8080');
  assert.equal(parseDaemonArgs(['--dashboard-addr=:0']).dashboardAddr, ':0');
  assert.equal(parseDaemonArgs([]).dashboardAddr, undefined);
  assert.throws(() => parseDaemonArgs(['--dashboard-addr', 'localhost']), /invalid --dashboard-addr: want host:port, got "localhost"/);
});
