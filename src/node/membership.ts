// Swarm membership: the thin loop that drives the role machine (core/roles-machine.ts). The machine
// decides — which role runs, how `swarm init` / `join` / `leave` / `unlock`, promotion and demotion
// move the node between roles, and when swarm.json changes; this loop performs what it asks (roles
// started and stopped through `RoleRuntime`, certificates through NodeSecurity), feeds the outcome
// back, and writes swarm.json at one point (`enter`). Flows never interleave: every event waits for
// the one before it.
import type { Logger } from 'pino';
import { createRootCA, caDigest, issueNodeKeyAndCertificate, certInfo, tlsInfoOf } from '../manager/ca/pki';
import { joinCluster } from '../manager/ca/join';
import type { NodeCredentials, NodeSecurity } from '../manager/ca/keystore';
import { ingressNetwork, initialSwarmSpec } from '../manager/controlapi';
import type { OpenMode } from '../manager/manager';
import { DekLockedError } from '../manager/consensus';
import { RpcError, type ManagerRef } from '../rpc';
import type { Executor } from '../agent/executor/types';
import type { DaemonFacts, InitRequest, JoinRequest } from '../api/backend';
import { ShoalError, internal, invalidArgument } from '../lib/errors';
import { nextUnlockKey, parseHumanUnlockKey, UNLOCK_KEY_BYTES } from '../lib/unlock-key';
import { newId } from '../lib/ids';
import { isoTime } from '../lib/time';
import { validateInitRequest, validateJoinRequest, type Cluster, type Node, type Task } from '../types';
import { isInterfaceName, parseAddr, swarmAddrs, type SwarmAddrs } from './addr';
import type { DaemonConfig } from './config';
import { removeOverlays } from './overlays';
import { clearManagerData, clearSwarmState, loadSwarmState, saveSwarmState, type SwarmState } from './state';
import { newJoinToken, systemClock, systemRng } from './system';
import {
  initialRoleMachine,
  invalidUnlockKey,
  managerStats,
  transition,
  type InitPlan,
  type RaftStart,
  type RoleEffect,
  type RoleEvent,
  type RoleMachine,
  type RolePhase,
  type RoleTransition,
} from './core/roles-machine';

export {
  ALREADY_IN_SWARM,
  NOT_IN_SWARM,
  SWARM_LOCKED,
  LEAVE_LOCKED,
  INVALID_UNLOCK_KEY,
  NOT_LOCKED,
  leaveManagerRefusal,
  type ManagerStats,
} from './core/roles-machine';

/**
 * What role switching needs from the roles this node runs (roles.ts implements it): start and stop
 * them, and a few facts from the running manager and agent — never the manager or agent themselves.
 */
export interface RoleRuntime {
  /** Starts the role `state` names; `open` says how a manager's Raft member comes up (default: replay its log). */
  start(state: SwarmState, open?: OpenMode): Promise<void>;
  /** Stops everything started. Tasks keep running in their runtime. */
  stop(): Promise<void>;
  /** Best effort: the dispatcher holding this node's session marks it down at once. */
  leaveDispatcher(): Promise<void>;
  /** Whether `token` (what `removedFromRaft` reported) is the manager running now. */
  runsManager(token: object): boolean;
  /** The running manager's applied index (0 without one). */
  appliedIndex(): number;
  /** The nodes as the leader lists them; undefined without a manager or a leader. */
  listNodes(): Promise<Node[] | undefined>;
  /** This node's tasks: from the manager's store, else the agent's assigned set. */
  tasksOf(nodeId: string): Task[];
  /** The managers the running manager's store knows. */
  managers(): ManagerRef[];
  /** The managers a worker's sessions named, while it runs. */
  knownRemotes(): string[] | undefined;
  /** The agent has no session yet. */
  awaitingSession(): boolean;
}

export interface MembershipOptions {
  cfg: DaemonConfig;
  facts: DaemonFacts;
  logger: Logger;
  security: NodeSecurity;
  roles: RoleRuntime;
  /** Created when the daemon starts, after this object. */
  executor: () => Executor;
}

/** The driver's own material of an init plan (the machine carries it without looking). */
interface InitMaterial {
  credentials: NodeCredentials;
  open: OpenMode;
  unlockKey?: Buffer;
}

/** More steps than any flow takes (promotion: two per known manager): a machine that loops is a bug, not a wait. */
const MAX_STEPS = 1000;

export class SwarmMembership {
  private machine: RoleMachine = initialRoleMachine();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: MembershipOptions) {}

  /** This node's place in its swarm; undefined while it is in none. */
  get state(): SwarmState | undefined {
    return this.machine.swarm;
  }

  get phase(): RolePhase {
    return this.machine.phase;
  }

  /**
   * Autolock: this manager's key and DEK are sealed under the unlock key and none was given since the
   * daemon started. No role runs (as in Docker, the whole node waits) until `unlock()`.
   */
  get locked(): boolean {
    return this.machine.phase === 'locked';
  }

  private get dataDir(): string {
    return this.o.cfg.dataDir;
  }

  /** Daemon start: a node that was in a swarm takes up its role again (a manager replays its log), unless it is locked. */
  async resume(): Promise<void> {
    await this.send(() => ({ on: 'resume', saved: loadSwarmState(this.dataDir), sealed: this.o.security.keyIsSealed() && !this.o.security.kek }));
  }

  /** `docker swarm unlock`: the unlock key opens the node key (and with it the DEK); the roles start. */
  async unlock(key: string): Promise<void> {
    await this.send({ on: 'unlock', key });
  }

  /** `docker swarm init`: this node becomes the first manager of a new cluster (or, with --force-new-cluster, the only one). Returns its node ID. */
  async init(req: InitRequest): Promise<string> {
    return (await this.send({ on: 'init', forceNewCluster: !!req.ForceNewCluster, req })) as string;
  }

  /**
   * `docker swarm join --token T ADDR`: pin the manager's CA by the token's digest, trade a CSR +
   * the token for a certificate, persist it with the swarm state, then run the role the token gave.
   */
  async join(req: JoinRequest & { Availability?: string }): Promise<void> {
    await this.send({ on: 'join', req });
  }

  /**
   * `docker swarm leave [--force]`: the roles stop, this node's tasks are removed, its swarm files
   * deleted. As in Docker, a manager stays a Raft member: the others show it Down / Unreachable, it
   * still counts in the quorum, and only `docker node demote` then `docker node rm` take it out.
   */
  async leave(force: boolean): Promise<void> {
    await this.send({ on: 'leave', force });
  }

  /** Removed from Raft (demotion) while still in the swarm: carry on as a worker of the remaining managers. */
  demote(manager: object): Promise<void> {
    return this.send(() => (this.o.roles.runsManager(manager) ? { on: 'removedFromRaft' } : undefined)).then(() => undefined);
  }

  /** This node's certificate changed: one that now says manager promotes a worker. */
  promoteIfCertified(): void {
    void this.send(() => {
      const c = this.o.security.load();
      return c ? { on: 'certificate', role: certInfo(c.certPem).role === 'manager' ? 'manager' : 'worker' } : undefined;
    });
  }

  /** A worker keeps the managers its sessions name, so a restart finds the swarm's current ones. */
  rememberManagers(m: ManagerRef[]): void {
    void this.send({ on: 'managersSeen', managers: m });
  }

  /** Queues an event (or one read when its turn comes; undefined: nothing to do) and drives the machine through its flow. */
  private send(event: RoleEvent | (() => RoleEvent | undefined)): Promise<unknown> {
    const run = () => {
      const e = typeof event === 'function' ? event() : event;
      return e ? this.drive(e) : Promise.resolve(undefined);
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async drive(first: RoleEvent): Promise<unknown> {
    let event = first;
    for (let steps = 0; steps < MAX_STEPS; steps++) {
      const t = transition(this.machine, event);
      this.enter(t);
      if (t.settle) {
        for (const effect of t.effects) await this.perform(effect);
        if ('error' in t.settle) throw t.settle.error;
        return t.settle.ok;
      }
      try {
        let value: unknown;
        for (const effect of t.effects) value = await this.perform(effect);
        event = { on: 'done', value };
      } catch (error) {
        event = { on: 'failed', error };
      }
    }
    throw internal(`role machine: no end after ${MAX_STEPS} steps (${this.machine.phase})`);
  }

  /** The one point where the machine's state is taken over, and swarm.json written or erased. */
  private enter(t: RoleTransition): void {
    this.machine = t.machine;
    if (t.persist === 'write' && t.machine.swarm) saveSwarmState(this.dataDir, t.machine.swarm);
    else if (t.persist === 'erase') clearSwarmState(this.dataDir);
  }

  private async perform(e: RoleEffect): Promise<unknown> {
    const { roles, security, logger } = this.o;
    switch (e.do) {
      case 'prepareInit': {
        const req = e.req as InitRequest;
        validateInitRequest(req, isInterfaceName);
        return firstClusterObjects(req, swarmAddrs(req, this.o.cfg.defaultAdvertiseAddr), this.o.facts);
      }
      case 'installCredentials': {
        const m = e.plan.material as InitMaterial;
        // autolock from the start: the node key (and the manager's DEK) are sealed before they are first written
        if (m.unlockKey) await security.setKek(m.unlockKey);
        security.save(m.credentials);
        return undefined;
      }
      case 'enroll':
        return this.enroll(e.req as JoinRequest & { Availability?: string });
      case 'openKey':
        if (!security.unlock(Buffer.from(parseHumanUnlockKey(e.key)))) throw invalidUnlockKey();
        return undefined;
      case 'startRoles':
        try {
          return await roles.start(e.swarm, openMode(e.raft));
        } catch (err) {
          // the node key opened but the DEK did not (a crash between re-sealing the two): the key is not this node's
          if (e.lockedMeansBadKey && err instanceof DekLockedError) throw invalidUnlockKey();
          throw err;
        }
      case 'stopRoles':
        return roles.stop();
      case 'firstSession':
        // As Docker, init and join answer once the node is ready: its agent's first session is up, so the
        // node's object no longer changes behind a client that reads it next (bounded wait).
        for (let i = 0; i < 100 && roles.awaitingSession(); i++) await new Promise((r) => setTimeout(r, 50));
        return undefined;
      case 'managerStats': {
        const nodes = await roles.listNodes().catch(() => undefined);
        return nodes && managerStats(nodes, this.machine.swarm?.nodeId ?? '');
      }
      case 'appliedIndex':
        return roles.appliedIndex();
      case 'tasksHere':
        return roles.tasksOf(this.machine.swarm?.nodeId ?? '');
      case 'leaveDispatcher':
        return roles.leaveDispatcher().catch((err: unknown) => logger.warn({ err }, 'leave: could not tell the manager'));
      case 'removeTasks':
        // Leaving removes this node's tasks from its runtime, as Docker does.
        return removeTasks(this.o.executor(), e.tasks as Task[]);
      case 'removeOverlays':
        return removeOverlays(this.o.executor(), logger);
      case 'otherManagers':
        return roles.managers().filter((m) => m.nodeId !== this.machine.swarm?.nodeId);
      case 'knownRemotes':
        return roles.knownRemotes() ?? (this.machine.swarm?.managers ?? []).map((m) => m.addr);
      case 'clearManagerData':
        return clearManagerData(this.dataDir);
      case 'plainKey':
        return security.setKek(undefined);
      case 'log':
        return logger[e.level](e.fields, e.msg);
    }
  }

  /** `swarm join`'s certificate: validated request, CSR + token → certificate and key on disk, the state to run. */
  private async enroll(req: JoinRequest & { Availability?: string }): Promise<{ state: SwarmState; remote: string }> {
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
    return { state, remote: managerAddr };
  }
}

/** The manager's open mode for the machine's Raft start (none: replay the durable log). */
function openMode(raft: RaftStart | undefined): OpenMode | undefined {
  if (!raft) return undefined;
  if (raft.kind === 'init') return (raft.plan.material as InitMaterial).open;
  return raft;
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
async function firstClusterObjects(req: InitRequest, addrs: SwarmAddrs, facts: DaemonFacts): Promise<InitPlan> {
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
  const material: InitMaterial = {
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
  return { state: { nodeId, clusterId, role: 'manager', advertiseAddr: addrs.advertiseAddr, listenAddr: addrs.listenAddr }, material };
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
