// One randomized simulation run per seed: a chaos phase (loss, duplication, delay/reordering,
// partitions, crash-restart at any point of the Ready cycle, membership changes, transfers, reads,
// compaction) with invariants checked on every step, then a healed phase that must elect a leader
// and commit within a bounded virtual time.

import { SeededRng } from '../../src/lib/ports';
import { ShoalError } from '../../src/lib/errors';
import { Cluster, defaultClusterOptions, type ClusterOptions, type CrashPoint } from './cluster';

export interface SimParams {
  seed: number;
  /** Ticks of chaos. */
  ticks: number;
  /** Ticks allowed after healing to elect a leader and commit an entry on every live voter. */
  livenessTicks: number;
  /** Ticks allowed after healing until a leader is followed by a majority. */
  electionTicksBound: number;
  voters: number;
  membership: boolean;
  cluster: ClusterOptions;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  error?: string;
  trace: string[];
  stats: { committed: number; leaders: number; delivered: number; snapshots: number; confChanges: number; reads: number };
  params: SimParams;
}

/** Derive the run's shape from the seed, so a seed alone replays it. */
export function paramsForSeed(seed: number, overrides: Partial<SimParams> = {}): SimParams {
  const r = new SeededRng((seed ^ 0x5eed) >>> 0);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r.next() * xs.length)];
  const c = defaultClusterOptions();
  c.preVote = r.next() < 0.75;
  c.checkQuorum = r.next() < 0.75;
  c.maxInflightMsgs = pick([1, 2, 4, 16, 64]);
  c.maxEntriesPerMsg = pick([1, 2, 4, 16]);
  c.compactEvery = pick([0, 3, 8, 20]);
  c.keepTail = pick([0, 1, 4]);
  c.drop = pick([0, 0.02, 0.05, 0.15]);
  c.dup = pick([0, 0.02, 0.1]);
  c.maxDelay = pick([5, 15, 30]);
  c.longDelayP = pick([0, 0.01, 0.05]);
  c.longDelayMax = 200;
  return {
    seed,
    ticks: 400,
    livenessTicks: 600,
    electionTicksBound: 200, // 20 election timeouts: split votes without pre-vote can take ~15 (seed 20182)
    voters: pick([3, 3, 4, 5, 5, 7]),
    membership: r.next() < 0.6,
    cluster: c,
    ...overrides,
  };
}

export function simulate(p: SimParams): SimResult {
  const initial = Array.from({ length: p.voters }, (_, i) => i + 1);
  const cl = new Cluster(p.cluster, p.seed, initial);
  const r = new SeededRng((p.seed * 2654435761) >>> 0);
  const stats = { committed: 0, leaders: 0, delivered: 0, snapshots: 0, confChanges: 0, reads: 0 };
  let nextId = p.voters + 1;
  let seq = 0;
  const retireAt = new Map<number, number>();
  let prevVoters = initial;
  cl.checker.onConfCommitted = (index, voters) => {
    stats.confChanges++;
    cl.log(`conf committed @${index}: voters ${voters.join(',')}`);
    for (const id of prevVoters) {
      // A removed member: its driver shuts it down soon after (or once it applied its removal).
      if (!voters.includes(id)) retireAt.set(id, cl.now + 30 * p.cluster.tickUnits);
    }
    prevVoters = voters;
  };
  const chance = (x: number): boolean => r.next() < x;
  const pick = <T>(xs: T[]): T | undefined => (xs.length ? xs[Math.floor(r.next() * xs.length)] : undefined);
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  const tolerate = (fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof ShoalError) || (e.kind !== 'Unavailable' && e.kind !== 'InvalidArgument')) throw e;
    }
  };

  const tickAll = (): void => {
    for (const n of [...cl.nodes.values()]) if (n.rn) cl.tick(n.id);
    for (const [id, at] of retireAt) {
      if (cl.now >= at || cl.nodes.get(id)?.removedSelf) {
        retireAt.delete(id);
        cl.retire(id);
      }
    }
  };

  const proposeOnLeader = (tag: string, on?: number): number | undefined => {
    const lead = on ?? pick(cl.leaders());
    if (lead === undefined) return undefined;
    let idx: number | undefined;
    tolerate(() => {
      idx = cl.call(lead, (rn) => rn.propose(enc(`${tag}-${p.seed}-${seq++}`)));
    });
    return idx;
  };

  const chaosEvents = (): void => {
    const live = cl.liveIds();
    const members = cl.checker.voters;
    if (chance(0.5)) proposeOnLeader('p');
    if (chance(0.1)) {
      const id = pick(live);
      if (id !== undefined) {
        const ctx = enc(`r${seq++}`);
        cl.nodes.get(id)?.reads.set(Buffer.from(ctx).toString('hex'), cl.checker.maxCommitted);
        cl.call(id, (rn) => rn.readIndex(ctx));
        stats.reads++;
      }
    }
    const crashed = [...cl.nodes.values()].filter((n) => !n.rn && !n.retired);
    if (chance(0.012) && crashed.length < Math.ceil(members.length / 2)) {
      const id = pick(live);
      if (id !== undefined) {
        const point = pick<CrashPoint | undefined>([undefined, undefined, 'beforePersist', 'afterPersist', 'afterSend']);
        cl.crash(id, point);
      }
    }
    for (const n of crashed) if (chance(0.04)) cl.restart(n.id);
    if (chance(0.01)) {
      const ids = [...cl.nodes.keys()];
      const a = ids.filter(() => chance(0.5));
      const b = ids.filter((id) => !a.includes(id));
      cl.net.partition([a, b]);
      cl.log(`partition ${a.join(',')} | ${b.join(',')}`);
    } else if (cl.net.isPartitioned() && chance(0.04)) {
      cl.net.heal();
      cl.log('heal');
    }
    if (p.membership && chance(0.02)) {
      const lead = pick(cl.leaders());
      if (lead !== undefined) {
        const voters = cl.nodes.get(lead)?.rn?.raft.confState().voters ?? [];
        const add = voters.length < 7 && (voters.length <= 3 || chance(0.5));
        if (add) {
          const id = nextId++;
          tolerate(() => {
            cl.call(lead, (rn) => rn.proposeConfChange({ type: 'addNode', nodeId: id }));
            cl.log(`propose add ${id} on ${lead}`);
            cl.createNode(id);
          });
        } else {
          const victim = pick(voters);
          if (victim !== undefined) {
            tolerate(() => {
              cl.call(lead, (rn) => rn.proposeConfChange({ type: 'removeNode', nodeId: victim }));
              cl.log(`propose remove ${victim} on ${lead}`);
            });
          }
        }
      }
    }
    if (chance(0.01)) {
      const lead = pick(cl.leaders());
      const to = pick(members);
      if (lead !== undefined && to !== undefined) {
        cl.log(`transfer ${lead} -> ${to}`);
        cl.call(lead, (rn) => rn.transferLeadership(to));
      }
    }
  };

  const runTick = (events: boolean): void => {
    const end = cl.now + p.cluster.tickUnits;
    while (cl.now < end) {
      cl.deliverDue();
      cl.now++;
    }
    cl.deliverDue();
    tickAll();
    if (events) chaosEvents();
  };

  try {
    for (const id of initial) cl.createNode(id, { peers: initial });
    for (let t = 0; t < p.ticks; t++) runTick(true);

    // Heal: no partitions, no loss, every non-retired node back up.
    cl.log('--- heal ---');
    cl.net.heal();
    cl.opts.drop = 0;
    cl.opts.longDelayP = 0;
    let leaderAfter = -1;
    for (const n of cl.nodes.values()) {
      n.crashPoint = undefined;
      if (!n.rn && !n.retired) cl.restart(n.id);
    }
    let marker: number | undefined;
    let markerTerm = 0;
    let markerAt = 0;
    let done = false;
    for (let t = 0; t < p.livenessTicks && !done; t++) {
      runTick(false);
      const lead = cl.stableLeader();
      if (lead !== undefined && leaderAfter < 0) leaderAfter = t;
      if (leaderAfter < 0 && t >= p.electionTicksBound) {
        cl.checker.fail(`liveness: no leader followed by a majority within ${p.electionTicksBound} ticks of healing`);
      }
      const term = lead !== undefined ? cl.nodes.get(lead)?.rn?.raft.term ?? 0 : 0;
      if (lead !== undefined && (marker === undefined || term !== markerTerm || t - markerAt > 50)) {
        // (Re)propose on the leader a majority follows; an earlier attempt may have been dropped or lost.
        marker = proposeOnLeader('marker', lead) ?? marker;
        markerTerm = term;
        markerAt = t;
      }
      if (marker !== undefined) {
        const m = marker;
        const voters = cl.checker.voters;
        done = voters.every((v) => {
          const n = cl.nodes.get(v);
          return !!n && !n.retired && n.applied >= m;
        });
      }
    }
    if (!done) {
      const st = [...cl.nodes.values()].map((n) => {
        const r = n.rn?.raft;
        return `${n.id}:${n.retired ? 'retired' : r ? `${r.role}/t${r.term}/lead${r.lead}/c${r.log.committed}/a${n.applied}` : 'down'}`;
      });
      cl.checker.fail(`liveness: no leader committing on every voter within ${p.livenessTicks} ticks of healing (voters ${cl.checker.voters.join(',')}; ${st.join(' ')})`);
    }
    stats.committed = cl.checker.maxCommitted;
    stats.leaders = cl.checker.leaders.size;
    stats.delivered = cl.delivered;
    stats.snapshots = cl.trace.filter((l) => l.includes('snapshot-installed')).length;
    return { seed: p.seed, ok: true, trace: cl.trace, stats, params: p };
  } catch (e) {
    const err = e as Error;
    return { seed: p.seed, ok: false, error: err.stack ?? String(err), trace: cl.trace, stats, params: p };
  }
}

export function formatFailure(res: SimResult, tail = 200): string {
  const p = res.params;
  const lines = [
    `raft sim FAILED seed=${res.seed}`,
    `replay: node dist/test/sim/run.js --seed ${res.seed} --trace`,
    `params: voters=${p.voters} membership=${p.membership} ticks=${p.ticks} ${JSON.stringify(p.cluster)}`,
    `error: ${res.error}`,
    `last ${Math.min(tail, res.trace.length)} of ${res.trace.length} steps:`,
    ...res.trace.slice(-tail),
  ];
  return lines.join('\n');
}
