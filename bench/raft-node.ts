// One Raft manager in its own process, driven by bench/raft.ts over the fork() IPC channel: its own
// MemoryStore, Raft log directory (fdatasync) and mutual-TLS gRPC server on 127.0.0.1. The load generator runs
// here, inside the leader's process, so the bench measures the cluster and not the IPC channel.
import type { Change } from '../src/store';
import type { TlsMaterial } from '../src/rpc';
import { requestJoin } from '../src/manager/consensus';
import { RaftTestNode, nodeObj, type Tuning } from '../test/harness/raft-nodes';
import { commitTrace, markCommit, type CommitMark } from '../src/manager/consensus/commit-trace';
import { HeapGrowth } from '../src/node/heap-growth';
import { DEFAULT_HEAP_GROWTH_PERCENT } from '../src/node/config';

// as a daemon runs (node/daemon.ts)
new HeapGrowth(DEFAULT_HEAP_GROWTH_PERCENT).start();

export type NodeCmd =
  | { id: number; cmd: 'init'; name: string; dir: string; tls: TlsMaterial; tuning: Tuning }
  | { id: number; cmd: 'bootstrap'; nodeId: string }
  | { id: number; cmd: 'join'; via: string }
  | { id: number; cmd: 'status' }
  | { id: number; cmd: 'throughput'; total: number; window: number; prefix: string }
  | { id: number; cmd: 'latency'; n: number; prefix: string }
  | { id: number; cmd: 'writeWhenLeader'; timeoutMs: number }
  /** Turns the commit trace on (clearing it) or off; off returns the marks taken. */
  | { id: number; cmd: 'trace'; on: boolean }
  | { id: number; cmd: 'stop' };

export interface NodeReply {
  id: number;
  ok: boolean;
  err?: string;
  value?: unknown;
}

let node: RaftTestNode | undefined;

const change = (id: string): Change[] => [{ action: 'create', kind: 'node', object: nodeObj(id) }];

async function throughput(total: number, window: number, prefix: string): Promise<number> {
  const n = node!;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < total) {
      const i = next++;
      await n.c.propose(change(`${prefix}-${i}`));
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  return total / ((performance.now() - t0) / 1000);
}

async function latency(count: number, prefix: string): Promise<number[]> {
  const n = node!;
  const xs: number[] = [];
  for (let i = 0; i < count; i++) {
    // one write at a time: its entry is the next index (marked only while the trace is on)
    const index = commitTrace.on ? n.c.status().lastIndex + 1 : 0;
    markCommit('start', index);
    const t0 = performance.now();
    await n.store.update((tx) => tx.create('node', nodeObj(`${prefix}-${i}`)));
    xs.push(performance.now() - t0);
    markCommit('resolved', index);
  }
  return xs;
}

/** Polls until this member leads, then commits one write (the failover measure's end point). */
async function writeWhenLeader(timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  let k = 0;
  while (Date.now() < end) {
    const c = node?.consensus;
    if (c?.isLeader()) {
      try {
        await node!.store.update((tx) => tx.create('node', nodeObj(`after-${process.pid}-${k++}`)));
        return;
      } catch {
        /* not yet */
      }
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error('no leadership within the deadline');
}

async function handle(m: NodeCmd): Promise<unknown> {
  switch (m.cmd) {
    case 'init':
      node = new RaftTestNode(m.name, m.dir, m.tls, m.tuning);
      await node.listen();
      return node.addr;
    case 'bootstrap':
      await node!.fresh(1).bootstrap({ members: [{ raftId: 1, addr: node!.addr, nodeId: m.nodeId }] });
      return 1;
    case 'join': {
      const res = await requestJoin(m.via, node!.tls, node!.addr);
      await node!.fresh(res.raftId).join({ members: res.members, removed: res.removed });
      return res.raftId;
    }
    case 'status': {
      const c = node?.consensus;
      return { raftId: c?.raftId ?? 0, isLeader: !!c?.isLeader(), leader: c?.leader()?.raftId ?? 0 };
    }
    case 'throughput':
      return throughput(m.total, m.window, m.prefix);
    case 'latency':
      return latency(m.n, m.prefix);
    case 'trace': {
      const marks: [CommitMark, number, number][] = commitTrace.marks;
      commitTrace.marks = [];
      commitTrace.on = m.on;
      return marks;
    }
    case 'writeWhenLeader':
      await writeWhenLeader(m.timeoutMs);
      return true;
    case 'stop':
      await node?.stop();
      await node?.server.stop(200);
      setImmediate(() => process.exit(0));
      return true;
  }
}

process.on('message', (m: NodeCmd) => {
  handle(m).then(
    (value) => process.send!({ id: m.id, ok: true, value } satisfies NodeReply),
    (err: Error) => process.send!({ id: m.id, ok: false, err: err?.stack ?? String(err) } satisfies NodeReply),
  );
});
process.on('disconnect', () => process.exit(0));
