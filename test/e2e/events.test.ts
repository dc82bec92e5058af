// `docker events` for swarm objects through the real docker CLI (process runtime): one test per object
// type with Docker's attributes, the filters, history replayed with --since/--until (bounded commands),
// and a follower's live stream that keeps delivering across a kill -9 of the leader (3 managers).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestCluster, type ClusterNode } from '../harness/cluster';
import { dockerAvailable, waitFor } from '../harness/daemon';
import { createSleepService, leaderOf, tearDownManagers, waitManagerStatus } from '../harness/managers';

interface Ev {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: string;
  time: number;
  timeNano: number;
}

const skip = dockerAvailable() ? undefined : 'the docker CLI is not installed';
const nowS = () => Math.floor(Date.now() / 1000);
const parse = (out: string): Ev[] => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);

describe('docker events for swarm objects (docker CLI, process runtime)', { skip, concurrency: false, timeout: 240_000 }, () => {
  let c: TestCluster;
  let m0: ClusterNode;
  let w: ClusterNode;
  let managers: ClusterNode[] = [];

  /** The bounded form: history between since and until (waits for the until second to pass first). */
  const history = async (n: ClusterNode, since: number, filters: string[] = []): Promise<Ev[]> => {
    const until = nowS() + 1;
    await waitFor(() => Date.now() / 1000 > until, 5_000, 'the until second to pass');
    const args = ['events', '--since', String(since), '--until', String(until), '--format', '{{json .}}'];
    for (const f of filters) args.push('--filter', f);
    const r = n.docker(args, { timeoutMs: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    return parse(r.stdout);
  };

  before(async () => {
    c = new TestCluster({ workers: 1, heartbeat: '1s', daemonArgs: ['--raft-tick-ms', '100'], hostPrefix: 'ev' });
    await c.start();
    m0 = c.manager;
    w = c.workers[0]!;
    managers = [m0];
  });
  after(() => tearDownManagers(c, managers));

  test('service: create, update (image.old/new, replicas.old/new, updatestate), remove', async () => {
    const since = nowS() - 1;
    const id = m0.dockerOk(['service', 'create', '--detach', '--name', 'evsvc', '--replicas', '1', 'busybox:1.36', 'sleep', '1000']).trim();
    m0.dockerOk(['service', 'scale', '--detach', 'evsvc=2']);
    m0.dockerOk(['service', 'update', '--detach', '--update-delay', '0s', '--update-monitor', '1s', '--image', 'busybox:1.37', 'evsvc']);
    await waitFor(() => JSON.parse(m0.dockerOk(['service', 'inspect', 'evsvc']))[0].UpdateStatus?.State === 'completed', 30_000, 'the update completes');
    m0.dockerOk(['service', 'rm', 'evsvc']);
    const evs = (await history(m0, since, ['type=service'])).filter((e) => e.Actor.ID === id);
    const actions = evs.map((e) => e.Action);
    assert.equal(actions[0], 'create', JSON.stringify(actions));
    assert.equal(actions[actions.length - 1], 'remove', JSON.stringify(actions));
    for (const e of evs) {
      assert.equal(e.Type, 'service');
      assert.equal(e.scope, 'swarm');
      assert.equal(e.Actor.Attributes.name, 'evsvc');
    }
    const attrs = evs.map((e) => e.Actor.Attributes);
    assert.ok(attrs.some((a) => a['image.old'] === 'busybox:1.36' && a['image.new'] === 'busybox:1.37'), JSON.stringify(attrs));
    assert.ok(attrs.some((a) => a['replicas.old'] === '1' && a['replicas.new'] === '2'), JSON.stringify(attrs));
    assert.ok(attrs.some((a) => a['updatestate.new'] === 'updating'), JSON.stringify(attrs));
    assert.ok(attrs.some((a) => a['updatestate.old'] === 'updating' && a['updatestate.new'] === 'completed'), JSON.stringify(attrs));
  });

  test('node: availability.old/new on drain and back; name is the hostname', async () => {
    const since = nowS() - 1;
    m0.dockerOk(['node', 'update', '--availability', 'drain', w.nodeId]);
    m0.dockerOk(['node', 'update', '--availability', 'active', w.nodeId]);
    const evs = (await history(m0, since, ['type=node', 'event=update'])).filter((e) => e.Actor.ID === w.nodeId);
    const attrs = evs.map((e) => e.Actor.Attributes);
    assert.deepEqual(
      attrs.filter((a) => a['availability.new']).map((a) => [a['availability.old'], a['availability.new']]),
      [['active', 'drain'], ['drain', 'active']],
    );
    assert.ok(attrs.every((a) => a.name === w.hostname));
  });

  test('network: create and remove of an overlay network, filtered by its name', async () => {
    const since = nowS() - 1;
    const id = m0.dockerOk(['network', 'create', '--driver', 'overlay', 'evnet']).trim();
    m0.dockerOk(['network', 'rm', 'evnet']);
    const evs = await history(m0, since, ['network=evnet']);
    assert.deepEqual(evs.map((e) => [e.Type, e.Action, e.Actor.ID, e.Actor.Attributes.name, e.scope]), [
      ['network', 'create', id, 'evnet', 'swarm'],
      ['network', 'remove', id, 'evnet', 'swarm'],
    ]);
  });

  test('secret and config: create and remove (once the daemon has secrets and configs)', async (t) => {
    const since = nowS() - 1;
    // The capability probe is the secret's creation itself (through the API: a daemon without secrets
    // answers before reading a body, which the CLI can report as a broken pipe instead of the message).
    const made = await m0.daemon.api<{ ID?: string; message?: string }>('POST', '/v1.47/secrets/create', { Name: 'evsecret', Data: Buffer.from('pw').toString('base64') });
    if (made.status >= 400) {
      // Secrets and configs are being added beside this work; any other failure is a failure.
      assert.match(made.body.message ?? '', /secrets are not supported by this daemon yet/);
      t.skip(`this daemon has no secrets yet: ${made.body.message}`);
      return;
    }
    const sid = made.body.ID!;
    const cid = m0.daemon.docker(['config', 'create', 'evconfig', '-'], { input: 'x=1' }).stdout.trim();
    assert.match(cid, /^[0-9a-z]{25}$/);
    m0.dockerOk(['secret', 'rm', 'evsecret']);
    m0.dockerOk(['config', 'rm', 'evconfig']);
    const evs = await history(m0, since, ['type=secret', 'type=config']);
    assert.deepEqual(evs.map((e) => [e.Type, e.Action, e.Actor.ID, e.Actor.Attributes.name]), [
      ['secret', 'create', sid, 'evsecret'],
      ['config', 'create', cid, 'evconfig'],
      ['secret', 'remove', sid, 'evsecret'],
      ['config', 'remove', cid, 'evconfig'],
    ]);
  });

  test('filters: event=create with type=service gives only creations; scope=local hides swarm events', async () => {
    const since = nowS() - 1;
    createSleepService(m0, 'evfilt');
    m0.dockerOk(['service', 'rm', 'evfilt']);
    const creates = await history(m0, since, ['type=service', 'event=create']);
    assert.deepEqual(creates.map((e) => [e.Action, e.Actor.Attributes.name]), [['create', 'evfilt']]);
    assert.deepEqual(await history(m0, since, ['scope=local', 'type=service']), []);
    assert.ok((await history(m0, since, ['scope=swarm', 'service=evfilt'])).length >= 2);
  });

  test('leader change: a follower replays the history and its live stream keeps delivering after kill -9 of the leader', async () => {
    const m1 = await c.addManager(m0);
    const m2 = await c.addManager(m1);
    managers = [m0, m1, m2];
    await waitManagerStatus(c, m1, (s) => s.get(m0.hostname) === 'Leader' && s.get(m2.hostname) === 'Reachable', 'three managers', 30_000);
    const since = nowS() - 1;
    createSleepService(m0, 'evbefore');
    // the follower's own store made the event: it shows in its history
    await waitFor(async () => (await history(m1, since, ['service=evbefore'])).some((e) => e.Action === 'create'), 20_000, 'follower history has evbefore');
    const stream = m1.daemon.dockerBackground(['events', '--filter', 'type=service', '--format', '{{json .}}']);
    try {
      c.kill9(m0);
      // both survivors know the new leader before a write goes through m2
      for (const m of [m1, m2]) {
        const s = await waitManagerStatus(c, m, (st) => st.get(m0.hostname) === 'Unreachable' && leaderOf(st).length === 1, `${m.hostname} sees a new leader`, 30_000);
        assert.notEqual(leaderOf(s)[0], m0.hostname);
      }
      // Under load a fresh leader can still lose its term once: a refused write is tried again (bounded);
      // one that committed before its answer was lost shows as the service existing.
      await waitFor(() => m2.docker(['service', 'create', '--detach', '--name', 'evafter', 'busybox', 'sleep', '1000']).status === 0 || m2.docker(['service', 'inspect', 'evafter']).status === 0, 30_000, 'evafter created through m2', 500);
      const ev = await waitFor(() => parse(stream.out()).find((e) => e.Action === 'create' && e.Actor.Attributes.name === 'evafter'), 20_000, 'the follower stream delivers evafter');
      assert.equal(ev.Type, 'service');
      assert.equal(ev.scope, 'swarm');
      assert.equal(stream.err(), '', 'the stream did not end with an error');
    } finally {
      stream.stop();
    }
  });
});
