// The leader's membership reconciler (part of the manager's composition): keeps each manager Node's
// ManagerStatus {Leader, Reachability, Addr} and internal raft ID in step with the Raft members
// (writing only on change), and removes from Raft the members whose Node was demoted.
// A demoted leader hands leadership over first (RaftConsensus.removeMember), and the new leader
// finishes the removal.
import type { Logger } from 'pino';
import type { MemoryStore } from '../store';
import type { Node } from '../types';
import type { MemberStatus } from './consensus';

export interface RaftRolesDeps {
  store: MemoryStore;
  members: () => MemberStatus[];
  isLeader: () => boolean;
  removeMember: (raftId: number) => Promise<void>;
  intervalMs: number;
  logger: Logger;
}

export class RaftRoles {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private busy = false;
  private removing = new Map<number, number>();

  constructor(private readonly d: RaftRolesDeps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.timer = setInterval(() => void this.reconcile(), this.d.intervalMs);
    void this.reconcile();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass: ManagerStatus rows, then at most one removal. */
  async reconcile(): Promise<void> {
    if (!this.running || this.busy || !this.d.isLeader()) return;
    this.busy = true;
    try {
      const members = this.d.members();
      const byNode = new Map(members.filter((m) => m.nodeId).map((m) => [m.nodeId, m]));
      const nodes = this.d.store.read((tx) => tx.find('node'));
      const writes: Node[] = [];
      for (const n of nodes) {
        const m = byNode.get(n.ID);
        const want = m ? { Leader: m.leader, Reachability: m.reachability, Addr: m.addr } : undefined;
        const have = n.ManagerStatus;
        const same = want ? !!have && have.Leader === want.Leader && have.Reachability === want.Reachability && have.Addr === want.Addr : !have;
        const raftSame = (n.internal?.raftId ?? 0) === (m?.raftId ?? 0);
        if (same && raftSame) continue;
        writes.push(n);
      }
      if (writes.length > 0) {
        await this.d.store.update((tx) => {
          for (const w of writes) {
            const n = tx.get('node', w.ID);
            if (!n) continue;
            const m = byNode.get(n.ID);
            if (m) {
              n.ManagerStatus = { Leader: m.leader, Reachability: m.reachability, Addr: m.addr };
              n.internal = { ...(n.internal ?? {}), raftId: m.raftId };
            } else {
              delete n.ManagerStatus;
              if (n.internal) delete n.internal.raftId;
            }
            tx.update('node', n);
          }
        });
      }
      // Members whose node was demoted leave Raft (one at a time). A member whose node this store does
      // not hold yet (a new cluster's first entries, a manager joining) stays: the control API never
      // removes a manager's node while it is a member, so a missing one is only not there yet.
      const now = Date.now();
      for (const m of members) {
        const n = nodes.find((x) => x.ID === m.nodeId);
        if (!n || n.Spec.Role === 'manager') continue;
        if ((this.removing.get(m.raftId) ?? 0) > now) continue;
        this.removing.set(m.raftId, now + 2000);
        this.d.logger.info({ raftId: m.raftId, nodeId: m.nodeId }, 'removing a demoted manager from raft');
        await this.d.removeMember(m.raftId).catch((err: unknown) => this.d.logger.info({ err: (err as Error).message, raftId: m.raftId }, 'raft member removal not done yet'));
        break;
      }
    } catch (err) {
      this.d.logger.debug({ err }, 'raft roles: reconcile failed (retrying)');
    } finally {
      this.busy = false;
    }
  }
}
