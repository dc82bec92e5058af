// The commit index reaches disk without waiting for further entries: in the background once the
// Ready loop is idle, and on stop(). A lone member that crashes or stops right after its last batch
// must still find that batch committed locally (force-new-cluster keeps only what is). And what a
// committed entry becomes in each member's store: the leader applies the changes it proposed, the
// followers the decoding of the entry.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Message } from '../../raft';
import { MemoryStore, type Change } from '../../store';
import { nodeFixture } from '../../testing/fixtures';
import { waitFor } from '../../testing/wait';
import { RaftConsensus } from './raft-consensus';
import { RaftDiskStorage } from './storage';
import type { RaftTransport } from './transport-types';

const node = (id: string) => nodeFixture({ ID: id });

/** Delivers messages between members of one process, as the network would, later and unordered with the sender. */
function loopback(net: Map<number, RaftConsensus>): RaftTransport {
  const deliver = (m: Message) => {
    try {
      net.get(m.to)?.receive([m]);
    } catch {
      // a stopped member: the message is lost, as on a network
    }
  };
  return {
    bind: () => undefined,
    setPeer: () => undefined,
    removePeer: () => undefined,
    send: (messages) => {
      for (const m of messages) setImmediate(() => deliver(m));
    },
    close: () => Promise.resolve(),
  };
}

interface Member {
  dir: string;
  store: MemoryStore;
  c: RaftConsensus;
}

function member(net: Map<number, RaftConsensus>, dir: string, raftId?: number): Member {
  const store = new MemoryStore({ propose: () => Promise.reject(new Error('unset')) });
  const c = new RaftConsensus({ dir, raftId, store, transport: loopback(net), tickMs: 20, electionTick: 10 });
  store.setProposer(c);
  if (raftId) net.set(raftId, c);
  return { dir, store, c };
}

/**
 * Two voters: the leader learns that its last batch committed from the follower's acknowledgement,
 * in a Ready that carries no entries, and the follower from the next heartbeat; in neither case does
 * a later entry come along to carry the commit index to disk.
 */
async function twoMembers(): Promise<{ net: Map<number, RaftConsensus>; leader: Member; follower: Member; dirs: string[] }> {
  const net = new Map<number, RaftConsensus>();
  const dirs = [1, 2].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-commit-')));
  const members = [{ raftId: 1, addr: '', nodeId: 'a' }, { raftId: 2, addr: '', nodeId: 'b' }];
  const [a, b] = [member(net, dirs[0]!, 1), member(net, dirs[1]!, 2)];
  await Promise.all([a.c.bootstrap({ members }), b.c.bootstrap({ members })]);
  await waitFor('a leader', () => a.c.isLeader() || b.c.isLeader(), 5_000, 10);
  const [leader, follower] = a.c.isLeader() ? [a, b] : [b, a];
  return { net, leader, follower, dirs };
}

function savedCommit(dir: string): number {
  const disk = new RaftDiskStorage(dir);
  try {
    return disk.load().hardState.commit;
  } finally {
    void disk.close();
  }
}

async function writeNodes(store: MemoryStore, ids: string[]): Promise<void> {
  for (const id of ids) await store.update((tx) => tx.create('node', node(id)));
}

const ids = Array.from({ length: 10 }, (_, i) => `n${i}`);

test('stop() saves the commit index of the last committed batch', async () => {
  const { leader, follower, dirs } = await twoMembers();
  try {
    await writeNodes(leader.store, ids);
    await waitFor('the follower to apply everything', () => follower.c.status().applied === leader.c.status().applied, 5_000, 10);
    const applied = leader.c.status().applied;
    await leader.c.stop();
    await follower.c.stop();
    assert.equal(savedCommit(leader.dir), applied);
    assert.equal(savedCommit(follower.dir), applied);
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
});

test('an idle member saves its commit index in the background; force-new-cluster after a crash keeps the last batch', async () => {
  const { net, leader, follower, dirs } = await twoMembers();
  try {
    await writeNodes(leader.store, ids);
    const applied = leader.c.status().applied;
    await waitFor(`commit index ${applied} on both disks`, () => savedCommit(leader.dir) >= applied && savedCommit(follower.dir) >= applied, 5_000, 10);
    leader.c.crash();
    follower.c.crash();
    const survivor = member(net, follower.dir);
    await survivor.c.forceNewCluster();
    await waitFor('the survivor to lead', () => survivor.c.isLeader(), 5_000, 10);
    const held = survivor.store.read((tx) => tx.find('node').map((n) => n.ID)).sort();
    assert.deepEqual(held, [...ids].sort());
    await survivor.c.stop();
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
});

test("the leader applies the changes it proposed (no decoding of its own entry), the follower the entry's decoding: equal objects", async () => {
  const { leader, follower, dirs } = await twoMembers();
  try {
    const proposed = { ...node('own'), Unset: undefined };
    const changes: Change[] = [{ action: 'create', kind: 'node', object: proposed }];
    await leader.c.append(changes).applied;
    const mine = leader.store.read((tx) => tx.get('node', 'own'))!;
    assert.notEqual(mine, proposed, "the store's object is its own: it sets the Version on it");
    assert.equal(proposed.Version.Index, node('own').Version.Index, "the proposer's object is left as it was");
    assert.equal(mine.Spec, proposed.Spec, 'its parts are the proposed ones: not decoded from the entry');
    await waitFor('the follower to apply it', () => follower.c.status().applied >= leader.c.status().applied, 5_000, 10);
    const theirs = follower.store.read((tx) => tx.get('node', 'own'))!;
    assert.notEqual(theirs.Spec, proposed.Spec);
    assert.equal(mine.Version.Index, theirs.Version.Index);
    assert.deepEqual(JSON.parse(JSON.stringify(mine)), theirs, 'the same object on both, once encoded (the encoding drops undefined members)');
    await leader.c.stop();
    await follower.c.stop();
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
});
