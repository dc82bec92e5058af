// Issue 11, "nothing sensitive in plain text on disk": a whole cluster lifecycle on real daemons (3
// managers + 1 worker, process runtime, real docker CLI) with a random marker in service env values and
// labels, a root CA rotation to a CA key this test generated (so it knows the key's PEM body), a
// snapshot, a leader change and restarts; then every byte of every file under every node's data dir
// (the daemon logs live there too) is scanned for the marker, the CA key and the join tokens, and
// every file and directory is checked for group/other permission bits.
// A secret and a config carry the marker in their data too, used by the service so they travel to every
// node; their base64 (the form the API and the store carry) is looked for as well.
import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestCluster, type ClusterNode } from '../harness/cluster';
import { waitFor } from '../harness/daemon';
import { leaderOf, tearDownManagers, waitManagerStatus } from '../harness/managers';
import { createRootCA } from '../../src/manager/ca/pki';

interface Needle {
  what: string;
  bytes: Buffer;
}

/** Every way a PEM private key could sit in a file: its base64 lines, the whole body, the DER, the private scalar. */
function keyNeedles(what: string, keyPem: string): Needle[] {
  const lines = keyPem.split('\n').filter((l) => l && !l.startsWith('-----'));
  const der = Buffer.from(lines.join(''), 'base64');
  const d = createPrivateKey(keyPem).export({ format: 'jwk' }).d!;
  return [
    ...lines.filter((l) => l.length >= 40).map((l, i) => ({ what: `${what} PEM line ${i + 1}`, bytes: Buffer.from(l) })),
    { what: `${what} DER`, bytes: der },
    { what: `${what} private scalar (base64url)`, bytes: Buffer.from(d) },
    { what: `${what} private scalar (raw)`, bytes: Buffer.from(d, 'base64url') },
  ];
}

const tokenNeedles = (what: string, token: string): Needle[] => [
  { what, bytes: Buffer.from(token) },
  { what: `${what} secret`, bytes: Buffer.from(token.split('-').pop()!) },
];

interface Finding {
  file: string;
  problem: string;
}

/** Walks `dir`: mode bits of every entry, and every needle in every regular file. */
function scanDataDir(dir: string, needles: Needle[]): { findings: Finding[]; files: number; bytes: number } {
  const findings: Finding[] = [];
  let files = 0;
  let bytes = 0;
  const visit = (p: string) => {
    const st = fs.lstatSync(p);
    // the API socket (here in the data dir) is 0660 as dockerd's is (its group may use the API); it stores nothing
    if (st.isSymbolicLink() || st.isSocket()) return;
    if ((st.mode & 0o077) !== 0) findings.push({ file: p, problem: `mode ${(st.mode & 0o777).toString(8)}` });
    if (st.isDirectory()) {
      for (const n of fs.readdirSync(p)) visit(path.join(p, n));
      return;
    }
    if (!st.isFile()) return;
    const data = fs.readFileSync(p);
    files++;
    bytes += data.length;
    for (const n of needles) if (data.includes(n.bytes)) findings.push({ file: p, problem: `contains ${n.what}` });
  };
  visit(dir);
  return { findings, files, bytes };
}

describe('nothing sensitive at rest through a cluster lifecycle', { concurrency: false, timeout: 300_000 }, () => {
  let c: TestCluster;
  let managers: ClusterNode[] = [];
  const mark = `atrest-${randomBytes(6).toString('hex')}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-atrest-ca-'));
  const needles: Needle[] = [];
  /** The marker where a user puts it: env values and labels (secrets and configs join here). */
  const markerNeedles = (): Needle[] => [
    { what: 'the marker', bytes: Buffer.from(mark) },
    ...(['secret', 'config'] as const).map((kind) => ({ what: `the ${kind}'s data (base64)`, bytes: Buffer.from(Buffer.from(`${mark}-${kind}`).toString('base64')) })),
  ];
  const leaderAmong = async (ms: ClusterNode[]) => {
    const s = await waitManagerStatus(c, ms[0]!, (st) => leaderOf(st).length === 1 && ms.some((m) => leaderOf(st)[0] === m.hostname), 'a leader among the live managers', 30_000);
    return ms.find((m) => m.hostname === leaderOf(s)[0])!;
  };

  before(async () => {
    c = new TestCluster({ workers: 1, heartbeat: '1s', daemonArgs: ['--raft-tick-ms', '50'], hostPrefix: 'atr' });
    await c.start();
    managers = [c.manager, await c.addManager(), await c.addManager()];
  });
  after(async () => {
    await tearDownManagers(c, managers);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('lifecycle, then a byte scan of every data dir finds no marker, no CA key, no join token, no group/other permission', async () => {
    const [m0, m1, m2] = managers as [ClusterNode, ClusterNode, ClusterNode];
    needles.push(...markerNeedles(), ...tokenNeedles('initial worker join token', c.token('worker')), ...tokenNeedles('initial manager join token', c.token('manager')));
    // small snapshot interval: the snapshot files are part of what is scanned
    m0.dockerOk(['swarm', 'update', '--snapshot-interval', '5']);
    for (const kind of ['secret', 'config']) {
      fs.writeFileSync(path.join(tmp, kind), `${mark}-${kind}`);
      m0.dockerOk([kind, 'create', `atrest_${kind}`, path.join(tmp, kind)]);
    }
    m0.dockerOk(['service', 'create', '--detach', '--stop-grace-period', '1s', '--name', 'envsvc', '--replicas', '4', '--env', `SECRET_ENV=${mark}-env`,
      '--label', `svc.label=${mark}-label`, '--container-label', `c.label=${mark}-clabel`, '--secret', 'atrest_secret', '--config', 'source=atrest_config,target=/cfg',
      'busybox', 'sleep', '1000']);
    await waitFor(async () => new Set((await c.running('envsvc')).map((t) => t.NodeID)).size === 4, 40_000, 'envsvc on all 4 nodes');

    // CA rotation to a key we know
    const ca = await createRootCA();
    fs.writeFileSync(path.join(tmp, 'ca.crt'), ca.certPem);
    fs.writeFileSync(path.join(tmp, 'ca.key'), ca.keyPem);
    needles.push(...keyNeedles('the root CA key', ca.keyPem));
    const out = m0.dockerOk(['swarm', 'ca', '--rotate', '--ca-cert', path.join(tmp, 'ca.crt'), '--ca-key', path.join(tmp, 'ca.key')], { timeoutMs: 90_000 });
    assert.equal(out.slice(out.indexOf('-----BEGIN CERTIFICATE-----')).trim(), ca.certPem.trim(), 'the new root is the one we gave');
    fs.rmSync(path.join(tmp, 'ca.key'));
    for (const n of c.nodes) {
      await waitFor(() => fs.readFileSync(path.join(n.daemon.dataDir, 'certificates', 'swarm-root-ca.crt'), 'utf8').trim() === ca.certPem.trim(), 30_000, `${n.hostname} trusts the new root`);
    }

    // a leader change: the leader stops, another takes over, writes go on, it comes back
    const leader = await leaderAmong(managers);
    await leader.daemon.stop();
    const rest = managers.filter((m) => m !== leader);
    const next = await leaderAmong(rest);
    assert.notEqual(next, leader);
    for (let i = 0; i < 12; i++) next.dockerOk(['service', 'update', '--detach', '--label-add', `round=${i}-${mark}`, 'envsvc']);
    await c.restart(leader);

    for (const m of managers) {
      await waitFor(() => {
        const dir = path.join(m.daemon.dataDir, 'manager', 'raft', 'snapshots');
        return fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.snap'));
      }, 30_000, `a snapshot on ${m.hostname}`);
    }

    // restarts of every node (managers one at a time, keeping a quorum); the state reads back
    for (const n of [m1, m2, m0, c.workers[0]!]) {
      await n.daemon.stop();
      await c.restart(n);
      await waitFor(() => n.docker(['info', '--format', '{{.Swarm.LocalNodeState}}']).stdout.trim() === 'active', 30_000, `${n.hostname} active again`);
    }
    await leaderAmong(managers);
    const env = JSON.parse(m2.dockerOk(['service', 'inspect', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}', 'envsvc'])) as string[];
    assert.deepEqual(env, [`SECRET_ENV=${mark}-env`], 'the encrypted log reads back after restarts');
    await waitFor(async () => (await c.running('envsvc')).length === 4, 40_000, 'envsvc running after restarts');

    needles.push(...tokenNeedles('worker join token', c.token('worker')), ...tokenNeedles('manager join token', c.token('manager')));
    const all: Finding[] = [];
    let files = 0;
    let bytes = 0;
    for (const n of c.nodes) {
      const r = scanDataDir(n.daemon.dataDir, needles);
      all.push(...r.findings.map((f) => ({ ...f, file: `${n.hostname}: ${path.relative(n.daemon.dataDir, f.file)}` })));
      files += r.files;
      bytes += r.bytes;
    }
    assert.ok(files > 20 && bytes > 10_000, `the scan read something (${files} files, ${bytes} bytes)`);
    // the scanner finds what it looks for: a control dir holding the key's PEM and a token, 0644
    const control = path.join(tmp, 'control');
    fs.mkdirSync(control, { mode: 0o700 });
    fs.writeFileSync(path.join(control, 'leak.json'), JSON.stringify({ key: ca.keyPem, env: `X=${mark}` }), { mode: 0o644 });
    fs.chmodSync(path.join(control, 'leak.json'), 0o644);
    const problems = scanDataDir(control, needles).findings.map((f) => f.problem);
    assert.ok(problems.includes('mode 644') && problems.includes('contains the marker') && problems.some((p) => p.startsWith('contains the root CA key PEM line')), problems.join(', '));
    assert.deepEqual(all, [], `${all.length} findings in ${files} files:\n${all.map((f) => `${f.file}: ${f.problem}`).join('\n')}`);
    // the scan can fail: the marker is where the test can read it back in the clear
    assert.ok(m0.dockerOk(['service', 'inspect', 'envsvc']).includes(mark));
  });
});
