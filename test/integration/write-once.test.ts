// A write is applied at most once, and its answer tells the truth, while the leader changes under
// it. A manager used to retry a control write after its leader lost leadership with the entry still
// pending (src/manager/consensus/errors.ts retryableControlError): if that entry then committed,
// the write applied twice and the client heard a refusal for its own write (a create answered 409
// "name conflicts", a remove 404). 3 managers (process runtime, 50 ms Raft ticks); clients create
// services with fresh names and remove half of them through every manager while the leader is
// stopped cleanly (leadership transfer) or killed -9 and restarted, a bounded number of rounds.
// It prints when writes were answered "no leader", next to the rounds' events.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestCluster, type ClusterNode } from '../harness/cluster';
import { apiRequest, sleep, waitFor } from '../harness/daemon';
import { checkWrites, outcomeOf, type FinalService, type WriteRecord } from '../harness/chaos';
import { tearDownManagers } from '../harness/managers';

const ROUNDS = 6;

describe('writes apply once across leader changes', { concurrency: false, timeout: 240_000 }, () => {
  let c: TestCluster;
  let managers: ClusterNode[];
  const log: WriteRecord[] = [];

  before(async () => {
    c = new TestCluster({ workers: 0, daemonArgs: ['--raft-tick-ms', '50'], hostPrefix: 'once' });
    await c.start();
    const m1 = await c.addManager(c.manager);
    managers = [c.manager, m1, await c.addManager(m1)];
  });
  after(async () => {
    await tearDownManagers(c, managers ?? []);
  });

  const answer = async (m: ClusterNode, method: string, p: string, body?: unknown) => {
    const r = await apiRequest<{ ID?: string; message?: string }>(m.daemon.sock, method, p, body, 10_000).catch((e: Error) => ({ status: 0, body: { message: e.message } as { ID?: string; message?: string } }));
    return { status: r.status, message: r.body?.message ?? '', id: r.body?.ID };
  };

  const leader = async (): Promise<ClusterNode> =>
    waitFor(
      async () => {
        for (const m of managers.filter((x) => !x.killed)) {
          const r = await m.daemon.api<{ ID: string; ManagerStatus?: { Leader?: boolean } }[]>('GET', '/v1.47/nodes').catch(() => undefined);
          const id = r?.status === 200 ? r.body.find((n) => n.ManagerStatus?.Leader)?.ID : undefined;
          const l = managers.find((x) => x.nodeId === id && !x.killed);
          if (l) return l;
        }
        return undefined;
      },
      20_000,
      'a leader',
    );

  test('no write is answered as refused after it applied, none applies twice', async () => {
    let stop = false;
    const t0 = Date.now();
    const noLeaderAt: number[] = [];
    const events: string[] = [];
    const client = async (k: number) => {
      for (let i = 0; !stop && i < 2000; i++) {
        const live = managers.filter((x) => !x.killed);
        const m = live[i % live.length]!;
        const name = `once-${k}-${i}`;
        const a = await answer(m, 'POST', '/v1.47/services/create', {
          Name: name,
          Labels: { 'chaos.gen': String(i) },
          TaskTemplate: { ContainerSpec: { Image: 'busybox', Args: ['sleep', '1'] } },
          Mode: { Replicated: { Replicas: 0 } },
        });
        if (/does not have a leader/.test(a.message)) noLeaderAt.push(Date.now() - t0);
        log.push({ kind: 'create', name, id: a.id, gen: i, replicas: 0, outcome: outcomeOf(a.status, a.message), status: a.status, message: a.message });
        if (a.id && i % 2 === 0) {
          const r = await answer(live[(i + 1) % live.length]!, 'DELETE', `/v1.47/services/${a.id}`);
          log.push({ kind: 'remove', name, id: a.id, outcome: outcomeOf(r.status, r.message), status: r.status, message: r.message });
        }
      }
    };
    const clients = [0, 1, 2, 3].map(client);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        await sleep(1500);
        const l = await leader();
        events.push(`${Date.now() - t0} ${round % 2 === 0 ? 'stop' : 'kill'} ${l.hostname}`);
        if (round % 2 === 0) await l.daemon.stop();
        else c.kill9(l);
        l.killed = true;
        events.push(`${Date.now() - t0} down`);
        await sleep(1000);
        await c.restart(l);
        events.push(`${Date.now() - t0} restarted`);
      }
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    const l = await leader();
    const services = (await l.daemon.api<FinalService[]>('GET', '/v1.47/services')).body.filter((s) => s.Spec.Name.startsWith('once-'));
    const conflicts = log.filter((w) => w.kind === 'create' && w.status === 409);
    const gone = log.filter((w) => w.kind === 'remove' && w.status === 404);
    console.log(`write-once: ${log.length} writes, ${log.filter((w) => w.outcome === 'ack').length} acknowledged, ${log.filter((w) => w.outcome === 'unknown').length} unknown; 409 on a fresh name: ${conflicts.length}, 404 on a remove of an existing service: ${gone.length}`);
    const spans: string[] = [];
    for (const t of noLeaderAt) {
      const lastSpan = spans.at(-1)?.split('-').map(Number);
      if (lastSpan && t - lastSpan[1]! < 500) spans[spans.length - 1] = `${lastSpan[0]}-${t}`;
      else spans.push(`${t}-${t}`);
    }
    console.log(`no-leader answers (ms since start): ${spans.join(' ')}\nevents: ${events.join('; ')}`);
    const why = new Map<string, number>();
    for (const w of log.filter((x) => x.outcome !== 'ack')) why.set(`${w.kind} ${w.status} ${w.message.slice(0, 100)}`, (why.get(`${w.kind} ${w.status} ${w.message.slice(0, 100)}`) ?? 0) + 1);
    console.log([...why].map(([k, v]) => `  ${v} × ${k}`).join('\n'));
    assert.deepEqual(conflicts.map((w) => `${w.name}: ${w.message}`), [], 'a create of a fresh name answered 409: it was applied twice');
    assert.deepEqual(gone.map((w) => `${w.name}: ${w.message}`), [], 'a remove of a service that existed answered 404: it was applied twice');
    assert.deepEqual(checkWrites(log, services), []);
  });
});
