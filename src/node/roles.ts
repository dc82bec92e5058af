// The swarm roles a node plays, started and stopped as one unit. Every swarm node runs the agent
// (with certificate renewal and the CA follower); a manager also runs the Manager (store + Raft)
// behind its listener on the swarm port (ManagerTransport). Which role, and when to switch, is
// decided by the membership flows (membership.ts); this file only wires and tears down.
import type { Logger } from 'pino';
import { caDigest, nodeTLSInfo } from '../manager/ca/pki';
import type { NodeCredentials, NodeSecurity } from '../manager/ca/keystore';
import { disconnectGraceMs, heartbeatPeriodMs } from '../manager/dispatcher/core/heartbeat';
import { Manager, type OpenMode } from '../manager/manager';
import type { ConsensusObserver } from '../manager/consensus';
import type { ManagerRef } from '../rpc';
import { ManagerTransport, managerRefs } from './transport';
import { RemoteDispatcherConnector } from '../agent/remote-dispatcher';
import { Agent } from '../agent/agent';
import { NodeNetwork } from '../network/node-network';
import type { Executor } from '../agent/executor/types';
import { failedPrecondition, unavailable } from '../lib/errors';
import type { Cluster, DispatcherApi, Node, Task } from '../types';
import { CertRenewer, renewThroughManagers, renewWithClusterCA } from './certs';
import { CAFollower, followStoreCA } from './ca-follow';
import { followUnlockKey } from './autolock';
import { hostOf } from './addr';
import { attachOverlay } from './overlays';
import type { DaemonConfig } from './config';
import type { SwarmState } from './state';
import { updateSwarmOnLeader } from '../manager/swarm-update';
import type { RoleRuntime } from './membership';
import { newJoinToken, systemClock, systemRng } from './system';

/** What the roles report to, and ask of, the rest of the daemon. */
export interface RoleHooks {
  /** The daemon's swarm state as it stands now (read live: membership flows replace it). */
  state(): SwarmState | undefined;
  /** A worker's session named the managers it currently knows. */
  managersSeen(managers: ManagerRef[]): void;
  /** This node's trust root or certificate changed (after the agent was reconnected): a promotion shows up here. */
  certificateChanged(): void;
  /** Raft let this manager go (demotion): the node should carry on as a worker. */
  removedFromRaft(manager: Manager): void;
  /** The node cannot go on (a manager's Raft log failed): stop the daemon cleanly. */
  fatal(err: Error): void;
  /** A manager role started: the Engine API's events follow its store from now on. */
  managerStarted(manager: Manager): void;
}

export interface NodeRolesOptions {
  cfg: DaemonConfig;
  logger: Logger;
  security: NodeSecurity;
  /** Created when the daemon starts, after the roles object. */
  executor: () => Executor;
  hooks: RoleHooks;
  /** Told Raft's latencies when this node is a manager (the daemon's metrics). */
  raftObserver?: ConsensusObserver;
}

export class NodeRoles implements RoleRuntime {
  manager: Manager | undefined;
  agent: Agent | undefined;
  transport: ManagerTransport | undefined;
  /** A worker's connection to the managers (dispatcher sessions, manager list, `Leave`). */
  connector: RemoteDispatcherConnector | undefined;
  renewer: CertRenewer | undefined;
  /** The node's network layer (routing mesh), fed by the agent's network view. */
  network: NodeNetwork | undefined;
  /** A manager's own agent's connector to the leader's dispatcher, while another manager leads. */
  private agentRemote: RemoteDispatcherConnector | undefined;
  /** Undo functions of subscriptions taken at start, run in reverse at stop. */
  private cleanups: (() => void)[] = [];

  constructor(private readonly o: NodeRolesOptions) {}

  /**
   * Starts the role `state` says (the agent, and for a manager the Manager behind its listener),
   * with certificate renewal. `open` says how a manager's Raft member comes up; without it the
   * manager replays its durable log.
   */
  async start(state: SwarmState, open?: OpenMode): Promise<void> {
    const creds = this.o.security.load();
    if (!creds) throw failedPrecondition('this node has no certificates: leave the swarm and join again');
    // Renewals replace the files; until the first one, the credentials loaded now are the current ones.
    const credentials = (): NodeCredentials => this.o.security.load() ?? creds;
    if (state.role === 'worker') await this.startWorker(state, credentials);
    else await this.startManager(state, open, creds, credentials);
  }

  /** Stops everything started. Tasks keep running in their runtime. */
  async stop(): Promise<void> {
    for (const undo of this.cleanups.reverse()) undo();
    this.cleanups = [];
    this.renewer?.stop();
    this.renewer = undefined;
    await this.agent?.stop().catch((e: unknown) => this.o.logger.warn({ err: e }, 'agent stop'));
    this.agent = undefined;
    await this.network?.close().catch((e: unknown) => this.o.logger.warn({ err: e }, 'network stop'));
    this.network = undefined;
    this.connector?.close();
    this.connector = undefined;
    this.agentRemote?.close();
    this.agentRemote = undefined;
    await this.transport?.stop().catch((e: unknown) => this.o.logger.warn({ err: e }, 'transport stop'));
    this.transport = undefined;
    await this.manager?.stop().catch((e: unknown) => this.o.logger.warn({ err: e }, 'manager stop'));
    this.manager = undefined;
  }

  /**
   * `docker swarm leave`: the dispatcher holding this node's session (a worker's manager, or the
   * leader for a manager that does not lead) marks the node down at once. Best effort.
   */
  async leaveDispatcher(): Promise<void> {
    await (this.connector ?? this.agentRemote)?.leave();
  }

  runsManager(token: object): boolean {
    return this.manager !== undefined && this.manager === token;
  }

  appliedIndex(): number {
    return this.manager?.store.index ?? 0;
  }

  /** Through the leader (the MANAGER STATUS it keeps); undefined without a manager or a leader. */
  async listNodes(): Promise<Node[] | undefined> {
    const manager = this.manager;
    if (!manager) return undefined;
    try {
      return await manager.control.listNodes({});
    } catch {
      return undefined;
    }
  }

  tasksOf(nodeId: string): Task[] {
    return this.manager?.store.view((tx) => tx.tasksByNode(nodeId)) ?? this.agent?.tasks() ?? [];
  }

  managers(): ManagerRef[] {
    return this.manager ? managerRefs(this.manager) : [];
  }

  knownRemotes(): string[] | undefined {
    return this.connector?.known();
  }

  awaitingSession(): boolean {
    return !!this.agent && !this.agent.connected;
  }

  /** A worker: the agent holds a session with one of the known managers over mTLS; renewals go through them. */
  private async startWorker(state: SwarmState, credentials: () => NodeCredentials): Promise<void> {
    const follower = this.caFollower();
    const connector = new RemoteDispatcherConnector({
      managers: state.managers?.map((m) => m.addr) ?? [],
      credentials,
      onManagers: (m) => this.o.hooks.managersSeen(m),
      onCA: (t) => follower.apply(t),
    });
    this.connector = connector;
    await this.startAgent(state, () => connector.connect());
    this.startRenewer((cur) => renewThroughManagers(cur, connector.known()));
  }

  private async startManager(state: SwarmState, open: OpenMode | undefined, creds: NodeCredentials, credentials: () => NodeCredentials): Promise<void> {
    const manager: Manager = new Manager({
      dataDir: this.o.cfg.dataDir,
      clock: systemClock,
      rng: systemRng,
      logger: this.o.logger.child({ role: 'manager' }),
      nodeId: state.nodeId,
      advertiseAddr: state.advertiseAddr,
      tls: credentials,
      raftTickMs: this.o.cfg.raftTickMs,
      onFatal: (err) => this.o.hooks.fatal(err),
      raftObserver: this.o.raftObserver,
      kek: () => this.o.security.kek,
      managers: () => {
        const live = this.o.hooks.state();
        return live ? [live.advertiseAddr] : [];
      },
      newJoinToken: (): string => {
        const c = manager.controlapi.getCluster();
        return newJoinToken(caDigest(c.internal.rootCACert));
      },
      // A node whose connection dropped (daemon killed, host gone) is marked down after a short grace
      // (1 s) without a new stream, instead of the full 3 periods + ε of missed heartbeats. An agent
      // whose manager is alive reconnects within its first backoff (≤ 100 ms), so blips never flap it.
      disconnectGraceMs: () => {
        const c = manager.store.read((tx) => tx.find('cluster'))[0];
        return disconnectGraceMs(heartbeatPeriodMs(c?.Spec?.Dispatcher?.HeartbeatPeriod));
      },
    });
    // The swarm port listens first: Raft messages (a joining manager's catch-up) arrive there.
    const transport = new ManagerTransport({
      listenAddr: state.listenAddr,
      manager,
      credentials: creds,
      clusterId: state.clusterId,
      logger: this.o.logger.child({ role: 'transport' }),
      nodeId: state.nodeId,
      localLogs: (taskId, options, signal) => {
        if (!this.agent) throw unavailable('this node has no agent');
        return this.agent.logs(taskId, options, signal);
      },
    });
    try {
      await transport.start();
    } catch (e) {
      throw unavailable(`failed to listen on remote API address: ${state.listenAddr}: ${(e as Error).message}`);
    }
    try {
      await manager.open(open ?? { kind: 'restart' });
      if (open?.kind === 'join') await manager.waitCaughtUp(60_000);
      // The root rotator writes to the store: it runs on the leader only.
      manager.onLeaderComponents((leader) => {
        if (leader) transport.rotator.start();
        else transport.rotator.stop();
        // The local agent holds its session with the leader's dispatcher: move it.
        this.agent?.reconnect();
      });
      await manager.start();
      if (!manager.isLeader()) transport.rotator.stop();
    } catch (e) {
      await transport.stop().catch(() => undefined);
      await manager.stop().catch(() => undefined);
      throw e;
    }
    this.manager = manager;
    this.o.hooks.managerStarted(manager);
    this.transport = transport;
    manager.handleSwarmUpdates((version, spec, rotate) => updateSwarmOnLeader(manager.controlapi, transport.rotator, version, spec, rotate));
    manager.onRemoved(() => this.o.hooks.removedFromRaft(manager));
    this.cleanups.push(this.o.security.onChange((c) => this.transport?.updateCredentials(c)));
    await this.startAgent(state, () => this.managerAgentDispatcher(manager, credentials), 1000);
    this.startRenewer((cur) => renewWithClusterCA(cur, manager));
    this.cleanups.push(followStoreCA(manager, state.nodeId, this.caFollower()));
    this.cleanups.push(followUnlockKey(manager, this.o.security, this.o.logger.child({ role: 'autolock' })));
  }

  private async startAgent(state: SwarmState, dispatcher: () => DispatcherApi, backoffMaxMs?: number): Promise<void> {
    const network = new NodeNetwork(this.o.logger.child({ role: 'network' }), { meshBindHost: this.o.cfg.meshListenAddr, meshNft: this.o.cfg.meshNft, dnsListen: this.o.cfg.dnsListenAddr, dnsUpstreams: this.o.cfg.dnsUpstreams });
    this.network = network;
    const executor = this.o.executor();
    attachOverlay(network, executor, hostOf(state.advertiseAddr), state.nodeId, this.o.logger.child({ role: 'network' }));
    this.agent = new Agent({
      onNetworkView: (view) => network.apply(view),
      dataDir: this.o.cfg.dataDir,
      executor,
      nodeId: state.nodeId,
      addr: hostOf(state.advertiseAddr),
      dispatcher,
      clock: systemClock,
      logger: this.o.logger.child({ role: 'agent' }),
      tlsInfo: () => this.ownTLSInfo(),
      backoffMaxMs,
      ...(this.o.cfg.meshDrainMs !== undefined ? { drainDelayMs: this.o.cfg.meshDrainMs } : {}),
    });
    await this.agent.start();
  }

  private startRenewer(renew: (cur: NodeCredentials) => Promise<NodeCredentials>): void {
    this.renewer = new CertRenewer({ security: this.o.security, logger: this.o.logger.child({ role: 'ca' }), renew });
    this.renewer.start();
  }

  /** The manager's own agent: the in-process dispatcher while this manager leads, else the leader's over mTLS. */
  private managerAgentDispatcher(manager: Manager, credentials: () => NodeCredentials): DispatcherApi {
    this.agentRemote?.close();
    this.agentRemote = undefined;
    const leader = manager.leaderAddr();
    if (manager.isLeader() || !leader || leader === this.o.hooks.state()?.advertiseAddr) return manager.dispatcher;
    const remote = new RemoteDispatcherConnector({ managers: [leader], credentials });
    this.agentRemote = remote;
    return remote.connect();
  }

  /** Follows the cluster CA's wishes (trust root, issuer, role) for this node; see ca-follow.ts. */
  private caFollower(): CAFollower {
    return new CAFollower({
      security: this.o.security,
      renewer: () => this.renewer,
      changed: () => {
        this.agent?.reconnect();
        this.o.hooks.certificateChanged();
      },
      logger: this.o.logger.child({ role: 'ca' }),
    });
  }

  /** This node's TLS facts as its description reports them (issuer of its certificate, trust root). */
  private async ownTLSInfo(): Promise<Cluster['TLSInfo'] | undefined> {
    const c = this.o.security.load();
    return c ? nodeTLSInfo(c.certPem, c.caPem) : undefined;
  }
}
