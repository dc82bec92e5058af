// Raft managers in one process over real mutual-TLS gRPC on loopback (fast ticks: 50 ms, election
// after 10). Waits are bounded; nothing asserts on timing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_LEADER_MESSAGE, isKind } from '../../src/lib/errors';
import { NotLeaderError } from '../../src/manager/consensus';
import { RaftTestCluster, nodeObj, waitUntil, type RaftTestNode } from '../harness/raft-nodes';

const FAST = { tickMs: 50, electionTick: 10, heartbeatTick: 1 };
const W = 20_000;

async function write(n: RaftTestNode, id: string): Promise<void> {
  await n.store.update((tx) => tx.create('node', nodeObj(id)));
}

/**
 * A write that must succeed in the end: leadership may move at any moment (elections after restarts),
 * so an Unavailable answer is retried on whoever leads then. An earlier attempt that did commit
 * shows up as Conflict (already exists) and counts as done.
 */
async function writeSure(cl: RaftTestCluster, id: string, first?: RaftTestNode): Promise<void> {
  const end = Date.now() + W;
  let target = first;
  for (;;) {
    try {
      await write(target ?? (await cl.waitLeader()), id);
      return;
    } catch (e) {
      if (isKind(e, 'Conflict')) return;
      if (!isKind(e, 'Unavailable') || Date.now() > end) throw e;
      target = undefined;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/**
 * Every member holds exactly `ids`, ignoring objects named 'lost…': a proposal rejected because its
 * leader lost quorum may still commit later (as in Docker), so those may or may not appear — but
 * then on every member alike.
 */
async function converged(nodes: RaftTestNode[], ids: string[]): Promise<void> {
  const want = [...ids].sort().join(',');
  const held = (n: RaftTestNode) => n.nodes().filter((id) => !id.startsWith('lost')).join(',');
  const lost = (n: RaftTestNode) => n.nodes().filter((id) => id.startsWith('lost')).join(',');
  await waitUntil(() => nodes.every((n) => held(n) === want && lost(n) === lost(nodes[0]!)), W, `every member to hold ${ids.length} objects`);
}

test('3 managers: election, replication, failover, quorum loss, recovery, kill -9, transfer', async () => {
  const cl = new RaftTestCluster({ ...FAST, snapshotInterval: 10_000 });
  await cl.init();
  const ids: string[] = [];
  try {
    const a = await cl.bootstrap();
    await waitUntil(() => a.c.isLeader(), W, 'single member leads');
    await writeSure(cl, 'n0', a);
    ids.push('n0');
    const b = await cl.join(a);
    const c = await cl.join(b); // through a follower: forwarded to the leader
    const leader = await cl.waitLeader();
    assert.equal(leader, a);
    await converged([a, b, c], ids);

    // writes on the leader reach everyone
    for (let i = 1; i <= 20; i++) {
      await writeSure(cl, `n${i}`, a);
      ids.push(`n${i}`);
    }
    await converged([a, b, c], ids);

    // a follower refuses with the leader's name
    await assert.rejects(write(b, 'x'), (e: unknown) => e instanceof NotLeaderError && e.leader.raftId === a.c.raftId && e.leader.addr === a.addr);

    // MANAGER STATUS
    await waitUntil(() => a.c.members().every((m) => m.reachability === 'reachable'), W, 'all reachable');
    const ms = a.c.members();
    assert.equal(ms.length, 3);
    assert.deepEqual(ms.filter((m) => m.leader).map((m) => m.raftId), [a.c.raftId]);

    // the leader goes down: a survivor takes over and writes continue
    await a.stop();
    const l2 = await cl.waitLeader();
    assert.notEqual(l2, a);
    await writeSure(cl, 'after-failover', l2);
    ids.push('after-failover');
    await converged([b, c], ids);
    await waitUntil(() => l2.c.members().find((m) => m.raftId === 1)?.reachability === 'unreachable', W, 'old leader unreachable');

    // 2 of 3 down: the write on the last one fails with Docker's text
    const other = l2 === b ? c : b;
    await other.stop();
    await assert.rejects(write(l2, 'lost'), (e: unknown) => (e as Error).message === NO_LEADER_MESSAGE);
    await waitUntil(() => l2.c.leader() === undefined, W, 'no leader');
    await assert.rejects(write(l2, 'lost2'), (e: unknown) => (e as Error).message === NO_LEADER_MESSAGE);

    // both come back from disk: a leader again, no intervention
    await a.restart();
    await other.restart();
    const l3 = await cl.waitLeader();
    await writeSure(cl, 'recovered', l3);
    ids.push('recovered');
    await converged([a, b, c], ids);

    // kill -9 of a follower: committed entries are on its disk before it acked them
    const f = cl.up().find((n) => !n.c.isLeader())!;
    const commitBefore = f.c.status().commit;
    f.crash();
    await f.restart();
    assert.ok(f.c.status().lastIndex >= commitBefore, 'log survives the crash');
    await converged([a, b, c], ids);

    // kill -9 of the leader: a new one, and the crashed one rejoins with everything
    const l4 = await cl.waitLeader();
    l4.crash();
    const l5 = await cl.waitLeader();
    await writeSure(cl, 'after-crash', l5);
    ids.push('after-crash');
    await l4.restart();
    await converged([a, b, c], ids);

    // leadership transfer to a chosen member
    const cur = await cl.waitLeader();
    const target = cl.up().find((n) => n !== cur)!;
    const to = await cur.c.transferLeadership(target.c.raftId);
    assert.equal(to, target.c.raftId);
    assert.equal(await cl.waitLeader(), target);
    await writeSure(cl, 'after-transfer', target);
    ids.push('after-transfer');
    await converged([a, b, c], ids);
  } finally {
    await cl.destroy();
  }
});

test('joining by snapshot, member removal, removed ID refused', async () => {
  const cl = new RaftTestCluster({ ...FAST, snapshotInterval: 20, keepEntries: 5 });
  await cl.init();
  const ids: string[] = [];
  try {
    const a = await cl.bootstrap();
    const b = await cl.join(a);
    const c = await cl.join(a);
    await cl.waitLeader();
    for (let i = 0; i < 60; i++) {
      await writeSure(cl, `s${i}`, a);
      ids.push(`s${i}`);
    }
    await converged([a, b, c], ids);
    assert.ok(a.c.status().snapshotIndex >= 40, 'leader compacted');
    assert.ok(a.c.status().firstIndex > 1, 'log compacted');

    // a fourth manager joins after compaction: it must catch up from a snapshot
    const d = await cl.join(c);
    await converged([a, b, c, d], ids);
    assert.ok(d.c.status().snapshotIndex > 0, 'installed a snapshot');
    assert.equal(d.c.members().length, 4);
    assert.ok(d.c.members().every((m) => m.addr && m.nodeId), 'membership came with the snapshot');
    await writeSure(cl, 'with-four', a);
    ids.push('with-four');
    await converged([a, b, c, d], ids);

    // remove it again; the cluster of three continues, and the ID is never accepted again
    const dId = d.c.raftId;
    let removed = false;
    d.c.onRemoved(() => (removed = true));
    await a.c.removeMember(dId);
    assert.deepEqual(a.c.members().map((m) => m.raftId).sort(), [a, b, c].map((n) => n.c.raftId).sort());
    await writeSure(cl, 'after-remove', a);
    ids.push('after-remove');
    await converged([a, b, c], ids);
    await waitUntil(() => removed, W, 'the removed member learns it');
    await assert.rejects(a.c.addMember({ raftId: dId, addr: d.addr, nodeId: 'x' }), /cannot be reused/);
    assert.throws(() => a.c.receive([{ type: 'heartbeat', from: dId, to: a.c.raftId, term: 1 }]), /removed/);
  } finally {
    await cl.destroy();
  }
});

test('5 managers tolerate 2 failures, not 3', async () => {
  const cl = new RaftTestCluster(FAST);
  await cl.init();
  const ids: string[] = [];
  try {
    const a = await cl.bootstrap();
    for (let i = 0; i < 4; i++) await cl.join(a);
    const l = await cl.waitLeader();
    await writeSure(cl, 'five', l);
    ids.push('five');
    await converged(cl.nodes, ids);
    const followers = cl.nodes.filter((n) => n !== l);
    await followers[0]!.stop();
    await l.stop();
    const l2 = await cl.waitLeader();
    await writeSure(cl, 'three-left', l2);
    ids.push('three-left');
    await converged(cl.up(), ids);
    await cl.up().find((n) => n !== l2)!.stop();
    await assert.rejects(write(l2, 'two-left'), (e: unknown) => (e as Error).message === NO_LEADER_MESSAGE);
  } finally {
    await cl.destroy();
  }
});

test('single manager: kill -9 keeps every acknowledged write; force-new-cluster keeps the state', async () => {
  const cl = new RaftTestCluster(FAST);
  await cl.init();
  const ids: string[] = [];
  try {
    const a = await cl.bootstrap();
    for (let i = 0; i < 30; i++) {
      await writeSure(cl, `k${i}`, a);
      ids.push(`k${i}`);
    }
    a.crash();
    await a.restart();
    await converged([a], ids);
    await writeSure(cl, 'k-after', a);
    ids.push('k-after');

    const b = await cl.join(a);
    const c = await cl.join(a);
    await converged([a, b, c], ids);
    // everyone down; b alone comes back as a new single-member cluster with all the state
    await Promise.all([a.stop(), b.stop(), c.stop()]);
    await b.fresh().forceNewCluster();
    await waitUntil(() => b.c.isLeader(), W, 'forced member leads');
    assert.deepEqual(b.c.members().map((m) => m.raftId), [b.c.raftId]);
    await writeSure(cl, 'forced', b);
    ids.push('forced');
    await converged([b], ids);
    b.crash();
    await b.restart();
    await converged([b], ids);
    await waitUntil(() => b.c.isLeader(), W, 'forced member leads after restart');
  } finally {
    await cl.destroy();
  }
});
