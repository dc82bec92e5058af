import fs from 'node:fs';
import os from 'node:os';
import pino, { type Logger } from 'pino';
import { NodeSecurity } from '../manager/ca/keystore';
import type { Manager } from '../manager/manager';
import { shoalVersion } from '../agent/executor/process';
import type { Executor } from '../agent/executor/types';
import { createApiServer } from '../api/server';
import type { DaemonFacts, InitRequest, JoinRequest } from '../api/backend';
import { loadApiTls, type DaemonConfig } from './config';
import type { SwarmState } from './state';
import type { NodeServices } from './services';
import { NodeBackend } from './backend';
import { createExecutor } from './executor';
import { NodeRoles } from './roles';
import { SwarmMembership } from './membership';
import type { NodeMetrics } from '../metrics';
import { createMetricsServer, type MetricsServer } from '../metrics/server';
import type * as MetricsWiring from './metrics';
import { PRIVATE_UMASK, tightenTree } from '../sys/private-tree';
import type * as Dashboard from '../dashboard';
import type { StoreChanges } from './dashboard';
import { HeapTrimmer } from './heap-trim';
import { HeapGrowth } from './heap-growth';

export const SHOAL_VERSION: string = shoalVersion();
export const API_VERSION = '1.47';
export const MIN_API_VERSION = '1.24';

/**
 * The daemon's composition root: the API server, the runtime, the swarm roles this node plays
 * (roles.ts) and the role machine's driver that switches them (membership.ts). It wires them
 * together and starts and stops them in order; the API backend sees it only as `NodeServices`.
 */
export class Daemon {
  readonly logger: Logger;
  readonly facts: DaemonFacts;
  executor!: Executor;
  readonly security: NodeSecurity;
  readonly backend: NodeBackend;
  private readonly roles: NodeRoles;
  private readonly membership: SwarmMembership;
  private api?: { listen(): Promise<void>; close(): Promise<void> };
  /**
   * `--metrics-addr`: the Prometheus metrics and their endpoint. prom-client and the metrics code are
   * loaded only then, as the dashboard's below: a daemon without them does not hold their code
   * (docs/design/performance.md, "Memory (issue 16)").
   */
  readonly metrics?: NodeMetrics;
  private readonly metricsWiring?: typeof MetricsWiring;
  private metricsServer?: MetricsServer;
  /** `--dashboard-addr`: the web dashboard and the store changes that keep it live. */
  private dashboard?: { server: Dashboard.DashboardServer; changes: StoreChanges };
  private readonly heapTrimmer?: HeapTrimmer;
  private readonly heapGrowth: HeapGrowth;

  /** Set by the entry point (main.ts): stops the process cleanly. Until then a fatal error is only logged. */
  onFatal: (err: Error) => void = (err) => this.logger.fatal({ err }, 'fatal error');

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
    this.backend = new NodeBackend(this.services());
    this.security = new NodeSecurity(cfg.dataDir);
    if (cfg.metricsAddr) {
      this.metricsWiring = require('./metrics') as typeof MetricsWiring;
      this.metrics = this.metricsWiring.createNodeMetrics({ facts: this.facts, manager: () => this.manager, network: () => this.roles.network });
    }
    if (cfg.heapTrim) this.heapTrimmer = new HeapTrimmer(this.logger);
    this.heapGrowth = new HeapGrowth(cfg.heapGrowthPercent);
    const executor = () => this.executor;
    // The roles report what happened to them (a certificate now says manager, Raft let us go, a
    // session named the managers) as events of the role machine, which decides what runs next.
    this.roles = new NodeRoles({
      cfg,
      logger: this.logger,
      security: this.security,
      executor,
      raftObserver: this.metrics?.raftObserver,
      hooks: {
        state: () => this.membership.state,
        managersSeen: (m) => this.membership.rememberManagers(m),
        certificateChanged: () => this.membership.promoteIfCertified(),
        removedFromRaft: (manager) => void this.membership.demote(manager),
        managerStarted: (manager) => {
          this.backend.attachEvents(manager.store);
          if (this.metrics) this.metricsWiring!.followManager(this.metrics, manager);
          this.dashboard?.changes.attach(manager.store);
        },
        fatal: (err) => this.onFatal(err),
      },
    });
    this.membership = new SwarmMembership({
      cfg,
      facts: this.facts,
      logger: this.logger,
      security: this.security,
      roles: this.roles,
      executor,
    });
  }

  /** This node's place in its swarm; undefined while it is in none. */
  get state(): SwarmState | undefined {
    return this.membership.state;
  }
  get manager(): Manager | undefined {
    return this.roles.manager;
  }

  /** What the API backend may use of this node (services.ts). */
  private services(): NodeServices {
    return {
      logger: this.logger,
      swarm: () => this.state,
      locked: () => this.locked,
      manager: () => this.roles.manager,
      taskLogs: () => {
        const agent = this.roles.agent;
        if (!agent) return undefined;
        const broker = this.roles.transport?.taskLogs;
        return (nodeId, taskId, options, signal) => (broker ? broker.open(nodeId, taskId, options, signal) : agent.logs(taskId, options, signal));
      },
      init: (req) => this.init(req),
      join: (req) => this.join(req),
      leave: (force) => this.leave(force),
      unlock: (key) => this.unlock(key),
    };
  }

  async start(): Promise<void> {
    // before a manager reads its snapshot and log back: that alone is a burst at 100,000 tasks
    this.heapGrowth.start();
    // every file and directory the daemon (or a library) creates is private; an older release's data dir is brought to the same modes
    process.umask(PRIVATE_UMASK);
    fs.mkdirSync(this.cfg.dataDir, { recursive: true, mode: 0o700 });
    const tightened = tightenTree(this.cfg.dataDir);
    if (tightened > 0) this.logger.info({ entries: tightened }, 'data dir: removed group/other permissions');
    this.executor = await createExecutor(this.cfg, () => this.state?.nodeId, this.logger);
    // before the roles resume, so a manager's store is followed from its start
    const tls = this.cfg.tls ? loadApiTls(this.cfg.tls) : undefined;
    if (this.cfg.dashboardAddr) {
      const { createDashboardServer } = await import('../dashboard');
      const changes = new (await import('./dashboard')).StoreChanges(this.logger);
      this.dashboard = { changes, server: createDashboardServer({ addr: this.cfg.dashboardAddr, backend: this.backend, changes, tls, log: this.logger }) };
    }
    await this.membership.resume();
    // a manager's resume read its snapshot and log back: garbage V8 would keep until its first full collection
    this.heapTrimmer?.collectNow('the role resumed');
    const api = createApiServer({
      backend: this.backend,
      facts: this.facts,
      hosts: this.cfg.hosts,
      engineSocket: this.cfg.engine,
      logger: this.logger,
      tls,
      tlsExplicit: this.cfg.tlsExplicit,
      observeRequest: this.metrics ? (r) => this.metrics!.observeRequest(r) : undefined,
    });
    await api.listen();
    this.api = api;
    if (this.metrics && this.cfg.metricsAddr) {
      const server = createMetricsServer(this.cfg.metricsAddr, this.metrics, this.logger);
      await server.listen();
      this.metricsServer = server;
      this.logger.info({ addr: server.address() }, 'metrics listening');
    }
    if (this.dashboard) {
      await this.dashboard.server.listen();
      this.logger.info({ addr: this.dashboard.server.address(), tls: !!tls }, 'dashboard listening');
    }
    this.heapTrimmer?.start();
    this.logger.info({ hosts: this.cfg.hosts, runtime: this.cfg.runtime }, 'shoal daemon listening');
  }

  /** Stops the API first, then the roles. Tasks keep running in their runtime. */
  async stop(): Promise<void> {
    this.heapTrimmer?.stop();
    this.heapGrowth.stop();
    await this.api?.close().catch(() => undefined);
    await this.metricsServer?.close().catch(() => undefined);
    await this.dashboard?.server.close().catch(() => undefined);
    this.dashboard?.changes.close();
    this.metrics?.close();
    await this.roles.stop();
    await this.executor?.close().catch(() => undefined);
  }

  init(req: InitRequest): Promise<string> {
    return this.membership.init(req);
  }

  join(req: JoinRequest & { Availability?: string }): Promise<void> {
    return this.membership.join(req);
  }

  leave(force: boolean): Promise<void> {
    return this.membership.leave(force);
  }

  /** Autolock: a restarted manager waiting for its unlock key. */
  get locked(): boolean {
    return this.membership.locked;
  }

  unlock(key: string): Promise<void> {
    return this.membership.unlock(key);
  }
}
