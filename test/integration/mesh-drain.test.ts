// No request lost while the routing mesh's backends change (issue 10): three process-runtime nodes
// on loopback, a published HTTP service with three tasks, and a request loop in its own process
// (one connection per request, over every node's mesh address) running through `docker node update
// --availability drain`, rolling updates stop-first and start-first (--env-add, --image). Every
// request must be answered: a stopping task leaves every node's balancer before its process gets
// its signal (the agent's drain hold), and a new task that does not listen yet is skipped by the
// mesh's connect retry. The counts are printed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestCluster } from '../harness/cluster';
import { freePort, waitFor } from '../harness/daemon';
import { RequestLoop } from '../harness/request-loop';

const NODE = process.execPath;
// Slow to start listening on purpose (200 ms after start): the mesh must not lose requests to a task
// that is "running" but not yet listening.
const HTTP_SERVER = `setTimeout(() => require('http').createServer((q, r) => r.end(process.env.HOSTNAME + '\\n')).listen(process.env.PORT), 200)`;

describe('routing mesh under change: drain and rolling updates lose no request (process runtime, 3 nodes)', { concurrency: false, timeout: 300_000 }, () => {
  const c = new TestCluster({ workers: 2, heartbeat: '1s' });
  let port = 0;
  before(async () => {
    await c.start();
    port = await freePort();
    c.manager.dockerOk(['service', 'create', '-d', '--name', 'web', '--replicas', '3', '--update-parallelism', '1', '--update-delay', '200ms', '--publish', `${port}:80`, 'busybox', NODE, '-e', HTTP_SERVER]);
    await waitFor(async () => (await c.running('web')).length === 3, 30_000, 'web running');
    // Every node's mesh answers before the loops start.
    await waitFor(async () => {
      // all 30 requests: stop() right after the start could end the loop after its first one on a loaded machine
      const l = new RequestLoop(c.nodes.map((n) => ({ host: n.ip, port })), { concurrency: 1, maxRequests: 30 });
      const r = await l.finish(10_000);
      return r.failures === 0 && Object.keys(r.byBody).length === 3 ? true : undefined;
    }, 30_000, 'all nodes answer, all three tasks seen', 300);
  });
  after(async () => {
    await c.cleanup();
  });

  async function underLoad(what: string, change: () => Promise<void>): Promise<void> {
    const loop = new RequestLoop(c.nodes.map((n) => ({ host: n.ip, port })), { concurrency: 4 });
    await loop.started();
    await change();
    const r = await loop.stop();
    console.log(`# ${what}: ${r.requests} requests, ${r.failures} failed; answered by ${JSON.stringify(r.byBody)}${r.errors.length ? `; errors: ${r.errors.join('; ')}` : ''}`);
    assert.ok(r.requests > 50, `the loop ran (${r.requests} requests)`);
    assert.equal(r.failures, 0, `no request lost during ${what}: ${r.errors.join('; ')}`);
  }

  const converged = (env: string) => async () =>
    waitFor(async () => {
      const tasks = await c.tasks({ service: ['web'] });
      const live = tasks.filter((t) => t.DesiredState === 'running');
      return live.length === 3 && live.every((t) => t.Status.State === 'running') && tasks.every((t) => t.DesiredState === 'running' || ['shutdown', 'complete', 'failed'].includes(t.Status.State)) ? env : undefined;
    }, 60_000, `web converged (${env})`, 100);

  test('drain of a node running a task', async () => {
    const worker = c.nodes[1]!;
    await underLoad('node drain', async () => {
      c.manager.dockerOk(['node', 'update', '--availability', 'drain', worker.hostname]);
      await waitFor(async () => {
        const tasks = await c.running('web');
        return tasks.length === 3 && tasks.every((t) => t.NodeID !== worker.nodeId) ? true : undefined;
      }, 60_000, 'web rescheduled off the drained node');
      await converged('drain')();
    });
    c.manager.dockerOk(['node', 'update', '--availability', 'active', worker.hostname]);
  });

  test('rolling update, stop-first (--env-add)', async () => {
    await underLoad('rolling update stop-first', async () => {
      c.manager.dockerOk(['service', 'update', '-d', '--env-add', 'V=1', 'web']);
      await waitFor(() => /completed/.test(c.manager.dockerOk(['service', 'inspect', 'web', '--format', '{{.UpdateStatus.State}}'])) || undefined, 90_000, 'update completed', 200);
      await converged('stop-first')();
    });
  });

  test('rolling update, start-first (--env-add)', async () => {
    await underLoad('rolling update start-first', async () => {
      c.manager.dockerOk(['service', 'update', '-d', '--update-order', 'start-first', '--env-add', 'V=2', 'web']);
      await waitFor(() => /completed/.test(c.manager.dockerOk(['service', 'inspect', 'web', '--format', '{{.UpdateStatus.State}}'])) || undefined, 90_000, 'update completed', 200);
      await converged('start-first')();
    });
  });

  test('rolling update, stop-first (--image)', async () => {
    await underLoad('rolling update --image', async () => {
      c.manager.dockerOk(['service', 'update', '-d', '--update-order', 'stop-first', '--image', 'busybox:1.36', 'web']);
      await waitFor(() => /completed/.test(c.manager.dockerOk(['service', 'inspect', 'web', '--format', '{{.UpdateStatus.State}}'])) || undefined, 90_000, 'update completed', 200);
      await converged('image')();
    });
  });
});
