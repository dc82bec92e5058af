import type { Cluster, Config, ConfigSpec, Network, NetworkCreateRequest, Node, NodeSpec, Secret, SecretSpec, Service, ServiceSpec, SwarmSpec, Task } from '../types';

// What the HTTP layer needs from the daemon. The API routers parse and shape; the backend decides.
// Every method throws ShoalError kinds (src/lib/errors.ts); src/api maps them to HTTP statuses.

/** Engine API filters, normalized: `{"name":{"web":true}}` and `{"name":["web"]}` both become `{name:["web"]}`. */
export type Filters = Record<string, string[]>;

export interface InitRequest {
  ListenAddr?: string;
  AdvertiseAddr?: string;
  DataPathAddr?: string;
  DataPathPort?: number;
  DefaultAddrPool?: string[];
  ForceNewCluster?: boolean;
  SubnetSize?: number;
  Spec?: Partial<SwarmSpec>;
}

export interface JoinRequest {
  ListenAddr?: string;
  AdvertiseAddr?: string;
  DataPathAddr?: string;
  RemoteAddrs: string[];
  JoinToken: string;
}

export interface SwarmUpdateFlags {
  rotateWorkerToken: boolean;
  rotateManagerToken: boolean;
  rotateManagerUnlockKey: boolean;
}

/** The `Swarm` block of GET /info. */
export interface SwarmInfo {
  NodeID: string;
  NodeAddr: string;
  LocalNodeState: 'inactive' | 'pending' | 'active' | 'error' | 'locked';
  ControlAvailable: boolean;
  Error: string;
  RemoteManagers: { NodeID: string; Addr: string }[] | null;
  Nodes?: number;
  Managers?: number;
  Cluster?: Omit<Cluster, 'JoinTokens' | 'internal'>;
}

export interface ServiceCreateResult {
  ID: string;
  Warnings?: string[];
}

export interface ServiceUpdateOptions {
  /** `rollback=previous`: restore PreviousSpec. */
  rollback: boolean;
}

export interface ServiceStatusCounts {
  RunningTasks: number;
  DesiredTasks: number;
  CompletedTasks: number;
}

export interface LogRequest {
  follow: boolean;
  tail: number | 'all';
  timestamps: boolean;
  since?: number;
  stdout: boolean;
  stderr: boolean;
  details: boolean;
}

/** One log line with the context `docker service logs` prints before it. */
export interface ServiceLogLine {
  stream: 'stdout' | 'stderr';
  time: number;
  data: Buffer;
  /** details=true: com.docker.swarm.node.id=…,com.docker.swarm.service.id=…,com.docker.swarm.task.id=… */
  taskId: string;
  nodeId: string;
  serviceId: string;
}

/** An event as GET /events streams it (Type, Action, Actor{ID, Attributes}, scope, time, timeNano). */
export interface EngineEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local' | 'swarm';
  time: number;
  timeNano: number;
}

export interface ClusterBackend {
  swarmInfo(): Promise<SwarmInfo>;
  init(req: InitRequest): Promise<string /* node ID */>;
  join(req: JoinRequest): Promise<void>;
  leave(force: boolean): Promise<void>;
  inspectSwarm(): Promise<Cluster>;
  updateSwarm(version: number, spec: SwarmSpec, flags: SwarmUpdateFlags): Promise<void>;
  unlockKey(): Promise<string>;
  /** `POST /swarm/unlock`: the unlock key as the user typed it (`SWMKEY-1-…`). */
  unlock(key: string): Promise<void>;

  listNodes(filters: Filters): Promise<Node[]>;
  getNode(ref: string): Promise<Node>;
  updateNode(ref: string, version: number, spec: NodeSpec): Promise<void>;
  removeNode(ref: string, force: boolean): Promise<void>;

  listServices(filters: Filters, withStatus: boolean): Promise<(Service & { ServiceStatus?: ServiceStatusCounts })[]>;
  getService(ref: string, insertDefaults: boolean): Promise<Service>;
  createService(spec: ServiceSpec): Promise<ServiceCreateResult>;
  updateService(ref: string, version: number, spec: ServiceSpec, opts: ServiceUpdateOptions): Promise<{ Warnings?: string[] }>;
  removeService(ref: string): Promise<void>;

  listTasks(filters: Filters): Promise<Task[]>;
  getTask(id: string): Promise<Task>;

  serviceLogs(ref: string, req: LogRequest, signal: AbortSignal): AsyncIterable<ServiceLogLine>;
  taskLogs(id: string, req: LogRequest, signal: AbortSignal): AsyncIterable<ServiceLogLine>;

  /** Swarm networks (undefined from a node that is not a manager: `/networks` then shows only the engine's). */
  listNetworks(filters: Filters): Promise<Network[] | undefined>;
  getNetwork(ref: string): Promise<Network>;
  createNetwork(req: NetworkCreateRequest): Promise<string>;
  removeNetwork(ref: string): Promise<void>;
  pruneNetworks(filters: Filters): Promise<string[]>;
  /** What `network inspect` shows from this node: its ID and each node's name and address. */
  networkView(): Promise<{ nodeId: string; nodes: { ID: string; Name: string; Addr: string }[] } | undefined>;

  /** Swarm secrets: never with their data. */
  listSecrets(filters: Filters): Promise<Secret[]>;
  getSecret(ref: string): Promise<Secret>;
  createSecret(spec: SecretSpec): Promise<string>;
  /** Labels only; a changed name or data is refused. */
  updateSecret(ref: string, version: number, spec: SecretSpec): Promise<void>;
  removeSecret(ref: string): Promise<void>;
  /** Swarm configs, with their data as Docker shows it. */
  listConfigs(filters: Filters): Promise<Config[]>;
  getConfig(ref: string): Promise<Config>;
  createConfig(spec: ConfigSpec): Promise<string>;
  updateConfig(ref: string, version: number, spec: ConfigSpec): Promise<void>;
  removeConfig(ref: string): Promise<void>;

  /** Swarm-scoped events (service, node, secret, config, network) since/until seconds, filtered. */
  events(opts: { since?: number; until?: number; filters: Filters }, signal: AbortSignal): AsyncIterable<EngineEvent>;
}

export type { DaemonFacts } from './convert/system';
