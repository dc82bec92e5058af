// Swarm membership: how this node enters a swarm, changes role in it and leaves it — `swarm init`
// (a new cluster's root CA and first objects), `swarm join` (a certificate from the managers),
// `swarm init --force-new-cluster`, `swarm leave`, promotion and demotion — and what it keeps of
// that on disk (swarm.json through state.ts, certificates/ through NodeSecurity). Running the
// roles themselves is roles.ts's business; these flows decide which role runs.
import type { Logger } from 'pino';
import { createRootCA, caDigest, issueNodeKeyAndCertificate, certInfo, tlsInfoOf } from '../manager/ca/pki';
import { joinCluster } from '../manager/ca/join';
import type { NodeCredentials, NodeSecurity } from '../manager/ca/keystore';
import { ingressNetwork, initialSwarmSpec } from '../manager/controlapi';
import type { Manager, OpenMode } from '../manager/manager';
import { DekLockedError } from '../manager/consensus';
import { RpcError, type ManagerRef } from '../rpc';
import type { Executor } from '../agent/executor/types';
import type { DaemonFacts, InitRequest, JoinRequest } from '../api/backend';
import { ShoalError, conflict, invalidArgument, permissionDenied, unavailable, NOT_A_MANAGER_WORKER_MESSAGE } from '../lib/errors';
import { nextUnlockKey, parseHumanUnlockKey, UNLOCK_KEY_BYTES } from '../lib/unlock-key';
import { newId } from '../lib/ids';
import { isoTime } from '../lib/time';
import { validateInitRequest, validateJoinRequest, type Cluster, type Node, type Task } from '../types';
import { isInterfaceName, parseAddr, swarmAddrs, type SwarmAddrs } from './addr';
import type { DaemonConfig } from './config';
import { removeOverlays } from './overlays';
import type { NodeRoles } from './roles';
import { clearManagerData, clearSwarmState, loadSwarmState, saveSwarmState, type SwarmState } from './state';
import { managerRefs } from './transport';
import { newJoinToken, systemClock, systemRng } from './system';

export const ALREADY_IN_SWARM = 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';
/** Docker's answer to `swarm leave` (and `swarm inspect`) off any swarm (moby's errNoSwarm, 503). */
export const NOT_IN_SWARM = 'This node is not part of a swarm';
/** moby's errSwarmLocked (503): every swarm call on a locked manager. */
export const SWARM_LOCKED = 'Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.';
/** moby's refusal of `swarm leave` without --force on a locked manager. */
export const LEAVE_LOCKED = 'Swarm is encrypted and locked. Please unlock it first or use `--force` to ignore this message.';
/** moby's invalidUnlockKey (401 Unauthorized). */
export const INVALID_UNLOCK_KEY = 'swarm could not be unlocked: invalid key provided';
/** moby's notLockedError (409). */
export const NOT_LOCKED = 'swarm is not locked';

/** How the managers stand as `docker swarm leave` on one of them sees it (moby's managerStats). */
export interface ManagerStats {
  /** This manager is among the reachable ones. */
  current: boolean;
  reachable: number;
  unreachable: number;
}

/**
 * moby's refusal of `docker swarm leave` without `--force` on a manager (daemon/cluster Leave): the
 * last-manager and quorum-loss warnings, or the general one when the managers cannot be counted.
 */
export function leaveManagerRefusal(stats: ManagerStats | undefined): string {
  let msg = 'You are attempting to leave the swarm on a node that is participating as a manager. ';
  if (stats?.current && stats.reachable - 2 <= stats.unreachable) {
    if (stats.reachable === 1 && stats.unreachable === 0) {
      return msg + 'Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. ';
    }
    msg += `Removing this node leaves ${stats.reachable - 1} managers out of ${stats.reachable + stats.unreachable}. Without a Raft quorum your swarm will be inaccessible. `;
  }
  return msg + 'The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.';
}

/** Counts the managers by MANAGER STATUS through the leader; undefined when it cannot (no leader), as moby then warns in general. */
async function managerStats(manager: Manager, self: string): Promise<ManagerStats | undefined> {
  try {
    const nodes = await manager.control.listNodes({});
    const stats: ManagerStats = { current: false, reachable: 0, unreachable: 0 };
    for (const n of nodes) {
      if (n.ManagerStatus?.Reachability === 'reachable') {
        stats.reachable++;
        if (n.ID === self) stats.current = true;
      } else if (n.ManagerStatus?.Reachability === 'unreachable') stats.unreachable++;
    }
    return stats;
  } catch {
    return undefined;
  }
}

export interface MembershipOptions {
  cfg: DaemonConfig;
  facts: DaemonFacts;
  logger: Logger;
  security: NodeSecurity;
  roles: NodeRoles;
  /** Created when the daemon starts, after this object. */
  executor: () => Executor;
}

export class SwarmMembership {
  /** This node's place in its swarm; undefined while it is in none. */
  state: SwarmState | undefined;
  private flow: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: MembershipOptions) {}

  private get dataDir(): string {
    return this.o.cfg.dataDir;
  }

  /**
   * Autolock: this manager's key and DEK are sealed under the unlock key and none was given since the
   * daemon started. No role runs (as in Docker, the whole node waits) until `unlock()`.
   */
  locked = false;

  /** Daemon start: a node that was in a swarm takes up its role again (a manager replays its log), unless it is locked. */
  async resume(): Promise<void> {
    this.state = loadSwarmState(this.dataDir);
    if (!this.state) return;
    if (this.o.security.keyIsSealed() && !this.o.security.kek) {
      this.locked = true;
      this.o.logger.info({}, 'swarm is locked: waiting for docker swarm unlock');
      return;
    }
    await this.o.roles.start(this.state);
  }

  /** `docker swarm unlock`: the unlock key opens the node key (and with it the DEK); the roles start. */
  unlock(keyText: string): Promise<void> {
    return this.exclusive(async () => {
      const st = this.state;
      if (!st) throw unavailable(NOT_IN_SWARM);
      if (!this.locked) {
        if (!this.o.roles.manager) throw unavailable(NOT_A_MANAGER_WORKER_MESSAGE);
        throw conflict(NOT_LOCKED);
      }
      const kek = Buffer.from(parseHumanUnlockKey(keyText));
      if (!this.o.security.unlock(kek)) throw Object.assign(permissionDenied(INVALID_UNLOCK_KEY), { httpStatus: 401 });
      this.locked = false;
      try {
        await this.o.roles.start(st);
      } catch (e) {
        await this.o.roles.stop();
        this.locked = true;
        // the node key opened but the DEK did not (a crash between re-sealing the two): the key is not this node's
        if (e instanceof DekLockedError) throw Object.assign(permissionDenied(INVALID_UNLOCK_KEY), { httpStatus: 401 });
        throw e;
      }
      this.o.logger.info({}, 'swarm unlocked');
    });
  }

  /** Serializes the flows (init, join, leave, promotion, demotion) so two can never interleave. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.flow.then(fn, fn);
    this.flow = p.catch(() => undefined);
    return p;
  }

  /** `docker swarm init`: this node becomes the first manager of a new cluster. Returns its node ID. */
  init(req: InitRequest): Promise<string> {
    return this.exclusive(async () => {
      if (this.state && req.ForceNewCluster && this.state.role === 'manager') return this.forceNewCluster(this.state);
      if (this.state) throw unavailable(ALREADY_IN_SWARM);
      validateInitRequest(req, isInterfaceName);
      const first = await firstClusterObjects(req, swarmAddrs(req, this.o.cfg.defaultAdvertiseAddr), this.o.facts);
      // autolock from the start: the node key (and the manager's DEK) are sealed before they are first written
      if (first.unlockKey) await this.o.security.setKek(first.unlockKey);
      this.o.security.save(first.credentials);
      try {
        await this.o.roles.start(first.state, first.open);
      } catch (e) {
        await this.o.roles.stop();
        this.forget();
        throw e;
      }
      // Saved only once the roles run: a failed init leaves no swarm behind.
      saveSwarmState(this.dataDir, first.state);
      this.state = first.state;
      await this.firstSession();
      return first.state.nodeId;
    });
  }

  /**
   * `docker swarm join --token T ADDR`: pin the manager's CA by the token's digest, trade a CSR +
   * the token for a certificate, persist it with the swarm state, then run the role the token gave.
   */
  join(req: JoinRequest & { Availability?: string }): Promise<void> {
    return this.exclusive(async () => {
      if (this.state) throw unavailable(ALREADY_IN_SWARM);
      validateJoinRequest(req, isInterfaceName);
      const remote = req.RemoteAddrs?.[0];
      if (!remote) throw invalidArgument('at least 1 RemoteAddr is required to join');
      const r = parseAddr(remote, 2377);
      const managerAddr = `${r.host}:${r.port}`;
      const addrs = swarmAddrs(req, this.o.cfg.defaultAdvertiseAddr);
      let res;
      try {
        res = await joinCluster({ address: managerAddr, token: req.JoinToken, hostname: this.o.cfg.hostname, addr: addrs.advertiseHost, availability: req.Availability });
      } catch (e) {
        // Docker shows the manager's refusal as the gRPC text ("rpc error: code = … desc = …").
        if (e instanceof RpcError) throw new ShoalError(e.kind, e.rpcText);
        throw e;
      }
      this.o.security.save({ keyPem: res.keyPem, certPem: res.certPem, caPem: res.caPem });
      const state: SwarmState = {
        nodeId: res.nodeId,
        clusterId: res.clusterId,
        role: res.role,
        advertiseAddr: addrs.advertiseAddr,
        listenAddr: addrs.listenAddr,
        managers: [{ nodeId: '', addr: managerAddr }],
      };
      if (res.role === 'manager') {
        try {
          await this.joinRaft(state, managerAddr);
        } catch (e) {
          this.forget();
          throw e;
        }
        return;
      }
      saveSwarmState(this.dataDir, state);
      this.state = state;
      await this.o.roles.start(state);
      await this.firstSession();
    });
  }

  /**
   * As Docker, init and join answer once the node is ready: its agent's first session is up, so the
   * node's object no longer changes behind a client that reads it next (bounded wait).
   */
  private async firstSession(): Promise<void> {
    for (let i = 0; i < 100 && this.o.roles.agent && !this.o.roles.agent.connected; i++) await new Promise((r) => setTimeout(r, 50));
  }

  /**
   * `docker swarm leave [--force]`: the roles stop, this node's tasks are removed, its swarm files
   * deleted. As in Docker, a manager stays a Raft member: the others show it Down / Unreachable, it
   * still counts in the quorum, and only `docker node demote` then `docker node rm` take it out.
   */
  leave(force: boolean): Promise<void> {
    return this.exclusive(async () => {
      const st = this.state;
      if (!st) throw unavailable(NOT_IN_SWARM);
      if (this.locked && !force) throw unavailable(LEAVE_LOCKED);
      const { manager, agent } = this.o.roles;
      if (st.role === 'manager' && !force) throw unavailable(leaveManagerRefusal(manager ? await managerStats(manager, st.nodeId) : undefined));
      // Leaving removes this node's tasks from its runtime, as Docker does.
      const mine = manager?.store.view((tx) => tx.tasksByNode(st.nodeId)) ?? agent?.tasks() ?? [];
      // The dispatcher holding our session marks the node down now rather than after its heartbeats expire.
      await this.o.roles.leaveDispatcher().catch((e: unknown) => this.o.logger.warn({ err: e }, 'leave: could not tell the manager'));
      await this.o.roles.stop();
      await removeTasks(this.o.executor(), mine);
      await removeOverlays(this.o.executor(), this.o.logger);
      this.forget();
    });
  }

  /** Removed from Raft (demotion) while still in the swarm: carry on as a worker of the remaining managers. */
  demote(manager: Manager): Promise<void> {
    return this.exclusive(async () => {
      const st = this.state;
      if (!st || st.role !== 'manager' || this.o.roles.manager !== manager) return;
      const managers = managerRefs(manager).filter((m) => m.nodeId !== st.nodeId);
      this.o.logger.info({ managers }, 'removed from raft: continuing as a worker');
      await this.o.roles.stop();
      clearManagerData(this.dataDir);
      // workers are never locked: the node key goes back to plain
      await this.o.security.setKek(undefined);
      st.role = 'worker';
      st.managers = managers;
      saveSwarmState(this.dataDir, st);
      await this.o.roles.start(st);
    });
  }

  /** A worker whose certificate now says manager (promotion) joins Raft and runs the manager role. */
  promoteIfCertified(): void {
    const st = this.state;
    const c = this.o.security.load();
    if (!st || st.role !== 'worker' || !c || certInfo(c.certPem).role !== 'manager') return;
    void this.exclusive(async () => {
      const cur = this.state;
      if (!cur || cur.role !== 'worker') return;
      const remotes = this.o.roles.connector?.known() ?? (cur.managers ?? []).map((m) => m.addr);
      this.o.logger.info({ remotes }, 'promoted: joining raft as a manager');
      await this.o.roles.stop();
      let last: unknown;
      for (const remote of remotes) {
        try {
          await this.joinRaft(cur, remote);
          return;
        } catch (e) {
          last = e;
        }
      }
      this.o.logger.warn({ err: last }, 'promotion failed: staying a worker');
      this.state = cur;
      await this.o.roles.start(cur);
    });
  }

  /** A worker keeps the managers its sessions name, so a restart finds the swarm's current ones. */
  rememberManagers(m: ManagerRef[]): void {
    const st = this.state;
    if (!st || st.role !== 'worker') return;
    if (JSON.stringify(st.managers) === JSON.stringify(m)) return;
    st.managers = m;
    saveSwarmState(this.dataDir, st);
  }

  /** `swarm init --force-new-cluster` on a manager: restart its Raft member as the only voter, keeping the state. */
  private async forceNewCluster(st: SwarmState): Promise<string> {
    const appliedIndex = this.o.roles.manager?.store.index ?? 0;
    await this.o.roles.stop();
    await this.o.roles.start(st, { kind: 'force-new-cluster', appliedIndex });
    return st.nodeId;
  }

  /**
   * Runs this node as a manager joining Raft through `remote` (any manager: followers forward to the
   * leader), then catching up. The state is saved once Raft has taken the node in; on failure the
   * roles are stopped again and the caller decides what is left.
   */
  private async joinRaft(base: SwarmState, remote: string): Promise<void> {
    // Only workers keep a manager list (a manager learns the others from its store).
    const { managers: _workerOnly, ...rest } = base;
    const state: SwarmState = { ...rest, role: 'manager' };
    this.state = state;
    try {
      await this.o.roles.start(state, { kind: 'join', remote });
    } catch (e) {
      await this.o.roles.stop();
      throw e;
    }
    saveSwarmState(this.dataDir, state);
  }

  /** Out of the swarm: nothing in memory, nothing on disk. */
  private forget(): void {
    clearSwarmState(this.dataDir);
    this.state = undefined;
  }
}

/** Shuts down and removes tasks from the runtime (a leaving node takes its tasks with it). */
async function removeTasks(executor: Executor, tasks: Task[]): Promise<void> {
  await Promise.all(
    tasks.map(async (t) => {
      const c = executor.controller(t);
      await c.shutdown(Math.min(10_000, (t.Spec.ContainerSpec?.StopGracePeriod ?? 10e9) / 1e6)).catch(() => undefined);
      await c.remove().catch(() => undefined);
    }),
  );
}

/**
 * What `swarm init` creates: a root CA, the cluster object (join tokens pinned to that CA), this
 * node as the first manager with its certificate, and the state to remember once the roles run.
 */
async function firstClusterObjects(
  req: InitRequest,
  addrs: SwarmAddrs,
  facts: DaemonFacts,
): Promise<{ state: SwarmState; credentials: NodeCredentials; open: OpenMode; unlockKey?: Buffer }> {
  const nodeId = newId(systemRng);
  const clusterId = newId(systemRng);
  const now = systemClock.now();
  const ca = await createRootCA({ now });
  const digest = caDigest(ca.certPem);
  const token = () => newJoinToken(digest);
  const spec = initialSwarmSpec(req.Spec);
  const unlockKey = nextUnlockKey(undefined, spec.EncryptionConfig.AutoLockManagers, false, () => systemRng.bytes(UNLOCK_KEY_BYTES));
  const nodeCert = await issueNodeKeyAndCertificate(ca, nodeId, 'manager', clusterId, { now });
  const ts = isoTime(now);
  const cluster: Cluster = {
    ID: clusterId,
    Version: { Index: 0 },
    CreatedAt: ts,
    UpdatedAt: ts,
    Spec: spec,
    JoinTokens: { Worker: token(), Manager: token() },
    // Subject and public key of the root as base64 DER, the way Docker prints them in `docker info`.
    TLSInfo: tlsInfoOf(ca.certPem),
    RootRotationInProgress: false,
    DefaultAddrPool: req.DefaultAddrPool?.length ? req.DefaultAddrPool : ['10.0.0.0/8'],
    SubnetSize: req.SubnetSize || 24,
    DataPathPort: req.DataPathPort || 4789,
    internal: { rootCACert: ca.certPem, rootCAKey: ca.keyPem, ...(unlockKey ? { unlockKey } : {}) },
  };
  const node = firstManagerNode(nodeId, addrs, ts, cluster.TLSInfo, facts);
  const ingress = ingressNetwork({ id: newId(systemRng), now: ts, pools: cluster.DefaultAddrPool, subnetSize: cluster.SubnetSize });
  return {
    state: { nodeId, clusterId, role: 'manager', advertiseAddr: addrs.advertiseAddr, listenAddr: addrs.listenAddr },
    credentials: { keyPem: nodeCert.keyPem, certPem: nodeCert.certPem, caPem: ca.certPem },
    ...(unlockKey ? { unlockKey: Buffer.from(unlockKey, 'base64') } : {}),
    open: {
      kind: 'init',
      spec,
      changes: [
        { action: 'create', kind: 'cluster', object: cluster },
        { action: 'create', kind: 'node', object: node },
        { action: 'create', kind: 'network', object: ingress },
      ],
    },
  };
}

/** The Node object of a new cluster's first manager (this daemon), before its agent fills in the runtime's facts. */
function firstManagerNode(nodeId: string, addrs: SwarmAddrs, ts: string, tls: Cluster['TLSInfo'], facts: DaemonFacts): Node {
  return {
    ID: nodeId,
    Version: { Index: 0 },
    CreatedAt: ts,
    UpdatedAt: ts,
    Spec: { Labels: {}, Role: 'manager', Availability: 'active' },
    Description: {
      Hostname: facts.hostname,
      Platform: { Architecture: facts.arch, OS: 'linux' },
      Resources: { NanoCPUs: facts.ncpu * 1e9, MemoryBytes: facts.memTotal },
      Engine: { EngineVersion: facts.version },
      TLSInfo: tls,
    },
    Status: { State: 'ready', Addr: addrs.advertiseHost },
    ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: addrs.advertiseAddr },
  };
}
