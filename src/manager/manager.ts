import path from 'node:path';
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Clock, Rng } from '../lib/ports';
import { noLeader, ShoalError, unavailable } from '../lib/errors';
import { MemoryStore, type Change } from '../store';
import type { Node, SwarmSpec } from '../types';
import { ControlApi, NetworkControl, SecretControl } from './controlapi';
import { forwardCall, forwardRegisterNode, type ControlCaller } from './controlapi/service';
import { controlClient, localControl, runForwarded, type ControlClient, type ControlOperation, type ControlRequest, type ControlResponse, type LocalControl } from './controlapi/contract';
import { GrpcRaftTransport, NotLeaderError, keepsQuorumWithout, RaftConsensus, retryableControlError, RaftDiskStorage, requestJoin, RaftDekFile, RAFT_DEK_FILE, type ConsensusObserver, type MemberStatus, type RaftConsensusOptions } from './consensus';
import { CERT_DIR } from './ca/keystore';
import { Allocator } from './allocator';
import { ConstraintEnforcer, GlobalOrchestrator, JobsOrchestrator, ReplicatedOrchestrator, RestartSupervisor, TaskReaper } from './orchestrator';
import { Scheduler } from './scheduler';
import { Dispatcher, type DispatcherOptions } from './dispatcher/dispatcher';
import { UpdateSupervisor } from './updater/updater';
import { RaftRoles } from './raft-roles';
import { startInTurns, type LeaderComponent } from './store-loop';
import type { RpcClient } from '../rpc';
import { ManagerChannels } from './manager-channels';
import { writeFileDurableSync } from '../sys/durable-file';
import { forEachGuarded, LoopGuard, runInBackground } from '../sys/loop-guard';

/** Raft timing and log settings (Docker's defaults: tick 1 s, heartbeat 1 tick, election 10 ticks, snapshot every 10 000 entries, 500 kept). */
export type RaftSettings = Pick<RaftConsensusOptions, 'tickMs' | 'electionTick' | 'heartbeatTick' | 'snapshotInterval' | 'keepEntries' | 'keepOldSnapshots'>;

export interface ManagerTls {
  certPem: string;
  keyPem: string;
  caPem: string;
}

export interface ManagerDeps {
  dataDir: string;
  clock: Clock;
  rng: Rng;
  logger: Logger;
  nodeId: string;
  /** This manager's swarm address (host:port), as other managers reach it. */
  advertiseAddr: string;
  /** This node's current TLS material (read at every new connection, so renewals apply). */
  tls: () => ManagerTls;
  /** Tick length (the daemon's --raft-tick-ms; Docker: 1000). The other Raft settings come from the cluster spec. */
  raftTickMs?: number;
  newJoinToken: (role: 'worker' | 'manager') => string;
  /** Manager addresses agents may reconnect to. */
  managers: () => string[];
  /** Passed to the dispatcher: how long a node whose connection dropped may take to reconnect before it is marked down. */
  disconnectGraceMs?: DispatcherOptions['disconnectGraceMs'];
  /** This manager cannot go on (its Raft log failed): the daemon should stop cleanly. */
  onFatal?: (err: Error) => void;
  /** Told Raft's proposal and snapshot latencies (the daemon's metrics). */
  raftObserver?: ConsensusObserver;
  /** The unlock key (KEK) when autolock is on: the DEK file is sealed under it. */
  kek?: () => Buffer | undefined;
}

/** How the manager's Raft member comes up. */
export type OpenMode =
  | { kind: 'init'; changes: Change[]; spec?: SwarmSpec }
  | { kind: 'join'; remote: string }
  | { kind: 'restart' }
  /** `appliedIndex`: what this manager had applied before (hence committed), when it was running. */
  | { kind: 'force-new-cluster'; appliedIndex?: number };

/** How long a forwarded control call may take on the leader. */
const FORWARD_TIMEOUT_MS = 60_000;

/** `v` when it is a positive number, else the default `d`. */
const positive = (v: unknown, d: number): number => (typeof v === 'number' && v > 0 ? v : d);

/**
 * Composition root of the manager role: the store replicated by Raft, the control API (executed on
 * the leader; other managers forward), the dispatcher and the leader's components, which run only
 * while this manager leads. It only wires; each component owns its loop and talks to the others
 * through the store.
 */
export class Manager {
  readonly store: MemoryStore;
  readonly controlapi: ControlApi;
  readonly networks: NetworkControl;
  readonly secrets: SecretControl;
  readonly dispatcher: Dispatcher;
  consensus!: RaftConsensus;
  readonly raftDir: string;
  private readonly components: LeaderComponent[];
  private readonly roles: RaftRoles;
  /** The leader's implementation of the control-API contract (controlapi/contract.ts). */
  private readonly local: LocalControl;
  /** The control API as callers use it: run on the leader, here or forwarded over shoal.Control. */
  readonly control: ControlClient;
  /** The leader's side of updateSwarm (CA checks and the root rotator), set once the node wires them. */
  private swarmUpdate: LocalControl['updateSwarm'] | undefined;
  private leaderChain: Promise<void> = Promise.resolve();
  private leading = false;
  private closed = false;
  private unsubscribe: (() => void)[] = [];
  /** Kept connected to every other manager; the leader's carries forwarded operations and relayed calls. */
  private readonly channels: ManagerChannels;
  private readonly leaderListeners = new Set<(isLeader: boolean) => void>();
  private settingsWatch: ReturnType<MemoryStore['watch']> | null = null;

  constructor(private readonly deps: ManagerDeps) {
    const dir = path.join(deps.dataDir, 'manager');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.raftDir = path.join(dir, 'raft');
    // readers of store watches react once a commit's turn has run its microtasks (WakeScheduler)
    this.store = new MemoryStore({ propose: () => Promise.reject(unavailable('manager not open')) }, { wakeReadersAfter: setImmediate });
    const { clock, rng, logger } = deps;
    const store = this.store;
    this.channels = new ManagerChannels({ tls: deps.tls, peers: () => this.members().flatMap((m) => (m.self || !m.addr ? [] : [m.addr])) });
    const onError = (component: string) => (err: unknown) => logger.warn({ err, component }, 'component error (retrying)');
    this.controlapi = new ControlApi({ store, clock, rng, newJoinToken: deps.newJoinToken, raftMembers: () => this.consensus?.members().length ?? 1,
      canRemoveManager: (nodeId) => {
        const members = this.consensus?.members() ?? [];
        const m = members.find((x) => x.nodeId === nodeId);
        return !m || keepsQuorumWithout(members, m.raftId);
      },
    });
    this.networks = new NetworkControl({ store, clock, rng });
    this.secrets = new SecretControl({ store, clock, rng });
    this.dispatcher = new Dispatcher({ store, clock, logger: logger.child({ component: 'dispatcher' }),
      managers: deps.managers,
      disconnectGraceMs: deps.disconnectGraceMs,
      refusal: () => this.dispatcherRefusal(),
    });
    // Start-up order, in turns (startInTurns: requests and Raft messages are read between first passes):
    // task producers, the scheduler, the dispatcher, then what no session waits for (update supervisor,
    // constraint enforcer, task reaper: 500 ms of first passes at 100,000 tasks). The dispatcher first (as
    // swarmkit starts it) let 1,000 sessions and their 100,000 re-sent statuses compete with the first passes:
    // the first write after a failover came at 2.2–2.9 s against 1.3 s, the sessions no sooner. A session
    // that comes before the dispatcher runs is told to come back soon (dispatcherRefusal).
    this.components = [
      new Allocator({ store, clock, onError: onError('allocator') }),
      new ReplicatedOrchestrator({ store, clock, rng, onError: onError('replicated-orchestrator'), logger: logger.child({ component: 'replicated-orchestrator' }) }),
      new GlobalOrchestrator({ store, clock, rng, onError: onError('global-orchestrator'), logger: logger.child({ component: 'global-orchestrator' }) }),
      new JobsOrchestrator({ store, clock, rng, onError: onError('jobs-orchestrator'), logger: logger.child({ component: 'jobs-orchestrator' }) }),
      new RestartSupervisor({ store, clock, rng, onError: onError('restart-supervisor') }),
      new Scheduler({ store, clock, onError: onError('scheduler') }),
      this.dispatcher,
      new UpdateSupervisor({ store, clock, rng, logger: logger.child({ component: 'updater' }) }),
      new ConstraintEnforcer({ store, clock, rng, onError: onError('constraint-enforcer') }),
      new TaskReaper({ store, clock, rng, onError: onError('task-reaper') }),
    ];
    this.roles = new RaftRoles({
      store,
      members: () => this.consensus.members(),
      isLeader: () => this.isLeader(),
      removeMember: (id) => this.consensus.removeMember(id),
      intervalMs: Math.min(1000, Math.max(50, deps.raftTickMs ?? 1000)),
      logger: logger.child({ component: 'raft-roles' }),
    });
    this.local = localControl({
      controlapi: this.controlapi,
      networks: this.networks,
      secrets: this.secrets,
      updateSwarm: (version, spec, rotate) => {
        if (!this.swarmUpdate) throw unavailable('control: this manager is not ready to update the swarm yet');
        return this.swarmUpdate(version, spec, rotate);
      },
    });
    this.control = controlClient((op, args, local) => this.onLeader(() => local(this.local), (leader) => forwardCall(leader, op, args, FORWARD_TIMEOUT_MS)));
  }

  /** Where the Raft settings of the cluster spec are kept for the next start (the spec lives in the replicated store). */
  private get settingsFile(): string {
    return path.join(this.deps.dataDir, 'manager', 'raft-settings.json');
  }

  /** The Raft tick: the daemon's flag, not the cluster spec (so no need to read the settings file for it on every write). */
  private get tickMs(): number {
    return positive(this.deps.raftTickMs, 1000);
  }

  private settings(spec?: SwarmSpec): RaftSettings {
    let r: Partial<SwarmSpec['Raft']> | undefined = spec?.Raft;
    if (!r) {
      try {
        r = JSON.parse(fs.readFileSync(this.settingsFile, 'utf8')) as SwarmSpec['Raft'];
      } catch {
        r = undefined;
      }
    }
    return {
      tickMs: this.tickMs,
      electionTick: positive(r?.ElectionTick, 10),
      heartbeatTick: positive(r?.HeartbeatTick, 1),
      snapshotInterval: positive(r?.SnapshotInterval, 10_000),
      keepEntries: positive(r?.LogEntriesForSlowFollowers, 500),
      keepOldSnapshots: typeof r?.KeepOldSnapshots === 'number' && r.KeepOldSnapshots > 0 ? r.KeepOldSnapshots : 0,
    };
  }

  /** Brings up this manager's Raft member (bootstrap, join, restart or force-new-cluster) and the store with it. */
  async open(mode: OpenMode): Promise<void> {
    const s = this.settings(mode.kind === 'init' ? mode.spec : undefined);
    const tls = this.deps.tls;
    const transport = new GrpcRaftTransport({
      // Getters: every new channel uses the node's current certificate.
      tls: {
        get certPem() {
          return tls().certPem;
        },
        get keyPem() {
          return tls().keyPem;
        },
        get caPem() {
          return tls().caPem;
        },
      },
      logger: this.deps.logger.child({ component: 'raft-transport' }),
    });
    const log = this.deps.logger.child({ component: 'raft' });
    const hasState = RaftConsensus.hasState(this.raftDir);
    if ((mode.kind === 'init' || mode.kind === 'join') && hasState) fs.rmSync(this.raftDir, { recursive: true, force: true });
    let raftId: number | undefined;
    let join: Awaited<ReturnType<typeof requestJoin>> | undefined;
    if (mode.kind === 'init') raftId = 1 + Math.floor(this.deps.rng.next() * 0xffffffffffff);
    if (mode.kind === 'join') {
      join = await requestJoin(mode.remote, tls(), this.deps.advertiseAddr, 60_000);
      raftId = join.raftId;
    }
    if ((mode.kind === 'restart' || mode.kind === 'force-new-cluster') && !hasState) throw unavailable('this manager has no raft state to restart from: leave the swarm and join again');
    fs.mkdirSync(this.raftDir, { recursive: true, mode: 0o700 });
    this.consensus = new RaftConsensus({ dir: this.raftDir, raftId, store: this.store, transport, logger: log, onFatal: this.deps.onFatal, observer: this.deps.raftObserver, keys: this.dek, ...s });
    this.store.setProposer(this.consensus);
    this.unsubscribe.push(this.consensus.onLeadershipChange((leader) => this.leadershipChanged(leader)));
    if (mode.kind === 'init') {
      await this.consensus.bootstrap({ members: [{ raftId: raftId!, addr: this.deps.advertiseAddr, nodeId: this.deps.nodeId }] });
      await this.waitLeader(10_000);
      const node = mode.changes.find((c) => c.kind === 'node');
      if (node && node.action !== 'delete') (node.object as { internal?: { raftId?: number } }).internal = { raftId };
      await this.store.update((tx) => {
        for (const c of mode.changes) if (c.action === 'create') tx.create(c.kind, c.object as never);
      });
    } else if (mode.kind === 'join') {
      await this.consensus.join({ members: join!.members, removed: join!.removed });
    } else if (mode.kind === 'restart') {
      await this.consensus.restart();
    } else {
      await this.recordApplied(mode.appliedIndex ?? 0);
      await this.consensus.forceNewCluster();
      await this.waitLeader(10_000);
    }
  }

  /**
   * The driver keeps the uncommitted tail out of a forced cluster by the commit index on disk. A clean
   * `consensus.stop()` saves it, but the stop before a force-new-cluster is best effort (its errors are
   * only logged, and a member stopped by a storage error saves nothing), so the saved commit may still
   * lag behind what was applied. An index this manager has applied was committed: raise the saved
   * commit to it first, so no committed write is dropped.
   */
  private async recordApplied(applied: number): Promise<void> {
    if (applied <= 0) return;
    const disk = new RaftDiskStorage(this.raftDir, this.dek);
    try {
      const st = disk.load();
      const last = st.entries.length ? st.entries[st.entries.length - 1]!.index : (st.snapshot?.metadata.index ?? 0);
      const commit = Math.min(applied, last);
      if (commit > st.hardState.commit) await disk.persist({ entries: [], hardState: { ...st.hardState, commit } });
    } finally {
      await disk.close();
    }
  }

  private dekFile: RaftDekFile | undefined;

  /** The Raft DEK, beside the node's TLS key (opened once; DekLockedError when sealed and no unlock key is held). */
  get dek(): RaftDekFile {
    this.dekFile ??= RaftDekFile.open(path.join(this.deps.dataDir, CERT_DIR, RAFT_DEK_FILE), this.deps.kek?.());
    return this.dekFile;
  }

  private async waitLeader(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.consensus.isLeader()) {
      if (Date.now() > deadline) throw unavailable('raft: this manager did not become the leader');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Resolves once the store holds the cluster object (a joining manager has caught up), bounded. */
  async waitCaughtUp(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.store.read((tx) => tx.find('cluster')).length === 0) {
      if (Date.now() > deadline) throw unavailable('raft: this manager did not catch up with the leader');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Starts following leadership: the leader components run only while this manager leads. */
  async start(): Promise<void> {
    this.channels.start();
    this.watchSettings();
    this.leadershipChanged(this.consensus.isLeader());
    await this.leaderChain;
  }

  private leadershipChanged(leader: boolean): void {
    // The dispatcher's sessions end the moment leadership is lost, not after the chain below has
    // stopped the other components: until then every write of this dispatcher would fail, and its
    // agents must be told at once where the new leader is (the dispatcher's refusal names it).
    if (!leader) runInBackground('dispatcher stop', this.dispatcher.stop(), this.deps.logger);
    this.leaderChain = this.leaderChain.then(async () => {
      const want = leader && this.consensus.isLeader() && !this.closed;
      if (want === this.leading) return;
      const log = this.deps.logger;
      // Components read the store: not before it shows every entry the log holds before their writes.
      // (Checked every tick, 600 ticks at most: a leader that cannot commit steps down long before.)
      if (want && !(await this.consensus.waitLeaderCaughtUp(this.tickMs, 600))) {
        log.warn({}, 'became the raft leader but lost it before applying the log it holds: the leader components stay stopped');
        return;
      }
      this.leading = want;
      if (want) {
        log.info({}, 'became the raft leader: starting the leader components');
        await startInTurns(this.components);
        this.roles.start();
      } else {
        log.info({}, 'not the raft leader: stopping the leader components');
        this.roles.stop();
        for (const c of [...this.components].reverse()) await Promise.resolve(c.stop()).catch((err: unknown) => log.warn({ err }, 'component stop'));
      }
      for (const cb of this.leaderListeners) cb(want);
    });
    this.leaderChain = this.leaderChain.catch((err: unknown) => this.deps.logger.error({ err }, 'leadership change failed'));
  }

  /**
   * Follows the cluster spec's Raft section: the snapshot settings apply at once (as in Docker); the
   * tick settings, like Docker's, only when the member starts, so the section is kept on disk for it.
   */
  private watchSettings(): void {
    const write = () => {
      const c = this.store.read((tx) => tx.find('cluster'))[0];
      if (!c?.Spec?.Raft) return;
      const r = c.Spec.Raft;
      this.consensus?.setSnapshotPolicy({ snapshotInterval: r.SnapshotInterval, keepEntries: r.LogEntriesForSlowFollowers, keepOldSnapshots: r.KeepOldSnapshots });
      const text = JSON.stringify(c.Spec.Raft);
      let cur = '';
      try {
        cur = fs.readFileSync(this.settingsFile, 'utf8');
      } catch {
        /* none yet */
      }
      if (cur !== text) writeFileDurableSync(this.settingsFile, text, { mode: 0o600 });
    };
    const w = (this.settingsWatch = this.store.watch({ kinds: ['cluster'] }));
    const guard = new LoopGuard({ name: 'raft settings', log: this.deps.logger });
    runInBackground(
      'raft settings',
      (async () => {
        await guard.step(write);
        await forEachGuarded(w, () => (w.drain(), write()), guard);
      })(),
      this.deps.logger,
    );
  }

  isLeader(): boolean {
    return !this.closed && !!this.consensus && this.consensus.isLeader();
  }

  /** The leader's swarm address, when one is known. */
  leaderAddr(): string | undefined {
    const l = this.consensus?.leader();
    return l?.addr || undefined;
  }

  members(): MemberStatus[] {
    return this.consensus?.members() ?? [];
  }

  /**
   * What agents are told by this manager's dispatcher while it does not run: the leader's address
   * when one is known (they go there next), else that no leader is known (they retry soon).
   */
  dispatcherRefusal(): ShoalError {
    // A new leader starts its dispatcher after its other components' first passes: a session that comes
    // meanwhile is told to come back here soon, not left to back off as from a dead manager (up to 5 s
    // a try, which spread 1,000 nodes' return over 20 s after a failover).
    if (this.isLeader()) return new ShoalError('Unavailable', 'dispatcher: this manager just became the leader; its dispatcher is starting', 'leader-starting', this.deps.advertiseAddr);
    // a leader that is shutting down still names itself: no hint then
    const leader = this.leaderAddr() === this.deps.advertiseAddr ? undefined : this.leaderAddr();
    return leader
      ? new ShoalError('Unavailable', `dispatcher: this manager is not the leader; the leader is at ${leader}`, 'not-leader', leader)
      : new ShoalError('Unavailable', 'dispatcher: this manager is not the leader and no leader is known', 'no-leader');
  }

  /** Called with true/false whenever the leader components start/stop here. */
  onLeaderComponents(cb: (isLeader: boolean) => void): () => void {
    this.leaderListeners.add(cb);
    return () => this.leaderListeners.delete(cb);
  }

  onRemoved(cb: () => void): () => void {
    return this.consensus.onRemoved(cb);
  }

  /** The leader's side of updateSwarm: the node wires its CA checks and root rotator here. */
  handleSwarmUpdates(fn: LocalControl['updateSwarm']): void {
    this.swarmUpdate = fn;
  }

  /** Writes a joining node's object (NodeCA's registration) on the leader: here, or forwarded (RegisterNode). */
  registerNode(node: Node): Promise<void> {
    return this.onLeader(
      () => this.createNodeHere(node),
      async (leader) => ({ result: undefined, index: (await forwardRegisterNode(leader, node, FORWARD_TIMEOUT_MS)).index }),
    );
  }

  /** shoal.Control Call on the leader: an operation of the contract a follower forwarded (checked by the service). */
  serveForwarded<K extends ControlOperation>(op: K, args: ControlRequest<K>, caller: ControlCaller): Promise<ControlResponse<K>> {
    this.deps.logger.debug({ op, forwardedBy: caller.nodeId, role: caller.role }, 'forwarded control call');
    return this.runHere(() => runForwarded(this.local, op, args));
  }

  /** shoal.Control RegisterNode on the leader. */
  serveRegisterNode(node: Node, caller: ControlCaller): Promise<void> {
    this.deps.logger.debug({ nodeId: node.ID, forwardedBy: caller.nodeId }, 'forwarded node registration');
    return this.runHere(() => this.createNodeHere(node));
  }

  private async createNodeHere(node: Node): Promise<void> {
    await this.store.update((tx) => tx.create('node', node));
  }

  /**
   * Runs `fn` only while this manager leads, once it has applied the log it holds (a write that read the
   * store earlier could contradict an entry before it: RaftConsensus.leaderCaughtUp); refuses with
   * NotLeaderError / no leader otherwise, before anything reached the log (the caller may retry).
   */
  private async runHere<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.consensus.isLeader() && (await this.consensus.waitLeaderCaughtUp(this.tickMs, 10))) return fn();
    const l = this.consensus.isLeader() ? undefined : this.consensus.leader();
    if (!l) throw noLeader();
    throw new NotLeaderError(l);
  }

  /**
   * Runs a control operation on the leader: `here` when this manager leads, else `there` over
   * shoal.Control, after which this manager waits (bounded) until it has applied what the leader had,
   * so what it then serves from its own store (`docker info`, events) already shows the write; past
   * the bound the result stands. Without a leader: Docker's "The swarm does not have a leader" error.
   * A leadership change during the call is retried a few times (bounded), but only while the write
   * certainly did not reach the log (retryableControlError, by the error's reason code): never twice.
   */
  private async onLeader<T>(here: () => T | Promise<T>, there: (leader: RpcClient) => Promise<{ result: T; index?: number }>): Promise<T> {
    const deadline = Date.now() + 3 * this.tickMs + 1000;
    for (let attempt = 0; ; attempt++) {
      try {
        if (this.consensus.isLeader()) return await this.runHere(here);
        const { result, index } = await there(this.leaderChannel());
        if (index) await this.consensus?.waitApplied(index, 2000).catch(() => undefined);
        return result;
      } catch (e) {
        if (!retryableControlError(e) || Date.now() > deadline || attempt > 40) throw e;
        // at most 100 ms between tries: a new leader is usually known within a second, and a longer
        // (growing) wait only delayed the first write after it
        await new Promise((r) => setTimeout(r, Math.min(100, 50 + 25 * attempt)));
      }
    }
  }

  /**
   * The channel to the current leader that forwarded operations and streams (task logs) ride, kept
   * connected before it led (manager-channels.ts). Without a leader: Docker's "The swarm does not have a
   * leader" error.
   */
  leaderChannel(): RpcClient {
    const addr = this.leaderAddr();
    if (!addr) throw noLeader();
    return this.channels.get(addr);
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.settingsWatch?.close();
    this.leadershipChanged(false);
    await this.leaderChain;
    for (const u of this.unsubscribe) u();
    this.channels.close();
    await this.consensus?.stop();
  }

  /** kill -9 stand-in for tests: nothing flushed. */
  crash(): void {
    this.closed = true;
    this.consensus?.crash();
  }
}
