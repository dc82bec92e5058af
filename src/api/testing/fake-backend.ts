// Test doubles for the API layer: a ClusterBackend that records every call and answers from
// plain fields the tests set, plus object builders. For tests only; nothing in the daemon uses it.
import * as os from 'node:os';
import { NOT_A_MANAGER_MESSAGE, conflict, notFound, unavailable, unimplemented } from '../../lib/errors';
import type { Cluster, Node, NodeSpec, Service, ServiceSpec, SwarmSpec, Task } from '../../types';
import { defaultSwarmSpec } from '../../types';
import type {
  ClusterBackend,
  DaemonFacts,
  EngineEvent,
  Filters,
  InitRequest,
  JoinRequest,
  LogRequest,
  ServiceLogLine,
  ServiceStatusCounts,
  SwarmInfo,
  SwarmUpdateFlags,
} from '../backend';

export type Call = { method: string; args: unknown[] };
export const TS = '2024-01-01T00:00:00.000000000Z';

export class FakeBackend implements ClusterBackend {
  calls: Call[] = [];
  manager = true;
  nodes: Node[] = [];
  services: Service[] = [];
  tasks: Task[] = [];
  logLines: ServiceLogLine[] = [];
  /** When set, logs keep the stream open after the lines (follow). */
  holdLogs = false;
  eventsToSend: EngineEvent[] = [];
  /** Event streams that ended (their request's signal aborted, or they ran out). */
  eventStreamsEnded = 0;
  failNext?: Error;

  private rec(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
  }
  last(method: string): unknown[] | undefined {
    return [...this.calls].reverse().find((c) => c.method === method)?.args;
  }
  private needManager(): void {
    if (!this.manager) throw unavailable(NOT_A_MANAGER_MESSAGE);
  }

  cluster(): Cluster {
    return {
      ID: 'cluster1',
      Version: { Index: 10 },
      CreatedAt: TS,
      UpdatedAt: TS,
      Spec: defaultSwarmSpec(),
      JoinTokens: { Worker: 'SWMTKN-1-w', Manager: 'SWMTKN-1-m' },
      TLSInfo: { TrustRoot: 'ROOT', CertIssuerSubject: Buffer.from('subject').toString('base64'), CertIssuerPublicKey: Buffer.from('pk').toString('base64') },
      RootRotationInProgress: false,
      DefaultAddrPool: ['10.0.0.0/8'],
      SubnetSize: 24,
      DataPathPort: 4789,
      internal: { rootCAKey: 'SECRET-KEY', rootCACert: 'CERT' },
    };
  }

  async swarmInfo(): Promise<SwarmInfo> {
    if (!this.manager) return { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null };
    const c = this.cluster();
    return {
      NodeID: 'node1',
      NodeAddr: '127.0.0.1',
      LocalNodeState: 'active',
      ControlAvailable: true,
      Error: '',
      RemoteManagers: [{ NodeID: 'node1', Addr: '127.0.0.1:2377' }],
      Nodes: 1,
      Managers: 1,
      Cluster: c as unknown as SwarmInfo['Cluster'], // includes internal + JoinTokens on purpose: the API must strip them
    };
  }
  async init(req: InitRequest): Promise<string> {
    this.rec('init', req);
    return 'newnode123';
  }
  async join(req: JoinRequest): Promise<void> {
    this.rec('join', req);
  }
  async leave(force: boolean): Promise<void> {
    this.rec('leave', force);
  }
  async inspectSwarm(): Promise<Cluster> {
    this.rec('inspectSwarm');
    this.needManager();
    return this.cluster();
  }
  async updateSwarm(version: number, spec: SwarmSpec, flags: SwarmUpdateFlags): Promise<void> {
    this.rec('updateSwarm', version, spec, flags);
  }
  async unlock(key: string): Promise<void> {
    this.rec('unlock', key);
  }
  async unlockKey(): Promise<string> {
    this.rec('unlockKey');
    return 'SWMKEY-1-abc';
  }
  async listNodes(filters: Filters): Promise<Node[]> {
    this.rec('listNodes', filters);
    this.needManager();
    return this.nodes;
  }
  async getNode(ref: string): Promise<Node> {
    this.rec('getNode', ref);
    this.needManager();
    const n = this.nodes.find((x) => x.ID === ref || x.Description.Hostname === ref);
    if (!n) throw notFound(`node ${ref} not found`);
    return n;
  }
  async updateNode(ref: string, version: number, spec: NodeSpec): Promise<void> {
    this.rec('updateNode', ref, version, spec);
  }
  async removeNode(ref: string, force: boolean): Promise<void> {
    this.rec('removeNode', ref, force);
  }
  async listServices(filters: Filters, withStatus: boolean): Promise<(Service & { ServiceStatus?: ServiceStatusCounts })[]> {
    this.rec('listServices', filters, withStatus);
    this.needManager();
    return this.services.map((s) => (withStatus ? { ...s, ServiceStatus: { RunningTasks: 1, DesiredTasks: 1, CompletedTasks: 0 } } : s));
  }
  async getService(ref: string, insertDefaults: boolean): Promise<Service> {
    this.rec('getService', ref, insertDefaults);
    const s = this.services.find((x) => x.ID === ref || x.Spec.Name === ref);
    if (!s) throw notFound(`service ${ref} not found`);
    return s;
  }
  async createService(spec: ServiceSpec): Promise<{ ID: string; Warnings?: string[] }> {
    this.rec('createService', spec);
    if (this.services.some((s) => s.Spec.Name === spec.Name)) throw conflict(`rpc error: code = AlreadyExists desc = name conflicts with an existing object`);
    return { ID: 'svc123' };
  }
  async updateService(ref: string, version: number, spec: ServiceSpec, opts: { rollback: boolean }): Promise<{ Warnings?: string[] }> {
    this.rec('updateService', ref, version, spec, opts);
    if (version < 5) throw new Error('rpc error: code = Unknown desc = update out of sequence');
    return { Warnings: ['w1'] };
  }
  async removeService(ref: string): Promise<void> {
    this.rec('removeService', ref);
  }
  async listTasks(filters: Filters): Promise<Task[]> {
    this.rec('listTasks', filters);
    return this.tasks;
  }
  async getTask(id: string): Promise<Task> {
    this.rec('getTask', id);
    const t = this.tasks.find((x) => x.ID === id);
    if (!t) throw notFound(`task ${id} not found`);
    return t;
  }
  serviceLogs(ref: string, req: LogRequest, signal: AbortSignal): AsyncIterable<ServiceLogLine> {
    this.rec('serviceLogs', ref, req);
    return this.logStream(signal);
  }
  taskLogs(id: string, req: LogRequest, signal: AbortSignal): AsyncIterable<ServiceLogLine> {
    this.rec('taskLogs', id, req);
    return this.logStream(signal);
  }
  logsAborted = false;
  private async *logStream(signal: AbortSignal): AsyncIterable<ServiceLogLine> {
    for (const l of this.logLines) yield l;
    if (this.holdLogs) {
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      this.logsAborted = true;
    }
  }
  // Networks are exercised against real daemons (test/e2e); the fake has none.
  async listNetworks(): Promise<undefined> {
    return undefined;
  }
  async getNetwork(ref: string): Promise<never> {
    throw notFound(`network ${ref} not found`);
  }
  async createNetwork(): Promise<never> {
    throw unimplemented('networks are not part of the fake backend');
  }
  async removeNetwork(ref: string): Promise<never> {
    throw notFound(`network ${ref} not found`);
  }
  async pruneNetworks(): Promise<string[]> {
    return [];
  }
  async networkView(): Promise<undefined> {
    return undefined;
  }
  // Secrets and configs likewise (test/e2e/secrets.test.ts).
  async listSecrets(f: Filters): Promise<never[]> {
    this.rec('listSecrets', f);
    return [];
  }
  async getSecret(ref: string): Promise<never> {
    throw notFound(`secret ${ref} not found`);
  }
  async createSecret(): Promise<never> {
    throw unimplemented('secrets are not part of the fake backend');
  }
  async updateSecret(ref: string): Promise<never> {
    throw notFound(`secret ${ref} not found`);
  }
  async removeSecret(ref: string): Promise<never> {
    throw notFound(`secret ${ref} not found`);
  }
  async listConfigs(): Promise<never[]> {
    return [];
  }
  async getConfig(ref: string): Promise<never> {
    throw notFound(`config ${ref} not found`);
  }
  async createConfig(): Promise<never> {
    throw unimplemented('configs are not part of the fake backend');
  }
  async updateConfig(ref: string): Promise<never> {
    throw notFound(`config ${ref} not found`);
  }
  async removeConfig(ref: string): Promise<never> {
    throw notFound(`config ${ref} not found`);
  }

  async *events(opts: { since?: number; until?: number; filters: Filters }, signal: AbortSignal): AsyncIterable<EngineEvent> {
    this.rec('events', opts);
    try {
      for (const e of this.eventsToSend) yield e;
      if (opts.until === undefined) await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
    } finally {
      this.eventStreamsEnded++;
    }
  }
}

export function mkNode(id: string, hostname: string): Node {
  return {
    ID: id,
    Version: { Index: 3 },
    CreatedAt: TS,
    UpdatedAt: TS,
    Spec: { Role: 'manager', Availability: 'active' },
    Description: { Hostname: hostname, Platform: { Architecture: 'x86_64', OS: 'linux' }, Resources: { NanoCPUs: 4e9, MemoryBytes: 1 << 30 }, Engine: { EngineVersion: '28.2.2' } },
    Status: { State: 'ready', Addr: '127.0.0.1' },
    ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: '127.0.0.1:2377' },
    internal: { raftId: 7 },
  };
}

export function mkService(id: string, name: string, tty = false): Service {
  return {
    ID: id,
    Version: { Index: 5 },
    CreatedAt: TS,
    UpdatedAt: TS,
    Spec: { Name: name, TaskTemplate: { ContainerSpec: { Image: 'nginx:alpine', TTY: tty } }, Mode: { Replicated: { Replicas: 1 } } },
    Endpoint: { Spec: {} },
    internal: { specVersion: 1 },
  };
}

export function mkTask(id: string, serviceId: string): Task {
  return {
    ID: id,
    Version: { Index: 6 },
    CreatedAt: TS,
    UpdatedAt: TS,
    Labels: {},
    Spec: { ContainerSpec: { Image: 'nginx:alpine' } },
    ServiceID: serviceId,
    Slot: 1,
    NodeID: 'node1',
    Status: { Timestamp: TS, State: 'running', Message: 'started' },
    DesiredState: 'running',
    internal: { specVersion: 1, serviceName: 'web' },
  };
}

export const FACTS: DaemonFacts = {
  version: '28.2.2',
  apiVersion: '1.47',
  minApiVersion: '1.24',
  hostname: 'shoal-test',
  os: 'linux',
  arch: 'x64',
  kernelVersion: os.release(),
  ncpu: 2,
  memTotal: 2 ** 31,
  dataDir: '/tmp/shoal-test',
  runtime: 'process',
};

// ---------------------------------------------------------------------------------------------
// HTTP helpers over unix sockets. Every wait is bounded.
