import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import '../manager/ca/reflect-shim';
import { createRootCA, caDigest, issueNodeKeyAndCertificate, createKeyAndCSR, issueNodeCertificate, certInfo, nodeTLSInfo, tlsInfoOf as caTLSInfo } from '../manager/ca/pki';
import { caTarget, signingMaterial, withChain } from '../manager/ca/rotation';
import { CAFollower } from './ca-follow';
import { joinCluster, renewCertificate } from '../manager/ca/join';
import { NodeSecurity, type NodeCredentials } from '../manager/ca/keystore';
import { RpcError, setTestFaultFile } from '../rpc';
import { RemoteDispatcherConnector } from '../agent/remote-dispatcher';
import { heartbeatPeriodMs } from '../manager/dispatcher/core/heartbeat';
import { ManagerTransport, managerRefs } from './transport';
import { CertRenewer } from './certs';
import { generateJoinToken } from '../manager/ca/core/token';
import { Manager, type OpenMode } from '../manager/manager';
import { shoalVersion } from '../agent/executor/process';
import type { Executor } from '../agent/executor/types';
import { Agent } from '../agent/agent';
import { createApiServer } from '../api/server';
import type { DaemonFacts, InitRequest, JoinRequest } from '../api/backend';
import { ShoalError, failedPrecondition, invalidArgument, unavailable } from '../lib/errors';
import { newId } from '../lib/ids';
import { isoTime } from '../lib/time';
import type { Cluster, Node } from '../types';
import { initialSwarmSpec } from '../manager/controlapi';
import type { DaemonConfig } from './config';
import { parseAddr, detectAdvertiseAddr } from './addr';
import { clearSwarmState, loadSwarmState, saveSwarmState, type SwarmState } from './state';
import { systemClock, systemRng } from './system';
import { NodeBackend } from './backend';
import { createExecutor } from './executor';

export const SHOAL_VERSION: string = shoalVersion();
export const API_VERSION = '1.47';
export const MIN_API_VERSION = '1.24';

export const ALREADY_IN_SWARM = 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';
export const LEAVE_MANAGER_TEXT =
  'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.';

/**
 * The daemon's composition root: the API server, the runtime, and the swarm roles this node
 * plays (manager, agent). It starts and stops them in order and switches roles on init/leave.
 */
export class Daemon {
  readonly logger: Logger;
  readonly facts: DaemonFacts;
  executor!: Executor;
  state: SwarmState | undefined;
  manager: Manager | undefined;
  agent: Agent | undefined;
  transport: ManagerTransport | undefined;
  connector: RemoteDispatcherConnector | undefined;
  renewer: CertRenewer | undefined;
  readonly security: NodeSecurity;
  private api?: { listen(): Promise<void>; close(): Promise<void> };
  readonly backend: NodeBackend;
  private roleChange: Promise<unknown> = Promise.resolve();

  constructor(readonly cfg: DaemonConfig) {
    this.logger = pino({ level: cfg.logLevel, base: { node: cfg.hostname } }, pino.destination(2));
    this.facts = {
      version: SHOAL_VERSION,
      apiVersion: API_VERSION,
      minApiVersion: MIN_API_VERSION,
      hostname: cfg.hostname,
      os: 'linux',
      arch: os.arch() === 'x64' ? 'x86_64' : os.arch(),
      kernelVersion: os.release(),
      ncpu: os.cpus().length,
      memTotal: os.totalmem(),
      dataDir: cfg.dataDir,
      runtime: cfg.runtime,
      engine: cfg.engine,
    };
    this.backend = new NodeBackend(this);
    this.security = new NodeSecurity(cfg.dataDir);
    if (cfg.testFaultFile) setTestFaultFile(cfg.testFaultFile);
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.cfg.dataDir, { recursive: true, mode: 0o700 });
    this.executor = createExecutor(this.cfg, () => this.state?.nodeId);
    this.state = loadSwarmState(this.cfg.dataDir);
    if (this.state) {
      await this.startRoles(undefined);
      this.backend.attachEvents();
    }
    const api = createApiServer({ backend: this.backend, facts: this.facts, hosts: this.cfg.hosts, engineSocket: this.cfg.engine, logger: this.logger });
    await api.listen();
    this.api = api;
    this.logger.info({ hosts: this.cfg.hosts, runtime: this.cfg.runtime }, 'shoal daemon listening');
  }

  /** Stops the API and the roles. Tasks keep running in their runtime. */
  async stop(): Promise<void> {
    await this.api?.close().catch(() => undefined);
    await this.stopRoles();
    await this.executor?.close().catch(() => undefined);
  }

  /** Serializes init/join/leave so two can never interleave. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.roleChange.then(fn, fn);
    this.roleChange = p.catch(() => undefined);
    return p;
  }

  init(req: InitRequest): Promise<string> {
    return this.exclusive(async () => {
      if (this.state && req.ForceNewCluster && this.state.role === 'manager') return this.forceNewCluster();
      if (this.state) throw unavailable(ALREADY_IN_SWARM);
      // As dockerd: an advertise address without a port takes the listen port.
      const listen = parseAddr(req.ListenAddr || '0.0.0.0:2377', 2377);
      const adv = parseAddr(req.AdvertiseAddr || detectAdvertiseAddr(this.cfg.defaultAdvertiseAddr), listen.port);
      const nodeId = newId(systemRng);
      const clusterId = newId(systemRng);
      const now = systemClock.now();
      const ca = await createRootCA({ now });
      const digest = caDigest(ca.certPem);
      const token = () => generateJoinToken(digest, systemRng.bytes(16));
      const spec = initialSwarmSpec(req.Spec);
      const nodeCert = await issueNodeKeyAndCertificate(ca, nodeId, 'manager', clusterId, { now });
      const ts = isoTime(now);
      const cluster: Cluster = {
        ID: clusterId,
        Version: { Index: 0 },
        CreatedAt: ts,
        UpdatedAt: ts,
        Spec: spec,
        JoinTokens: { Worker: token(), Manager: token() },
        TLSInfo: tlsInfoOf(ca.certPem),
        RootRotationInProgress: false,
        DefaultAddrPool: req.DefaultAddrPool?.length ? req.DefaultAddrPool : ['10.0.0.0/8'],
        SubnetSize: req.SubnetSize || 24,
        DataPathPort: req.DataPathPort || 4789,
        internal: { rootCACert: ca.certPem, rootCAKey: ca.keyPem },
      };
      const node = this.selfNode(nodeId, adv.host, `${adv.host}:${adv.port}`, ts, cluster.TLSInfo);
      const state: SwarmState = { nodeId, clusterId, role: 'manager', advertiseAddr: `${adv.host}:${adv.port}`, listenAddr: `${listen.host}:${listen.port}` };
      fs.mkdirSync(path.join(this.cfg.dataDir, 'certificates'), { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(this.cfg.dataDir, 'certificates', 'swarm-root-ca.crt'), ca.certPem);
      fs.writeFileSync(path.join(this.cfg.dataDir, 'certificates', 'swarm-node.crt'), nodeCert.certPem);
      fs.writeFileSync(path.join(this.cfg.dataDir, 'certificates', 'swarm-node.key'), nodeCert.keyPem, { mode: 0o600 });
      this.pendingListenAddr = `${listen.host}:${listen.port}`;
      try {
        await this.startRoles({
          kind: 'init',
          spec,
          changes: [
            { action: 'create', kind: 'cluster', object: cluster },
            { action: 'create', kind: 'node', object: node },
          ],
        });
      } catch (e) {
        await this.stopRoles();
        clearSwarmState(this.cfg.dataDir);
        throw e;
      }
      saveSwarmState(this.cfg.dataDir, state);
      this.state = state;
      return nodeId;
    });
  }

  /**
   * `docker swarm join --token T ADDR` as a worker: pin the manager's CA by the token's digest,
   * trade a CSR + the token for a certificate, persist it with the swarm state, start the agent.
   */
  join(req: JoinRequest & { Availability?: string }): Promise<void> {
    return this.exclusive(async () => {
      if (this.state) throw unavailable(ALREADY_IN_SWARM);
      const remote = req.RemoteAddrs?.[0];
      if (!remote) throw invalidArgument('at least 1 RemoteAddr is required to join');
      const r = parseAddr(remote, 2377);
      const managerAddr = `${r.host}:${r.port}`;
      // As dockerd: an advertise address without a port takes the listen port.
      const listen = parseAddr(req.ListenAddr || '0.0.0.0:2377', 2377);
      const adv = parseAddr(req.AdvertiseAddr || detectAdvertiseAddr(this.cfg.defaultAdvertiseAddr), listen.port);
      let res;
      try {
        res = await joinCluster({ address: managerAddr, token: req.JoinToken, hostname: this.cfg.hostname, addr: adv.host, availability: req.Availability });
      } catch (e) {
        // Docker shows the manager's refusal as the gRPC text ("rpc error: code = … desc = …").
        if (e instanceof RpcError) throw new ShoalError(e.kind, e.rpcText);
        throw e;
      }
      this.security.save({ keyPem: res.keyPem, certPem: res.certPem, caPem: res.caPem });
      const state: SwarmState = {
        nodeId: res.nodeId,
        clusterId: res.clusterId,
        role: res.role,
        advertiseAddr: `${adv.host}:${adv.port}`,
        listenAddr: `${listen.host}:${listen.port}`,
        managers: [{ nodeId: '', addr: managerAddr }],
      };
      if (res.role === 'manager') {
        // A manager joins Raft through any manager (followers forward to the leader), then catches up.
        delete state.managers;
        this.state = state;
        try {
          await this.startRoles({ kind: 'join', remote: managerAddr });
        } catch (e) {
          await this.stopRoles();
          this.state = undefined;
          clearSwarmState(this.cfg.dataDir);
          throw e;
        }
        saveSwarmState(this.cfg.dataDir, state);
        return;
      }
      saveSwarmState(this.cfg.dataDir, state);
      this.state = state;
      await this.startRoles(undefined);
      // As Docker, answer once the node is part of the swarm: its first session is up (bounded wait).
      for (let i = 0; i < 100 && this.agent && !this.agent.connected; i++) await new Promise((r) => setTimeout(r, 50));
    });
  }

  leave(force: boolean): Promise<void> {
    return this.exclusive(async () => {
      if (!this.state) throw unavailable('This node is not part of a swarm');
      if (this.state.role === 'manager' && !force) throw failedPrecondition(LEAVE_MANAGER_TEXT);
      // Leaving removes this node's tasks from its runtime, as Docker does.
      const mine = this.manager?.store.view((tx) => tx.tasksByNode(this.state!.nodeId)) ?? this.agent?.tasks() ?? [];
      // A manager asks the leader to take it out of Raft first (a leaving leader hands leadership over).
      if (this.manager && this.manager.members().length > 1) {
        await this.manager
          .call('removeRaftMember', [this.state.nodeId])
          .catch((e: unknown) => this.logger.warn({ err: e }, 'leave: could not leave raft cleanly'));
      }
      // A worker tells its manager first, so the node shows Down at once rather than after its heartbeats expire.
      await this.connector?.leave().catch((e: unknown) => this.logger.warn({ err: e }, 'leave: could not tell the manager'));
      await this.stopRoles();
      await Promise.all(
        mine.map(async (t) => {
          const c = this.executor.controller(t);
          await c.shutdown(Math.min(10_000, (t.Spec.ContainerSpec?.StopGracePeriod ?? 10e9) / 1e6)).catch(() => undefined);
          await c.remove().catch(() => undefined);
        }),
      );
      clearSwarmState(this.cfg.dataDir);
      this.state = undefined;
    });
  }

  /** The Node object describing this daemon, before the agent fills in the runtime's facts. */
  private selfNode(nodeId: string, addr: string, managerAddr: string, ts: string, tls: Cluster['TLSInfo']): Node {
    return {
      ID: nodeId,
      Version: { Index: 0 },
      CreatedAt: ts,
      UpdatedAt: ts,
      Spec: { Labels: {}, Role: 'manager', Availability: 'active' },
      Description: {
        Hostname: this.cfg.hostname,
        Platform: { Architecture: this.facts.arch, OS: 'linux' },
        Resources: { NanoCPUs: this.facts.ncpu * 1e9, MemoryBytes: this.facts.memTotal },
        Engine: { EngineVersion: SHOAL_VERSION },
        TLSInfo: tls,
      },
      Status: { State: 'ready', Addr: addr },
      ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: managerAddr },
    };
  }

  /**
   * Starts the manager (when this node is one) with its listener on the swarm port, the agent, and
   * the certificate renewal. `bootstrap` holds the first objects of a brand-new cluster; without it
   * the manager replays its durable log.
   */
  private async startRoles(open: OpenMode | undefined): Promise<void> {
    const bootstrap = open?.kind === 'init' ? open.changes : undefined;
    const state = this.state;
    const bootNode = (bootstrap?.find((c) => c.kind === 'node') as { object: Node } | undefined)?.object;
    const nodeId = state?.nodeId ?? bootNode?.ID;
    if (!nodeId) throw new Error('no node ID');
    const addr = (state?.advertiseAddr ?? bootNode!.Status.Addr).split(':')[0]!;
    const role = state?.role ?? 'manager';
    const creds = this.security.load();
    if (!creds) throw failedPrecondition('this node has no certificates: leave the swarm and join again');
    if (role === 'worker') {
      const follower = this.caFollower();
      const connector = new RemoteDispatcherConnector({
        managers: state?.managers?.map((m) => m.addr) ?? [],
        credentials: () => this.security.load() ?? creds,
        onManagers: (m) => this.rememberManagers(m),
        onCA: (t) => follower.apply(t),
      });
      this.connector = connector;
      this.agent = new Agent({
        dataDir: this.cfg.dataDir,
        executor: this.executor,
        nodeId,
        addr,
        dispatcher: () => connector.connect(),
        clock: systemClock,
        logger: this.logger.child({ role: 'agent' }),
        tlsInfo: () => this.ownTLSInfo(),
      });
      await this.agent.start();
      this.renewer = new CertRenewer({
        security: this.security,
        logger: this.logger.child({ role: 'ca' }),
        renew: (cur) => this.renewRemotely(cur, connector.known()),
      });
      this.renewer.start();
      return;
    }
    const advertiseAddr = state?.advertiseAddr ?? bootNode!.ManagerStatus!.Addr;
    const manager: Manager = new Manager({
      dataDir: this.cfg.dataDir,
      clock: systemClock,
      rng: systemRng,
      logger: this.logger.child({ role: 'manager' }),
      nodeId,
      advertiseAddr,
      tls: () => this.security.load() ?? creds,
      raftTickMs: this.cfg.raftTickMs,
      managers: () => (this.state ? [this.state.advertiseAddr] : []),
      newJoinToken: (): string => {
        const c = manager.controlapi.getCluster();
        return generateJoinToken(caDigest(c.internal.rootCACert), systemRng.bytes(16));
      },
      // A node whose connection dropped (daemon killed, host gone) is marked down after one heartbeat
      // period without a new session, instead of the full 3 periods + ε of missed heartbeats. An agent
      // whose manager is alive reconnects within its first backoff (≤ 100 ms), so blips never flap it.
      disconnectGraceMs: () => {
        const c = manager.store.view((tx) => tx.find('cluster'))[0];
        return heartbeatPeriodMs(c?.Spec?.Dispatcher?.HeartbeatPeriod);
      },
    });
    // The swarm port listens first: Raft messages (a joining manager's catch-up) arrive there.
    const clusterId = state?.clusterId ?? (bootstrap?.find((c) => c.kind === 'cluster') as { object: Cluster } | undefined)?.object.ID ?? '';
    const listenAddr = state?.listenAddr ?? (this.pendingListenAddr || '0.0.0.0:2377');
    const transport = new ManagerTransport({ listenAddr, manager, credentials: creds, clusterId, logger: this.logger.child({ role: 'transport' }) });
    try {
      await transport.start();
    } catch (e) {
      throw unavailable(`failed to listen on remote API address: ${listenAddr}: ${(e as Error).message}`);
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
    this.transport = transport;
    manager.register('updateSwarm', ((version: number, spec: import('../types').SwarmSpec, rotate: { worker: boolean; manager: boolean }) =>
      this.backend.updateSwarmHere(version, spec, rotate)) as never);
    // Removed from Raft (demoted, or leaving): this node carries on as a worker.
    manager.onRemoved(() => void this.demoteSelf(manager));
    this.unsubscribeCreds = this.security.onChange((c) => this.transport?.updateCredentials(c));
    this.agent = new Agent({
      dataDir: this.cfg.dataDir,
      executor: this.executor,
      nodeId,
      addr,
      dispatcher: () => this.managerAgentDispatcher(manager, creds),
      clock: systemClock,
      logger: this.logger.child({ role: 'agent' }),
      tlsInfo: () => this.ownTLSInfo(),
      backoffMaxMs: 1000,
    });
    await this.agent.start();
    this.renewer = new CertRenewer({ security: this.security, logger: this.logger.child({ role: 'ca' }), renew: (cur) => this.renewLocally(cur, manager) });
    this.renewer.start();
    this.followOwnCA(manager, nodeId);
  }

  /** The manager's own agent: the in-process dispatcher while this manager leads, else the leader's over mTLS. */
  private managerAgentDispatcher(manager: Manager, creds: NodeCredentials): import('../types').DispatcherApi {
    this.agentRemote?.close();
    this.agentRemote = undefined;
    const leader = manager.leaderAddr();
    if (manager.isLeader() || !leader || leader === this.state?.advertiseAddr) return manager.dispatcher;
    const remote = new RemoteDispatcherConnector({ managers: [leader], credentials: () => this.security.load() ?? creds });
    this.agentRemote = remote;
    return remote.connect();
  }

  private agentRemote: RemoteDispatcherConnector | undefined;

  /** `swarm init --force-new-cluster` on a manager: restart its Raft member as the only voter, keeping the state. */
  private async forceNewCluster(): Promise<string> {
    const st = this.state!;
    const appliedIndex = this.manager?.store.index ?? 0;
    await this.stopRoles();
    this.pendingListenAddr = st.listenAddr;
    await this.startRoles({ kind: 'force-new-cluster', appliedIndex });
    this.backend.attachEvents();
    return st.nodeId;
  }

  /** Removed from Raft (demotion) while still in the swarm: carry on as a worker of the remaining managers. */
  private demoteSelf(manager: Manager): Promise<void> {
    return this.exclusive(async () => {
      const st = this.state;
      if (!st || st.role !== 'manager' || this.manager !== manager) return;
      const managers = managerRefs(manager).filter((m) => m.nodeId !== st.nodeId);
      this.logger.info({ managers }, 'removed from raft: continuing as a worker');
      await this.stopRoles();
      fs.rmSync(path.join(this.cfg.dataDir, 'manager'), { recursive: true, force: true });
      st.role = 'worker';
      st.managers = managers;
      saveSwarmState(this.cfg.dataDir, st);
      await this.startRoles(undefined);
    });
  }

  /** A worker whose certificate now says manager (promotion) joins Raft and runs the manager role. */
  private maybePromote(): void {
    const st = this.state;
    const c = this.security.load();
    if (!st || st.role !== 'worker' || !c || certInfo(c.certPem).role !== 'manager') return;
    void this.exclusive(async () => {
      const cur = this.state;
      if (!cur || cur.role !== 'worker') return;
      const remotes = this.connector?.known() ?? (cur.managers ?? []).map((m) => m.addr);
      this.logger.info({ remotes }, 'promoted: joining raft as a manager');
      await this.stopRoles();
      let last: unknown;
      for (const remote of remotes) {
        try {
          this.state = { ...cur, role: 'manager' };
          delete this.state.managers;
          await this.startRoles({ kind: 'join', remote });
          saveSwarmState(this.cfg.dataDir, this.state);
          this.backend.attachEvents();
          return;
        } catch (e) {
          last = e;
          await this.stopRoles();
        }
      }
      this.logger.warn({ err: last }, 'promotion failed: staying a worker');
      this.state = cur;
      await this.startRoles(undefined);
    });
  }

  /** This node's TLS facts as its description reports them (issuer of its certificate, trust root). */
  private async ownTLSInfo(): Promise<Cluster['TLSInfo'] | undefined> {
    const c = this.security.load();
    return c ? nodeTLSInfo(c.certPem, c.caPem) : undefined;
  }

  /** Follows the cluster CA's wishes (trust root, issuer, role) for this node; see ca-follow.ts. */
  private caFollower(): CAFollower {
    return new CAFollower({
      security: this.security,
      renewer: () => this.renewer,
      changed: () => {
        this.agent?.reconnect();
        this.maybePromote();
      },
      logger: this.logger.child({ role: 'ca' }),
    });
  }

  /**
   * On a manager the CA target comes from the store: rotation state and this node's role. A role
   * change in the store (promotion/demotion) renews the certificate so its OU follows.
   */
  private followOwnCA(manager: Manager, nodeId: string): void {
    const follower = this.caFollower();
    const watch = manager.store.watch({ kinds: ['cluster', 'node'], match: (e) => e.kind === 'cluster' || (e.object as Node).ID === nodeId });
    const apply = () => {
      const c = manager.store.view((tx) => tx.find('cluster'))[0];
      let role = manager.store.view((tx) => tx.get('node', nodeId))?.Spec.Role;
      // A demoted manager keeps its manager certificate until Raft has let it go (then it runs as a worker).
      if (role === 'worker' && manager.members().some((m) => m.nodeId === nodeId)) role = 'manager';
      if (c) follower.apply(caTarget(c, role));
    };
    void (async () => {
      apply();
      for await (const _e of watch) {
        watch.drain();
        apply();
      }
    })();
    const prev = this.unsubscribeCreds;
    this.unsubscribeCreds = () => {
      watch.close();
      prev?.();
    };
  }

  /** Set by init() for startRoles (the state is saved only once the roles run). */
  private pendingListenAddr = '';

  /** A manager signs its own renewed certificate (fresh key) with the cluster CA; its role comes from the store. */
  private async renewLocally(cur: NodeCredentials, manager: Manager): Promise<NodeCredentials> {
    const c = manager.controlapi.getCluster();
    const id = certInfo(cur.certPem).nodeId;
    const role = manager.store.view((tx) => tx.get('node', id))?.Spec.Role ?? 'manager';
    const { keyPem, csrPem } = await createKeyAndCSR(id);
    // During a root rotation the new key signs, with the cross-signed root as intermediate.
    const m = signingMaterial(c);
    const certPem = await issueNodeCertificate(m.ca, { csrPem }, id, role, c.ID, {
      expiryMs: Math.floor((c.Spec.CAConfig?.NodeCertExpiry ?? 0) / 1e6),
    });
    return { keyPem, certPem: withChain(certPem, m.chain), caPem: m.trustRoot };
  }

  /** A worker asks the managers it knows, in turn, presenting its current certificate. */
  private async renewRemotely(cur: NodeCredentials, managers: string[]): Promise<NodeCredentials> {
    let last: unknown = new Error('no manager known');
    for (const m of managers) {
      try {
        const r = await renewCertificate(m, cur);
        return { keyPem: r.keyPem, certPem: r.certPem, caPem: r.caPem };
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }

  private rememberManagers(m: { nodeId: string; addr: string }[]): void {
    const st = this.state;
    if (!st || st.role !== 'worker') return;
    if (JSON.stringify(st.managers) === JSON.stringify(m)) return;
    st.managers = m;
    saveSwarmState(this.cfg.dataDir, st);
  }

  private unsubscribeCreds: (() => void) | undefined;

  private async stopRoles(): Promise<void> {
    this.unsubscribeCreds?.();
    this.unsubscribeCreds = undefined;
    this.renewer?.stop();
    this.renewer = undefined;
    await this.agent?.stop().catch((e: unknown) => this.logger.warn({ err: e }, 'agent stop'));
    this.agent = undefined;
    this.connector?.close();
    this.connector = undefined;
    this.agentRemote?.close();
    this.agentRemote = undefined;
    await this.transport?.stop().catch((e: unknown) => this.logger.warn({ err: e }, 'transport stop'));
    this.transport = undefined;
    await this.manager?.stop().catch((e: unknown) => this.logger.warn({ err: e }, 'manager stop'));
    this.manager = undefined;
  }
}

function tlsInfoOf(caPem: string): Cluster['TLSInfo'] {
  // Subject and public key of the root as base64 DER, the way Docker prints them in `docker info`.
  return caTLSInfo(caPem);
}
