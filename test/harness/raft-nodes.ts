// In-process Raft managers for tests and the bench: each with its own MemoryStore, Raft log directory and
// a real mutual-TLS gRPC server on 127.0.0.1 (ephemeral port) serving shoal.Raft.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemoryStore } from '../../src/store';
import type { Node } from '../../src/types';
import { nodeFixture } from '../../src/testing/fixtures';
import { waitFor } from '../../src/testing/wait';
import { createRpcServer, type RpcServer, type TlsMaterial } from '../../src/rpc';
import { createRootCA, issueNodeKeyAndCertificate } from '../../src/manager/ca/pki';
import { GrpcRaftTransport, RaftConsensus, RaftService, raftServiceHandlers, requestJoin, type RaftConsensusOptions } from '../../src/manager/consensus';

/** `keys: null` (plain text at rest) and `fsync: false` exist only for bench/raft.ts's baselines. */
export type Tuning = Pick<RaftConsensusOptions, 'tickMs' | 'electionTick' | 'heartbeatTick' | 'snapshotInterval' | 'keepEntries' | 'keys' | 'fsync'>;

export class RaftTestNode {
  consensus: RaftConsensus | undefined;
  store!: MemoryStore;
  server!: RpcServer;
  addr = '';
  constructor(
    readonly name: string,
    readonly dir: string,
    readonly tls: TlsMaterial,
    readonly tuning: Tuning,
  ) {}

  async listen(): Promise<void> {
    this.server = createRpcServer({ address: '127.0.0.1:0', ...this.tls });
    this.server.addService(RaftService, raftServiceHandlers(() => this.consensus));
    const port = await this.server.start();
    this.addr = `127.0.0.1:${port}`;
  }

  /** A fresh store + consensus object (not started). */
  fresh(raftId?: number): RaftConsensus {
    this.store = new MemoryStore({ propose: () => Promise.reject(new Error('unset')) });
    const c = new RaftConsensus({
      dir: this.dir,
      raftId,
      store: this.store,
      transport: new GrpcRaftTransport({ tls: this.tls, sendTimeoutMs: 2000, retryBackoffMs: 50 }),
      ...this.tuning,
    });
    this.store.setProposer(c);
    this.consensus = c;
    return c;
  }

  get c(): RaftConsensus {
    if (!this.consensus) throw new Error(`${this.name} is down`);
    return this.consensus;
  }

  async stop(): Promise<void> {
    const c = this.consensus;
    this.consensus = undefined;
    await c?.stop();
  }

  /** kill -9: the object is dropped without flushing or closing anything. */
  crash(): void {
    const c = this.consensus;
    this.consensus = undefined;
    c?.crash();
  }

  async restart(): Promise<void> {
    await this.fresh().restart();
  }

  nodes(): string[] {
    return this.store.view((tx) => tx.find('node').map((n) => n.ID)).sort();
  }
}

export class RaftTestCluster {
  readonly nodes: RaftTestNode[] = [];
  private root = '';
  private ca!: { certPem: string; keyPem: string };
  private seq = 0;
  constructor(readonly tuning: Tuning) {}

  async init(): Promise<void> {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-raft-'));
    this.ca = await createRootCA();
  }

  async newNode(): Promise<RaftTestNode> {
    const name = `m${++this.seq}`;
    const kc = await issueNodeKeyAndCertificate(this.ca, `node-${name}`, 'manager', 'cluster-test');
    const n = new RaftTestNode(name, path.join(this.root, name), { ...kc, caPem: this.ca.certPem }, this.tuning);
    await n.listen();
    this.nodes.push(n);
    return n;
  }

  /** swarm init on a new node. */
  async bootstrap(): Promise<RaftTestNode> {
    const n = await this.newNode();
    await n.fresh(1).bootstrap({ members: [{ raftId: 1, addr: n.addr, nodeId: `node-${n.name}` }] });
    return n;
  }

  /** swarm join --token <manager> via `via` (any manager). */
  async join(via: RaftTestNode): Promise<RaftTestNode> {
    const n = await this.newNode();
    const res = await requestJoin(via.addr, n.tls, n.addr);
    await n.fresh(res.raftId).join({ members: res.members, removed: res.removed });
    return n;
  }

  up(): RaftTestNode[] {
    return this.nodes.filter((n) => n.consensus);
  }

  leader(): RaftTestNode | undefined {
    const ls = this.up().filter((n) => n.c.isLeader());
    return ls.length === 1 ? ls[0] : undefined;
  }

  async waitLeader(timeoutMs = 20_000): Promise<RaftTestNode> {
    let l: RaftTestNode | undefined;
    await waitUntil(() => {
      l = this.leader();
      return !!l && this.up().every((n) => n.c.leader()?.raftId === l!.c.raftId);
    }, timeoutMs, 'a leader known to every running member');
    return l!;
  }

  async destroy(): Promise<void> {
    for (const n of this.nodes) {
      await n.stop().catch(() => undefined);
      await n.server.stop(200);
    }
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

export async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  await waitFor(what, cond, timeoutMs, 10);
}

export const nodeObj = (id: string): Node => nodeFixture({ ID: id });
