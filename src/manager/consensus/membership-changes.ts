// Changes to the voter set, made on the leader (docs/design/consensus.md "Membership"): joins, adding
// and removing voters, and handing leadership over. Each change is one conf entry proposed through
// the driver; the member table itself is updated when the entry applies (see ready-loop.ts).
import type { Clock, Rng } from '../../lib/ports';
import { failedPrecondition, hasReason, invalidArgument, unavailable } from '../../lib/errors';
import type { RawNode } from '../../raft';
import { encodeMember, type RaftMember } from './codec';
import { CANNOT_REMOVE_MESSAGE, NotLeaderError } from './errors';
import { keepsQuorumWithout, type Membership, type MemberStatus } from './membership';
import type { Timers } from './options';
import type { JoinResponse, RaftTransport } from './transport-types';

/** What membership changes need from the driver; getters because the driver opens its Raft state later. */
export interface MembershipChangeHost {
  selfId(): number;
  rawNode(): RawNode;
  /** Undefined until the driver is opened. */
  membership(): Membership | undefined;
  voters(): number[];
  members(): MemberStatus[];
  /** The leader from the latest soft state (0: none). */
  leader(): number;
  /** Why this member may not propose now (undefined: it may). */
  refuseProposal(): Error | undefined;
  /** Proposes through `append` and resolves once the entry is applied here. */
  proposeData(data: Uint8Array, append: (d: Uint8Array) => number): Promise<void>;
  leaderRef(raftId: number): RaftMember;
  kick(): void;
}

export interface MembershipChangeTiming {
  clock: Clock;
  timers: Timers;
  rng: Rng;
  tickMs: number;
  electionTick: number;
}

export class MembershipChanges {
  private readonly leaderWaiters = new Set<() => void>();

  constructor(
    private readonly host: MembershipChangeHost,
    private readonly transport: RaftTransport,
    private readonly timing: MembershipChangeTiming,
  ) {}

  /** Leader: a manager asks to join. Allocates a fresh raft ID and commits addNode; followers forward to the leader. */
  async handleJoin(req: { addr: string; nodeId: string }): Promise<JoinResponse> {
    const refusal = this.host.refuseProposal();
    if (refusal instanceof NotLeaderError && this.transport.forwardJoin && refusal.leader.addr) {
      return this.transport.forwardJoin(refusal.leader.addr, req);
    }
    if (refusal) throw refusal;
    const membership = this.host.membership()!;
    const existing = membership.byNodeId(req.nodeId);
    let raftId: number;
    if (existing && existing.addr === req.addr) {
      raftId = existing.raftId; // a retried join
    } else {
      if (existing) await this.removeMember(existing.raftId);
      raftId = membership.allocateId(() => this.timing.rng.next());
      await this.addMember({ raftId, addr: req.addr, nodeId: req.nodeId });
    }
    return { raftId, members: membership.list(), removed: membership.removed() };
  }

  /** Leader only: add a voter (single-step). Resolves when the change is applied here. */
  addMember(m: RaftMember): Promise<void> {
    if (this.host.membership()?.isRemoved(m.raftId)) return Promise.reject(invalidArgument(`raft: member ID ${m.raftId} was removed and cannot be reused`));
    return this.proposeConf(encodeMember(m), (context) => this.host.rawNode().proposeConfChange({ type: 'addNode', nodeId: m.raftId, context }));
  }

  /**
   * Leader only: remove a voter. Refused when the remaining reachable members would not form a quorum.
   * Removing the leader itself first hands leadership over and then fails with NotLeaderError naming
   * the new leader, which the caller retries against.
   */
  async removeMember(raftId: number): Promise<void> {
    const refusal = this.host.refuseProposal();
    if (refusal) throw refusal;
    const voters = this.host.voters();
    if (!voters.includes(raftId)) throw invalidArgument(`raft: ${raftId} is not a member`);
    if (!keepsQuorumWithout(this.host.members(), raftId)) throw failedPrecondition(CANNOT_REMOVE_MESSAGE);
    if (raftId === this.host.selfId() && voters.length > 1) {
      const to = await this.transferLeadership();
      throw new NotLeaderError(this.host.leaderRef(to));
    }
    await this.proposeConf(new Uint8Array(0), () => this.host.rawNode().proposeConfChange({ type: 'removeNode', nodeId: raftId }));
  }

  /** Leader only: hand leadership to `to` (default: the most caught-up reachable voter). Resolves with the new leader. */
  async transferLeadership(to?: number): Promise<number> {
    const refusal = this.host.refuseProposal();
    if (refusal) throw refusal;
    const self = this.host.selfId();
    const st = this.host.rawNode().status();
    let target = to ?? 0;
    if (!target) {
      let best = -1;
      for (const [id, pr] of st.progress ?? []) {
        if (id === self || !st.voters.includes(id) || !pr.recentActive) continue;
        if (pr.match > best) [best, target] = [pr.match, id];
      }
    }
    if (!target || target === self || !st.voters.includes(target)) throw failedPrecondition('raft: no member to transfer leadership to');
    this.host.rawNode().transferLeadership(target);
    this.host.kick();
    await this.waitForLeader(() => this.host.leader() !== self && this.host.leader() !== 0, this.electionTimeoutMs() * 2, 'raft: leadership transfer timed out');
    return this.host.leader();
  }

  /** The driver calls this on every leader or role change. */
  leadershipChanged(): void {
    for (const w of [...this.leaderWaiters]) w();
  }

  private electionTimeoutMs(): number {
    return this.timing.tickMs * this.timing.electionTick;
  }

  /** A conf change waits (bounded) while another one, or a new leader's first entry, is still unapplied. */
  private async proposeConf(data: Uint8Array, append: (d: Uint8Array) => number): Promise<void> {
    const { clock, timers, tickMs } = this.timing;
    const deadline = clock.now() + this.electionTimeoutMs() * 2;
    for (;;) {
      try {
        return await this.host.proposeData(data, append);
      } catch (e) {
        if (!hasReason(e, 'conf-change-pending') || clock.now() > deadline) throw e;
        await new Promise((r) => timers.setTimeout(() => r(undefined), Math.min(tickMs, 20)));
      }
    }
  }

  /** Resolves when `cond` holds after a leadership change, or rejects after `ms`. */
  private waitForLeader(cond: () => boolean, ms: number, msg: string): Promise<void> {
    if (cond()) return Promise.resolve();
    const { timers } = this.timing;
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!cond()) return;
        this.leaderWaiters.delete(check);
        timers.clearTimeout(timer);
        resolve();
      };
      const timer = timers.setTimeout(() => {
        this.leaderWaiters.delete(check);
        reject(unavailable(msg));
      }, ms);
      this.leaderWaiters.add(check);
    });
  }
}
