// A new leader may hold entries in its log that it has not applied: an earlier leader's, replicated to
// it but not known to be committed. Until its term's empty entry commits and everything before it is
// applied, its store lacks them, and a component or API write that read it would decide again what
// they decided. leaderCaughtUp() says when the store is whole; the manager starts its leader components
// and serves writes only then.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Message } from '../../raft';
import { MemoryStore } from '../../store';
import { nodeFixture } from '../../testing/fixtures';
import { waitFor } from '../../testing/wait';
import { RaftConsensus } from './raft-consensus';
import type { RaftTransport } from './transport-types';

/** Members of one process; a message whose (from, to, type) `blocked` matches is lost, as on a network. */
function loopback(net: Map<number, RaftConsensus>, blocked: (m: Message) => boolean): RaftTransport {
  return {
    bind: () => undefined,
    setPeer: () => undefined,
    removePeer: () => undefined,
    send: (messages) => {
      for (const m of messages) {
        if (blocked(m)) continue;
        setImmediate(() => {
          try {
            net.get(m.to)?.receive([m]);
          } catch {
            // a stopped member
          }
        });
      }
    },
    close: () => Promise.resolve(),
  };
}

test("a new leader is caught up only once it applied the earlier leader's entries its log holds", async () => {
  const net = new Map<number, RaftConsensus>();
  const dirs = [1, 2, 3].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-caughtup-')));
  // While `cut` holds [leader, holder, other]: the leader's appends reach the holder only, and the
  // holder's answers are lost, so the holder keeps an entry the leader never learns is committed (and the
  // other member never sees it).
  let cut: [number, number, number] | undefined;
  const blocked = (m: Message): boolean => {
    if (!cut) return false;
    const [l, h, o] = cut;
    return (m.from === l && m.to === o) || (m.from === o && m.to === l) || (m.from === h && m.to === l);
  };
  const members = [1, 2, 3].map((raftId) => ({ raftId, addr: '', nodeId: `m${raftId}` }));
  const made = new Map(
    [1, 2, 3].map((raftId) => {
      const store = new MemoryStore({ propose: () => Promise.reject(new Error('unset')) });
      const c = new RaftConsensus({ dir: dirs[raftId - 1]!, raftId, store, transport: loopback(net, blocked), tickMs: 20, electionTick: 100 });
      store.setProposer(c);
      net.set(raftId, c);
      return [raftId, { store, c }] as const;
    }),
  );
  const has = (id: number, node: string): boolean => !!made.get(id)!.store.read((tx) => tx.get('node', node));
  try {
    await Promise.all([...made.values()].map((m) => m.c.bootstrap({ members })));
    await waitFor('a leader', () => [...made.values()].some((m) => m.c.isLeader()), 10_000, 10);
    const l = [...made].find(([, m]) => m.c.isLeader())![0];
    const [h, o] = [1, 2, 3].filter((id) => id !== l) as [number, number];
    const leader = made.get(l)!;
    const holder = made.get(h)!;
    await leader.store.update((tx) => tx.create('node', nodeFixture({ ID: 'before' })));
    await waitFor('every member to apply the first write', () => has(h, 'before') && has(o, 'before'), 5_000, 10);

    cut = [l, h, o];
    // (elections take 2 s here: none can start between the cut and the crash)
    const term = leader.c.status().term;
    const { applied } = await leader.store.write((tx) => tx.create('node', nodeFixture({ ID: 'unsure' })));
    applied.catch(() => undefined);
    const entry = leader.c.status().lastIndex;
    await waitFor("the holder to have the leader's entry in its log", () => holder.c.status().lastIndex >= entry, 5_000, 2);
    assert.deepEqual([leader.c.status().term, holder.c.status().term, holder.c.status().lastIndex], [term, term, entry]);
    leader.c.crash();
    net.delete(l);
    assert.equal(has(h, 'unsure'), false, 'not applied: the holder does not know it committed');

    // The holder's log is longer than the other's: only it can win. At the moment it leads, its store
    // still lacks the entry (its term's empty entry must commit first): it is not caught up yet.
    const atLeadership: { applied: boolean; caughtUp: boolean }[] = [];
    const off = holder.c.onLeadershipChange((isLeader) => {
      if (isLeader) atLeadership.push({ applied: has(h, 'unsure'), caughtUp: holder.c.leaderCaughtUp() });
    });
    cut = undefined;
    await waitFor('the holder to lead', () => holder.c.isLeader(), 15_000, 5);
    off();
    assert.equal(await holder.c.waitLeaderCaughtUp(5_000), true);
    assert.ok(has(h, 'unsure'), "caught up: the earlier leader's entry is applied");
    // (the event comes from the Ready loop, which may handle the Ready of taking office after the test
    // saw isLeader(); whenever it came, caught up implied applied)
    assert.ok(atLeadership.every((x) => x.applied || !x.caughtUp), JSON.stringify(atLeadership));
    await waitFor('the other member to apply it too', () => has(o, 'unsure'), 5_000, 10);
    assert.equal(await leader.c.waitLeaderCaughtUp(10), false, 'a crashed member is no leader');
  } finally {
    for (const [id, m] of made) if (net.has(id)) await m.c.stop().catch(() => undefined);
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
});
