// A cluster held up for longer than the heartbeat TTL (every daemon stopped with SIGSTOP, as a paused VM
// or a disk that held every process up would): when it goes on, no node is marked Down for the pause
// and no task moves. The manager goes on first and the workers a second later, as a relay or a host
// held up a little longer would: the manager's first deadline check then runs before any worker's
// heartbeat can arrive. swarmkit's timers would all fire at that moment; the dispatcher moves its
// deadlines by how long its check was held up (core/heartbeat.ts, checkHeldUpMs). Real daemons, the
// real docker CLI.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestCluster } from '../harness/cluster';
import { sleep, waitFor } from '../harness/daemon';

describe('a cluster held up', { concurrency: false, timeout: 120_000 }, () => {
  let c: TestCluster;
  before(async () => {
    // a 1 s heartbeat period: the TTL is 3.5 s, well inside the 6 s the cluster is held up
    c = new TestCluster({ workers: 2, hostPrefix: 'held', heartbeat: '1s' });
    await c.start();
  });
  after(async () => {
    for (const n of c?.nodes ?? []) n.daemon.signal('SIGCONT');
    await c?.cleanup();
  });

  test('every daemon stopped for 6 s, the workers let go 1 s after the manager: every node stays Ready, no task moves', async () => {
    c.manager.dockerOk(['service', 'create', '--detach', '--name', 'held', '--replicas', '3', 'busybox', 'sleep', '1000']);
    await waitFor(async () => (await c.running('held')).length === 3, 30_000, '3 held running');
    const tasks = (await c.running('held')).map((t) => `${t.ID}@${t.NodeID}`).sort();
    for (const n of c.nodes) n.daemon.signal('SIGSTOP');
    await sleep(6000);
    c.manager.daemon.signal('SIGCONT');
    await sleep(1000);
    for (const w of c.workers) w.daemon.signal('SIGCONT');
    // 5 s after: more than a TTL for every node to have been judged
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      for (const n of await c.nodeList()) {
        if (n.Status.State !== 'ready') assert.fail(`${n.Description.Hostname} after the pause: ${JSON.stringify(n.Status)}\n${c.manager.daemon.log()}`);
      }
      await sleep(250);
    }
    assert.deepEqual((await c.running('held')).map((t) => `${t.ID}@${t.NodeID}`).sort(), tasks, 'the same tasks on the same nodes');
  });
});
