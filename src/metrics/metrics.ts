// The daemon's Prometheus metrics: one prom-client Registry per daemon (never the global default, so
// tests stay isolated). Gauges are read from their sources at scrape time (collect callbacks) rather
// than mirrored; the few counters that need events are fed by the narrow observers below (the API
// server's request hook, the Raft driver's observer) and by one store watch on a manager.
// The names are swarmkit's and dockerd's where they exist; Shoal's own carry the shoal_ prefix.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Service, Task, TaskState } from '../types';
import type { StoreEvent } from '../store/types';
import { effectsOf, nodesByState, updateProgress, withEveryState, UPDATE_STATES, type EventEffect, type UpdateProgress } from './core/cluster';

/** One published port of the routing mesh as RoutingMesh.status() reports it (only the fields read here). */
export interface MeshPortView {
  protocol: string;
  port: number;
  listening: boolean;
  backends: number;
  counters: { active: number; total: number; bytesIn: number; bytesOut: number; failedConnects: number; noBackend: number };
}

/** A service with Docker's task counts (`docker service ls`'s REPLICAS). */
export type ServiceWithStatus = Service & { ServiceStatus?: { RunningTasks: number; DesiredTasks: number } };

/** What the metrics read from a manager role: the store and a few live facts. */
export interface ManagerView {
  isLeader(): boolean;
  read<T>(fn: (tx: { find(kind: 'node' | 'service' | 'task' | 'network' | 'secret' | 'config'): unknown[]; tasksByService(id: string): Task[] }) => T): T;
  /** Tasks by observed state, as the store keeps them (a scrape reads no task). */
  taskStates(): ReadonlyMap<TaskState, number>;
  /** Services with their running/desired counts, counted as `docker service ls` counts them. */
  services(): ServiceWithStatus[];
  raft(): { term: number; leader: number; commit: number; applied: number } | undefined;
  /** Nodes holding a dispatcher session with this manager (its dispatcher runs only while it leads). */
  dispatcherSessions(): number;
}

/** The store events a manager's metrics follow; close() ends the subscription. */
export interface EventSource extends AsyncIterable<StoreEvent> {
  close(): void;
}

export interface EngineFacts {
  version: string;
  commit: string;
  architecture: string;
  kernel: string;
  os: string;
  osType: string;
  daemonId: string;
  ncpu: number;
  memTotal: number;
}

export interface MetricsSources {
  engine: EngineFacts;
  /** The manager role now, if this node is a manager. */
  manager(): ManagerView | undefined;
  /** The node's routing mesh ports (every swarm node runs one). */
  mesh(): MeshPortView[];
}

/** Latency buckets (seconds) for in-process operations: sub-millisecond to seconds. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** NEW → RUNNING takes from a fraction of a second (process runtime) to minutes (an image pull). */
const SCHEDULING_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export class NodeMetrics {
  /** Every node's metrics. */
  readonly registry = new Registry();
  /** Manager-only metrics: exposed only while this node is a manager, so a worker shows none of them. */
  readonly managerRegistry = new Registry();
  private readonly apiLatency: Histogram<'method' | 'route' | 'code'>;
  private readonly raftTx: Histogram;
  private readonly storeRead: Histogram;
  private readonly storeWrite: Histogram;
  private readonly raftSnapshot: Histogram;
  private readonly schedulingDelay: Histogram;
  private readonly replacements: Counter<'service' | 'reason'>;
  private readonly failed: Counter<'service'>;
  private readonly heartbeatMisses: Counter;
  private readonly leaderChanges: Counter;
  private events: EventSource | undefined;
  /** What one scrape read, shared by the families that use it; emptied after each render. */
  private scrape: { services?: ServiceWithStatus[]; progress?: Map<string, UpdateProgress | undefined> } = {};
  private lastLeader = 0;

  constructor(private readonly src: MetricsSources) {
    const registers = [this.registry];
    const managerOnly = [this.managerRegistry];
    collectDefaultMetrics({ register: this.registry });
    const mgr = () => src.manager();
    // Read once per scrape, however many families use them: services with their counts, update progress.
    const services = () => (this.scrape.services ??= mgr()?.services() ?? []);
    const progressOf = (s: ServiceWithStatus): UpdateProgress | undefined => {
      const cache = (this.scrape.progress ??= new Map());
      // a service never updated has no progress: its tasks are not read (100,000 of them on every scrape)
      if (!cache.has(s.ID)) cache.set(s.ID, s.UpdateStatus ? updateProgress(s, mgr()?.read((tx) => tx.tasksByService(s.ID)) ?? []) : undefined);
      return cache.get(s.ID);
    };

    // ---- dockerd's engine_daemon_* (the ones that mean something for Shoal)
    const e = src.engine;
    new Gauge({
      name: 'engine_daemon_engine_info',
      help: 'The information related to the engine and the OS it is running on',
      labelNames: ['version', 'commit', 'architecture', 'graphdriver', 'kernel', 'os', 'os_type', 'os_version', 'daemon_id'],
      registers,
    }).set({ version: e.version, commit: e.commit, architecture: e.architecture, graphdriver: '', kernel: e.kernel, os: e.os, os_type: e.osType, os_version: '', daemon_id: e.daemonId }, 1);
    new Gauge({ name: 'engine_daemon_engine_cpus_cpus', help: 'The number of cpus that the host system of the engine has', registers }).set(e.ncpu);
    new Gauge({ name: 'engine_daemon_engine_memory_bytes', help: 'The number of bytes of memory that the host system of the engine has', registers }).set(e.memTotal);

    // ---- swarmkit's node and manager gauges
    new Gauge({
      name: 'swarm_node_manager',
      help: 'Whether this node is a manager or not',
      registers,
      collect() {
        this.set(mgr() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'swarm_manager_leader',
      help: 'Indicates if this manager node is a leader',
      registers,
      collect() {
        this.set(mgr()?.isLeader() ? 1 : 0);
      },
    });
    const storeGauge = (name: string, help: string, kind: 'service' | 'network' | 'secret' | 'config') =>
      new Gauge({
        name,
        help,
        registers: managerOnly,
        collect() {
          const m = mgr();
          this.reset();
          if (m) this.set(m.read((tx) => tx.find(kind).length));
        },
      });
    storeGauge('swarm_manager_services_total', 'The number of services in the cluster object store', 'service');
    storeGauge('swarm_manager_networks_total', 'The number of networks in the cluster object store', 'network');
    storeGauge('swarm_manager_secrets_total', 'The number of secrets in the cluster object store', 'secret');
    storeGauge('swarm_manager_configs_total', 'The number of configs in the cluster object store', 'config');
    const byStateGauge = (name: string, help: string, count: (m: ManagerView) => Map<string, number>) =>
      new Gauge({
        name,
        help,
        labelNames: ['state'],
        registers: managerOnly,
        collect() {
          const m = mgr();
          this.reset();
          if (m) for (const [state, n] of count(m)) this.set({ state }, n);
        },
      });
    byStateGauge('swarm_manager_nodes', 'The number of nodes', (m) => nodesByState(m.read((tx) => tx.find('node') as never)));
    byStateGauge('swarm_manager_tasks_total', 'The number of tasks in the cluster object store', (m) => withEveryState(m.taskStates()));

    // ---- the store (swarmkit's swarm_store_*: a read is a view, a write its transaction and proposal)
    this.storeRead = new Histogram({ name: 'swarm_store_read_tx_latency_seconds', help: 'Raft store read tx latency.', buckets: LATENCY_BUCKETS, registers: managerOnly });
    this.storeWrite = new Histogram({ name: 'swarm_store_write_tx_latency_seconds', help: 'Raft store write tx latency.', buckets: LATENCY_BUCKETS, registers: managerOnly });

    // ---- Raft
    this.raftTx = new Histogram({ name: 'swarm_raft_transaction_latency_seconds', help: 'Raft transaction latency.', buckets: LATENCY_BUCKETS, registers: managerOnly });
    this.raftSnapshot = new Histogram({ name: 'swarm_raft_snapshot_latency_seconds', help: 'Raft snapshot create latency.', buckets: LATENCY_BUCKETS, registers: managerOnly });
    const raftGauge = (name: string, help: string, pick: (r: NonNullable<ReturnType<ManagerView['raft']>>) => number) =>
      new Gauge({
        name,
        help,
        registers: managerOnly,
        collect() {
          const r = mgr()?.raft();
          this.reset();
          if (r) this.set(pick(r));
        },
      });
    raftGauge('shoal_raft_term', 'The Raft term this manager is in', (r) => r.term);
    raftGauge('shoal_raft_commit_index', 'The highest Raft log index this manager knows committed', (r) => r.commit);
    raftGauge('shoal_raft_applied_index', 'The highest Raft log index this manager applied to its store', (r) => r.applied);
    this.leaderChanges = new Counter({ name: 'shoal_raft_leader_changes_total', help: 'Times this manager saw the Raft leader change (including to no leader)', registers: managerOnly });

    // ---- dispatcher
    this.schedulingDelay = new Histogram({
      name: 'swarm_dispatcher_scheduling_delay_seconds',
      help: 'Scheduling delay is the time a task takes to go from NEW to RUNNING state.',
      buckets: SCHEDULING_BUCKETS,
      registers: managerOnly,
    });
    new Gauge({
      name: 'shoal_dispatcher_sessions',
      help: 'Nodes holding a dispatcher session with this manager (non-zero on the leader only)',
      registers: managerOnly,
      collect() {
        const m = mgr();
        this.reset();
        if (m) this.set(m.dispatcherSessions());
      },
    });
    this.heartbeatMisses = new Counter({ name: 'shoal_dispatcher_heartbeat_misses_total', help: 'Nodes marked down because their heartbeats stopped', registers: managerOnly });

    // ---- per service (label: service name; bounded by the services, never per task)
    new Gauge({
      name: 'shoal_service_desired_tasks',
      help: 'Tasks the service wants running (REPLICAS desired in docker service ls)',
      labelNames: ['service'],
      registers: managerOnly,
      collect: function () {
        this.reset();
        for (const s of services()) this.set({ service: s.Spec.Name }, s.ServiceStatus?.DesiredTasks ?? 0);
      },
    });
    new Gauge({
      name: 'shoal_service_running_tasks',
      help: 'Tasks of the service running on a live node (REPLICAS running in docker service ls)',
      labelNames: ['service'],
      registers: managerOnly,
      collect: function () {
        this.reset();
        for (const s of services()) this.set({ service: s.Spec.Name }, s.ServiceStatus?.RunningTasks ?? 0);
      },
    });
    this.replacements = new Counter({
      name: 'shoal_service_task_restarts_total',
      help: 'Tasks started in place of an earlier task of the same slot: reason="restart" (restart policy, node loss) or "update" (rolling update or rollback)',
      labelNames: ['service', 'reason'],
      registers: managerOnly,
    });
    this.failed = new Counter({ name: 'shoal_service_tasks_failed_total', help: 'Tasks of the service that reached FAILED or REJECTED', labelNames: ['service'], registers: managerOnly });
    const progressGauge = (name: string, help: string, pick: (p: UpdateProgress) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['service'],
        registers: managerOnly,
        collect() {
          this.reset();
          for (const s of services()) {
            const p = progressOf(s);
            if (p) this.set({ service: s.Spec.Name }, pick(p));
          }
        },
      });
    progressGauge('shoal_service_update_tasks_updated', 'Tasks of the service running from its current spec, during and after an update or rollback', (p) => p.updated);
    progressGauge('shoal_service_update_tasks_total', 'Tasks the service wants running, the denominator of its update progress', (p) => p.total);
    new Gauge({
      name: 'shoal_service_update_state',
      help: "The service's UpdateStatus.State: 1 for the state it is in, 0 for the others (no series before its first update)",
      labelNames: ['service', 'state'],
      registers: managerOnly,
      collect() {
        this.reset();
        for (const s of services()) {
          const st = s.UpdateStatus?.State;
          if (!st) continue;
          for (const state of UPDATE_STATES) this.set({ service: s.Spec.Name, state }, state === st ? 1 : 0);
        }
      },
    });

    // ---- routing mesh, per published port (RoutingMesh.status() counters read at scrape time)
    const meshLabels = ['protocol', 'port'] as const;
    const lbl = (p: MeshPortView) => ({ protocol: p.protocol, port: String(p.port) });
    const meshMetric = (kind: 'gauge' | 'counter', name: string, help: string, pick: (p: MeshPortView) => number) => {
      const config = { name, help, labelNames: meshLabels, registers };
      const each = (put: (labels: ReturnType<typeof lbl>, value: number) => void) => src.mesh().forEach((p) => put(lbl(p), pick(p)));
      if (kind === 'gauge') {
        new Gauge({
          ...config,
          collect() {
            this.reset();
            each((l, v) => this.set(l, v));
          },
        });
        return;
      }
      // the mesh's counters only grow while its listener lives: exported as they stand
      new Counter({
        ...config,
        collect() {
          this.reset();
          each((l, v) => this.inc(l, v));
        },
      });
    };
    const meshGauge = (name: string, help: string, pick: (p: MeshPortView) => number) => meshMetric('gauge', name, help, pick);
    const meshCounter = (name: string, help: string, pick: (p: MeshPortView) => number) => meshMetric('counter', name, help, pick);
    meshGauge('shoal_mesh_listening', 'Whether the routing mesh listens on the published port (1) or could not open it (0)', (p) => (p.listening ? 1 : 0));
    meshGauge('shoal_mesh_backends', 'Ready tasks the routing mesh balances the published port over', (p) => p.backends);
    meshGauge('shoal_mesh_active_connections', 'TCP connections (UDP flows) open now through the published port', (p) => p.counters.active);
    meshCounter('shoal_mesh_connections_total', 'TCP connections (UDP flows) accepted on the published port', (p) => p.counters.total);
    meshCounter('shoal_mesh_received_bytes_total', 'Bytes from clients through the published port (TCP: counted when a connection ends)', (p) => p.counters.bytesIn);
    meshCounter('shoal_mesh_sent_bytes_total', 'Bytes to clients through the published port (TCP: counted when a connection ends)', (p) => p.counters.bytesOut);
    meshCounter('shoal_mesh_backend_connect_failures_total', 'Connection attempts to a backend task that failed', (p) => p.counters.failedConnects);
    meshCounter('shoal_mesh_no_backend_total', 'Clients turned away because no ready backend was left', (p) => p.counters.noBackend);

    // ---- HTTP API
    this.apiLatency = new Histogram({
      name: 'shoal_api_request_duration_seconds',
      help: 'Engine API requests by route pattern (not the raw path), method and status code',
      labelNames: ['method', 'route', 'code'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
  }

  /** The API server's hook: one finished request. */
  observeRequest(r: { method: string; route: string; status: number; seconds: number }): void {
    this.apiLatency.observe({ method: r.method, route: r.route, code: String(r.status) }, r.seconds);
  }

  /** The Raft driver's observer (manager/consensus ConsensusObserver). */
  readonly raftObserver = {
    proposalApplied: (seconds: number): void => this.raftTx.observe(seconds),
    snapshotWritten: (seconds: number): void => this.raftSnapshot.observe(seconds),
  };

  /** The manager store's timer (MemoryStore.setTimer). */
  readonly storeTimer = {
    now: (): number => performance.now(),
    readTx: (ms: number): void => this.storeRead.observe(ms / 1000),
    writeTx: (ms: number): void => this.storeWrite.observe(ms / 1000),
  };

  /** The Raft leader this manager sees changed (0: none). */
  leaderSeen(leaderRaftId: number): void {
    if (leaderRaftId === this.lastLeader) return;
    this.lastLeader = leaderRaftId;
    this.leaderChanges.inc();
  }

  /**
   * A manager role started: count what its committed store events say (replacements, failures,
   * scheduling delay, heartbeat misses). Replaces the subscription of an earlier manager role.
   */
  followEvents(events: EventSource, peers: (task: Task) => readonly Task[]): void {
    this.events?.close();
    this.events = events;
    void (async () => {
      for await (const ev of events) {
        try {
          for (const fx of effectsOf(ev, peers)) this.apply(fx);
        } catch {
          // an object the counters cannot read is skipped: metrics never stop the daemon
        }
      }
    })().catch(() => undefined);
  }

  private apply(fx: EventEffect): void {
    switch (fx.kind) {
      case 'replacement':
        this.replacements.inc({ service: fx.service, reason: fx.reason });
        break;
      case 'failed':
        this.failed.inc({ service: fx.service });
        break;
      case 'running':
        this.schedulingDelay.observe(fx.seconds);
        break;
      case 'heartbeat-miss':
        this.heartbeatMisses.inc();
        break;
      case 'service-removed':
        // its series go; a new service of the same name starts again from 0
        this.failed.remove({ service: fx.service });
        for (const reason of ['update', 'restart']) this.replacements.remove({ service: fx.service, reason });
        break;
    }
  }

  /** Stops following store events. */
  close(): void {
    this.events?.close();
    this.events = undefined;
  }

  /** The exposition in Prometheus text format. */
  async render(): Promise<{ contentType: string; body: string }> {
    try {
      const node = await this.registry.metrics();
      const manager = this.src.manager() ? await this.managerRegistry.metrics() : '';
      return { contentType: this.registry.contentType, body: node + manager };
    } finally {
      this.scrape = {};
    }
  }
}
