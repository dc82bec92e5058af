// Autolock end to end with the real docker CLI (issue 11): `swarm init --autolock` prints the key as
// Docker does; a restarted manager is locked (info, the locked error on every swarm call) until
// `docker swarm unlock` gets the right key on stdin; a wrong key is refused; `unlock-key --rotate`;
// `update --autolock=false`. Then 3 managers with autolock survive a leader kill -9 and restarts, each
// restarted manager unlocked with the key. Process runtime, real daemons, real files.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestDaemon, dockerAvailable, freePort, waitFor } from '../harness/daemon';
import { TestCluster, type ClusterNode } from '../harness/cluster';
import { leaderOf, tearDownManagers, waitManagerStatus, createSleepService, serviceNames } from '../harness/managers';

const skip = dockerAvailable() ? false : 'the docker CLI is not installed';

const LOCKED = 'Error response from daemon: Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.';
const INVALID = 'Error response from daemon: swarm could not be unlocked: invalid key provided';
/** What the CLI prints after init --autolock / update --autolock=true / unlock-key (docker/cli printUnlockCommand). */
const keyMessage = (key: string) =>
  'To unlock a swarm manager after it restarts, run the `docker swarm unlock`\ncommand and provide the following key:\n\n    ' +
  key +
  '\n\nRemember to store this key in a password manager, since without it you\nwill not be able to restart the manager.\n';
const KEY_RE = /SWMKEY-1-[A-Za-z0-9+/]{43}/;

function keyFileSealed(dataDir: string): boolean {
  const key = fs.readFileSync(path.join(dataDir, 'certificates', 'swarm-node.key'), 'utf8');
  const dek = fs.readFileSync(path.join(dataDir, 'certificates', 'swarm-raft.dek'));
  const keySealed = key.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----');
  const dekSealed = dek.subarray(0, 4).toString('latin1') === 'SHE1';
  assert.equal(keySealed, dekSealed, 'node key and DEK sealed together');
  return keySealed;
}

describe('autolock: one manager through the docker CLI', { concurrency: false, timeout: 180_000, skip }, () => {
  let d: TestDaemon;
  let key = '';
  const restart = async () => {
    await d.stop();
    await d.start();
  };

  before(async () => {
    d = new TestDaemon({ hostname: 'autolock-1' });
    await d.start();
  });
  after(async () => {
    await d?.teardown();
  });

  test('init --autolock prints the key as Docker does; unlock-key -q gives it; key and DEK are sealed on disk', async () => {
    const port = await freePort();
    const out = d.dockerOk(['swarm', 'init', '--autolock', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${port}`]);
    key = KEY_RE.exec(out)?.[0] ?? '';
    assert.ok(key, out);
    assert.ok(out.endsWith(keyMessage(key)), out);
    assert.equal(d.dockerOk(['swarm', 'unlock-key', '-q']).trim(), key);
    assert.equal(d.dockerOk(['swarm', 'unlock-key']), keyMessage(key));
    assert.equal(d.dockerOk(['info', '--format', '{{.Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}']).trim(), 'true');
    assert.ok(keyFileSealed(d.dataDir));
    createSleepService({ dockerOk: (a: string[]) => d.dockerOk(a) } as unknown as ClusterNode, 'kept');
  });

  test('restarted: locked (info, every swarm call), wrong keys refused, the right key unlocks', async () => {
    await restart();
    assert.equal(d.dockerOk(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim(), 'locked');
    assert.match(d.dockerOk(['info']), /^ Swarm: locked$/m);
    for (const args of [['service', 'ls'], ['node', 'ls'], ['swarm', 'join-token', 'worker']]) {
      const r = d.docker(args);
      assert.equal(r.status, 1, args.join(' '));
      assert.equal(r.stderr.trim(), LOCKED, args.join(' '));
    }
    assert.equal(d.docker(['swarm', 'unlock-key']).stderr.trim(), `could not fetch unlock key: ${LOCKED}`);
    const api = await d.api('GET', '/v1.47/swarm');
    assert.equal(api.status, 503);
    const wrong = `SWMKEY-1-${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
    let r = d.docker(['swarm', 'unlock'], { input: `${wrong}\n` });
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim(), INVALID);
    assert.equal((await d.api('POST', '/v1.47/swarm/unlock', { UnlockKey: wrong })).status, 401);
    const garbled = await d.api<{ message: string }>('POST', '/v1.47/swarm/unlock', { UnlockKey: 'not-a-key' });
    assert.deepEqual([garbled.status, garbled.body.message], [400, 'invalid key string']);
    const leave = d.docker(['swarm', 'leave']);
    assert.equal(leave.stderr.trim(), 'Error response from daemon: Swarm is encrypted and locked. Please unlock it first or use `--force` to ignore this message.');
    assert.equal(d.dockerOk(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim(), 'locked');
    r = d.docker(['swarm', 'unlock'], { input: `${key}\n` });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(d.dockerOk(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim(), 'active');
    await waitFor(() => d.docker(['service', 'ls']).status === 0, 20_000, 'service ls answers');
    assert.match(d.dockerOk(['service', 'ls', '--format', '{{.Name}}']), /^kept$/m);
    r = d.docker(['swarm', 'unlock'], { input: `${key}\n` });
    assert.equal(r.stderr.trim(), 'Error: swarm is not locked', 'the CLI looks at info first');
    assert.equal((await d.api('POST', '/v1.47/swarm/unlock', { UnlockKey: key })).status, 409);
  });

  test('unlock-key --rotate: a new key; after a restart the old one is refused and the new one unlocks', async () => {
    const out = d.dockerOk(['swarm', 'unlock-key', '--rotate']);
    const next = KEY_RE.exec(out)?.[0] ?? '';
    assert.ok(next && next !== key, out);
    assert.equal(out, `Successfully rotated manager unlock key.\n${keyMessage(next)}`);
    assert.equal(d.dockerOk(['swarm', 'unlock-key', '-q']).trim(), next);
    await waitFor(() => keyFileSealed(d.dataDir), 10_000, 'sealed');
    await restart();
    assert.equal(d.docker(['swarm', 'unlock'], { input: `${key}\n` }).stderr.trim(), INVALID);
    assert.equal(d.docker(['swarm', 'unlock'], { input: `${next}\n` }).status, 0);
    key = next;
    await waitFor(() => d.docker(['service', 'ls']).status === 0, 20_000, 'service ls answers');
  });

  test('update --autolock=false: no key any more, files plain, a restart comes up unlocked', async () => {
    assert.equal(d.dockerOk(['swarm', 'update', '--autolock=false']).trim(), 'Swarm updated.');
    const r = d.docker(['swarm', 'unlock-key']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no unlock key is set/);
    await waitFor(() => !keyFileSealed(d.dataDir), 10_000, 'plain again');
    await restart();
    assert.equal(d.dockerOk(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim(), 'active');
    await waitFor(() => d.docker(['service', 'ls']).status === 0, 20_000, 'service ls answers');
    // and on again through update: the CLI prints the key
    const out = d.dockerOk(['swarm', 'update', '--autolock=true']);
    const k = KEY_RE.exec(out)?.[0] ?? '';
    assert.equal(out, `Swarm updated.\n${keyMessage(k)}`);
    await waitFor(() => keyFileSealed(d.dataDir), 10_000, 'sealed again');
  });
});

describe('autolock: 3 managers survive a leader kill and restarts', { concurrency: false, timeout: 240_000, skip }, () => {
  let c: TestCluster;
  let managers: ClusterNode[] = [];
  let key = '';
  const unlock = (n: ClusterNode) => {
    assert.equal(n.dockerOk(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim(), 'locked', `${n.hostname} comes up locked`);
    const r = n.daemon.docker(['swarm', 'unlock'], { input: `${key}\n` });
    assert.equal(r.status, 0, `${n.hostname}: ${r.stderr}`);
  };
  /** A failure shows every manager's log, not only the one the command ran on (elections involve all). */
  const withAllLogs = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${managers.map((m) => `=== ${m.hostname}\n${m.daemon.log()}`).join('\n')}`);
    }
  };
  const leaderAmong = async (ms: ClusterNode[]) => {
    const s = await waitManagerStatus(c, ms[0]!, (st) => leaderOf(st).length === 1 && ms.some((m) => leaderOf(st)[0] === m.hostname), 'a leader among the live managers', 30_000);
    return ms.find((m) => m.hostname === leaderOf(s)[0])!;
  };

  before(async () => {
    // 100 ms ticks: a fresh 3-manager cluster at 50 ms lost its leader 1–2 s after the third join on the loaded CI machine, autolock or not
    c = new TestCluster({ workers: 0, heartbeat: '1s', daemonArgs: ['--raft-tick-ms', '100'], hostPrefix: 'alk' });
    await c.start();
    managers = [c.manager, await c.addManager(), await c.addManager()];
  });
  after(() => tearDownManagers(c, managers));

  test('autolock on; every manager seals its keys; the killed leader and a restarted follower are unlocked with the key', async () => {
    await waitManagerStatus(c, c.manager, (s) => managers.every((m) => s.get(m.hostname) === 'Leader' || s.get(m.hostname) === 'Reachable'), 'all managers reachable', 30_000);
    const out = c.manager.dockerOk(['swarm', 'update', '--autolock=true']);
    key = KEY_RE.exec(out)?.[0] ?? '';
    assert.ok(key, out);
    for (const m of managers) await waitFor(() => keyFileSealed(m.daemon.dataDir), 20_000, `${m.hostname} sealed`);
    withAllLogs(() => createSleepService(c.manager, 'survivor'));
    const leader = await leaderAmong(managers);
    c.kill9(leader);
    const rest = managers.filter((m) => m !== leader);
    const next = await leaderAmong(rest);
    createSleepService(next, 'after-kill');
    await c.restart(leader);
    unlock(leader);
    await waitManagerStatus(c, next, (s) => managers.every((m) => s.get(m.hostname) === 'Leader' || s.get(m.hostname) === 'Reachable'), 'all reachable', 30_000);
    await waitFor(() => leader.docker(['service', 'ls']).status === 0, 20_000, 'the unlocked manager answers');
    assert.deepEqual(serviceNames(leader), ['after-kill', 'survivor']);
    // a follower restarted cleanly: locked too, unlocked the same way
    const follower = rest.find((m) => m !== next)!;
    await follower.daemon.stop();
    await c.restart(follower);
    unlock(follower);
    await waitFor(() => follower.docker(['service', 'ls']).status === 0, 20_000, 'the follower answers');
    assert.deepEqual(serviceNames(follower), ['after-kill', 'survivor']);
    await waitFor(async () => (await c.running('survivor')).length === 1 && (await c.running('after-kill')).length === 1, 30_000, 'both services run');
  });
});
