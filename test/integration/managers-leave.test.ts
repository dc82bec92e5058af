// Docker's membership flow for a manager that leaves (seeds 000 and 004), through the real docker CLI
// on 3 managers + 1 worker: `swarm leave` without --force is refused with moby's warnings; after
// `swarm leave --force` the others keep it as a Down / Unreachable manager that still counts in the
// quorum, `node rm` of it is refused until `node demote`, and demote + rm take it out of Raft.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestCluster, type ClusterNode } from '../harness/cluster';
import { waitFor } from '../harness/daemon';
import { createSleepService, managerStatus, serviceNames, tearDownManagers, waitManagerStatus } from '../harness/managers';

const LEAVE_MANAGER = 'You are attempting to leave the swarm on a node that is participating as a manager. ';
const RESTORE = 'The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.';

describe('a manager leaves the swarm (docker CLI, 3 managers)', { concurrency: false, timeout: 240_000 }, () => {
  let c: TestCluster;
  let m0: ClusterNode, m1: ClusterNode, m2: ClusterNode;

  /** `docker node ls` rows on `n`: hostname → "STATUS|AVAILABILITY|MANAGER STATUS". */
  const rows = (n: ClusterNode): Map<string, string> =>
    new Map(
      n
        .dockerOk(['node', 'ls', '--format', '{{.Hostname}}|{{.Status}}|{{.Availability}}|{{.ManagerStatus}}'])
        .trim()
        .split('\n')
        .map((l) => {
          const [h, ...rest] = l.split('|');
          return [h!, rest.join('|')] as [string, string];
        }),
    );

  before(async () => {
    c = new TestCluster({ workers: 1, heartbeat: '1s', daemonArgs: ['--raft-tick-ms', '50'], hostPrefix: 'lv' });
    await c.start();
    m0 = c.manager;
    m1 = await c.addManager(m0);
    m2 = await c.addManager(m0);
    await waitManagerStatus(c, m0, (s) => s.get(m1.hostname) === 'Reachable' && s.get(m2.hostname) === 'Reachable', 'three managers', 30_000);
  });
  after(() => tearDownManagers(c, [m0, m1, m2].filter(Boolean)));

  test('swarm leave without --force on a manager: moby\'s warning, HTTP 503, still a manager', async () => {
    const r = m2.docker(['swarm', 'leave']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `Error response from daemon: ${LEAVE_MANAGER}${RESTORE}\n`);
    const api = await m2.daemon.api('POST', '/v1.47/swarm/leave');
    assert.equal(api.status, 503);
    assert.equal(m2.dockerOk(['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}']).trim(), 'active true');
  });

  test('swarm leave --force: the node is out of any swarm; the others show it Down and Unreachable, still a manager', async () => {
    assert.equal(m2.dockerOk(['swarm', 'leave', '--force']), 'Node left the swarm.\n');
    // The leaving node itself: Swarm inactive in its own docker info, and no cluster commands.
    assert.equal(m2.dockerOk(['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}|']).trim(), 'inactive |');
    assert.match(m2.docker(['node', 'ls']).stderr, /This node is not a swarm manager\./);
    await waitFor(() => rows(m0).get(m2.hostname) === 'Down|Active|Unreachable', 30_000, `${m2.hostname} Down and Unreachable`, 100);
    for (const n of [m0, m1]) assert.equal(rows(n).get(m2.hostname), 'Down|Active|Unreachable', `node ls on ${n.hostname}`);
    // The seed's table: ID, HOSTNAME, STATUS, AVAILABILITY, MANAGER STATUS, ENGINE VERSION.
    const line = m0.dockerOk(['node', 'ls']).split('\n').find((l) => l.startsWith(`${m2.nodeId} `));
    assert.match(line ?? '', new RegExp(`^${m2.nodeId}\\s+${m2.hostname}\\s+Down\\s+Active\\s+Unreachable\\s+\\S+\\s*$`));
    const info = JSON.parse(m0.dockerOk(['info', '--format', '{{json .Swarm}}']));
    assert.equal(info.Managers, 3, 'the left manager still counts until it is demoted');
    assert.equal(m0.dockerOk(['node', 'inspect', '--format', '{{.Spec.Role}}', m2.nodeId]).trim(), 'manager');
  });

  test('with one of three managers gone, the two others keep a quorum; leave on one of them warns of quorum loss', async () => {
    createSleepService(m1, 'after-leave');
    assert.ok(serviceNames(m0).includes('after-leave'));
    const r = m1.docker(['swarm', 'leave']);
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr,
      `Error response from daemon: ${LEAVE_MANAGER}Removing this node leaves 1 managers out of 3. Without a Raft quorum your swarm will be inaccessible. ${RESTORE}\n`,
    );
  });

  test('node rm of the left manager is refused until it is demoted; demote then rm take it out of Raft', async () => {
    const refused = `Error response from daemon: rpc error: code = FailedPrecondition desc = node ${m2.nodeId} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal\n`;
    for (const args of [['node', 'rm', m2.nodeId], ['node', 'rm', '--force', m2.nodeId]]) {
      const r = m0.docker(args);
      assert.equal(r.status, 1, args.join(' '));
      assert.equal(r.stderr, refused, args.join(' '));
    }
    // The left manager still counts in the quorum: demoting a live one would leave 1 reachable of 2.
    const q = m0.docker(['node', 'demote', m1.hostname]);
    assert.equal(q.status, 1);
    assert.equal(q.stderr, "Error response from daemon: rpc error: code = FailedPrecondition desc = can't remove member from the raft: this would result in a loss of quorum\n");
    assert.equal(m0.dockerOk(['node', 'inspect', '--format', '{{.Spec.Role}}', m1.hostname]).trim(), 'manager');
    assert.equal(m0.dockerOk(['node', 'demote', m2.nodeId]), `Manager ${m2.nodeId} demoted in the swarm.\n`);
    // The leader takes the demoted member out of Raft: its MANAGER STATUS goes.
    await waitFor(() => rows(m0).get(m2.hostname) === 'Down|Active|', 30_000, `${m2.hostname} out of raft`, 100);
    assert.equal(m0.dockerOk(['node', 'rm', m2.nodeId]), `${m2.nodeId}\n`);
    const left = rows(m0);
    assert.equal(left.has(m2.hostname), false);
    assert.equal(left.get(m1.hostname), 'Ready|Active|Reachable');
    const info = JSON.parse(m1.dockerOk(['info', '--format', '{{json .Swarm}}']));
    assert.equal(info.Managers, 2);
    assert.equal(managerStatus(m1).status?.get(m0.hostname), 'Leader');
    createSleepService(m0, 'after-rm');
    await waitFor(async () => (await c.running('after-rm')).length === 1, 30_000, 'after-rm running');
  });
});
