// The control API's contract: every operation the Engine API's swarm endpoints run on the Raft
// leader, with its request and response types, in one place. The HTTP backend (src/node/backend.ts)
// calls a ControlClient; the manager runs a call here through `localControl` when it leads (straight
// into ControlApi / NetworkControl / SecretControl, which write the store) and otherwise forwards it
// over shoal.Control (service.ts), whose leader side accepts exactly the operations named here.
// Internal methods of those classes (e.g. liveTasksOnNode, updateCluster without its checks) are not
// operations, so no forwarded call reaches them.
import type { Cluster, Config, ConfigSpec, Network, NetworkCreateRequest, Node, NodeSpec, Secret, SecretSpec, Service, ServiceSpec, SwarmSpec, Task } from '../../types';
import type { ControlApi, ServiceStatusCounts, SwarmRotation } from './controlapi';
import type { Filters } from './core/filters';
import type { NetworkControl } from './networks';
import type { SecretControl } from './secrets';

/** One method per operation: its parameters are the request, its return type the response. */
export interface ControlContract {
  getCluster(): Cluster;
  /** POST /swarm/update (and `docker swarm ca --rotate`): validated, written, a requested root rotation started. */
  updateSwarm(version: number, spec: SwarmSpec, rotate: SwarmRotation): void;

  listNodes(filters: Filters): Node[];
  getNode(ref: string): Node;
  updateNode(ref: string, version: number, spec: NodeSpec): void;
  removeNode(ref: string, force: boolean): void;

  listServices(filters: Filters, withStatus: boolean): (Service & { ServiceStatus?: ServiceStatusCounts })[];
  getService(ref: string, insertDefaults: boolean): Service;
  /** The new service's ID. */
  createService(spec: ServiceSpec): string;
  updateService(ref: string, version: number, spec: ServiceSpec, rollback: boolean): void;
  removeService(ref: string): void;

  listTasks(filters: Filters): Task[];
  getTask(id: string): Task;

  listNetworks(filters: Filters): Network[];
  getNetwork(ref: string): Network;
  /** The new network's ID. */
  createNetwork(req: NetworkCreateRequest): string;
  removeNetwork(ref: string): void;
  /** The names of the networks removed. */
  pruneNetworks(filters: Filters): string[];

  listSecrets(filters: Filters): Secret[];
  getSecret(ref: string): Secret;
  createSecret(spec: SecretSpec): string;
  updateSecret(ref: string, version: number, spec: SecretSpec): void;
  removeSecret(ref: string): void;

  listConfigs(filters: Filters): Config[];
  getConfig(ref: string): Config;
  createConfig(spec: ConfigSpec): string;
  updateConfig(ref: string, version: number, spec: ConfigSpec): void;
  removeConfig(ref: string): void;
}

export type ControlOperation = keyof ControlContract;
export type ControlRequest<K extends ControlOperation> = Parameters<ControlContract[K]>;
export type ControlResponse<K extends ControlOperation> = ReturnType<ControlContract[K]>;

/** The leader's side: runs an operation against this manager's store. */
export type LocalControl = { [K in ControlOperation]: (...args: ControlRequest<K>) => ControlResponse<K> | Promise<ControlResponse<K>> };

/** What callers hold: every operation, run on the leader wherever it is. */
export type ControlClient = { [K in ControlOperation]: (...args: ControlRequest<K>) => Promise<ControlResponse<K>> };

/**
 * The operations a follower may forward to the leader, derived from the contract: a Record over
 * every operation, so adding one to ControlContract fails to compile until it is listed here.
 */
const FORWARDABLE: Record<ControlOperation, true> = {
  getCluster: true,
  updateSwarm: true,
  listNodes: true,
  getNode: true,
  updateNode: true,
  removeNode: true,
  listServices: true,
  getService: true,
  createService: true,
  updateService: true,
  removeService: true,
  listTasks: true,
  getTask: true,
  listNetworks: true,
  getNetwork: true,
  createNetwork: true,
  removeNetwork: true,
  pruneNetworks: true,
  listSecrets: true,
  getSecret: true,
  createSecret: true,
  updateSecret: true,
  removeSecret: true,
  listConfigs: true,
  getConfig: true,
  createConfig: true,
  updateConfig: true,
  removeConfig: true,
};

export const CONTROL_OPERATIONS: readonly ControlOperation[] = Object.keys(FORWARDABLE) as ControlOperation[];

/** Whether `name` is an operation of the contract (own keys only: `constructor`, `__proto__`… are not). */
export const isControlOperation = (name: unknown): name is ControlOperation => typeof name === 'string' && Object.prototype.hasOwnProperty.call(FORWARDABLE, name);

/** Runs `local` on the leader when this manager leads; otherwise forwards `op` with `args` (the manager's path). */
export type ControlRunner = <K extends ControlOperation>(op: K, args: ControlRequest<K>, local: (control: LocalControl) => ControlResponse<K> | Promise<ControlResponse<K>>) => Promise<ControlResponse<K>>;

/** The typed client: each operation names its local implementation and its forwarded form. */
export function controlClient(run: ControlRunner): ControlClient {
  return {
    getCluster: () => run('getCluster', [], (c) => c.getCluster()),
    updateSwarm: (version, spec, rotate) => run('updateSwarm', [version, spec, rotate], (c) => c.updateSwarm(version, spec, rotate)),
    listNodes: (f) => run('listNodes', [f], (c) => c.listNodes(f)),
    getNode: (ref) => run('getNode', [ref], (c) => c.getNode(ref)),
    updateNode: (ref, version, spec) => run('updateNode', [ref, version, spec], (c) => c.updateNode(ref, version, spec)),
    removeNode: (ref, force) => run('removeNode', [ref, force], (c) => c.removeNode(ref, force)),
    listServices: (f, withStatus) => run('listServices', [f, withStatus], (c) => c.listServices(f, withStatus)),
    getService: (ref, insertDefaults) => run('getService', [ref, insertDefaults], (c) => c.getService(ref, insertDefaults)),
    createService: (spec) => run('createService', [spec], (c) => c.createService(spec)),
    updateService: (ref, version, spec, rollback) => run('updateService', [ref, version, spec, rollback], (c) => c.updateService(ref, version, spec, rollback)),
    removeService: (ref) => run('removeService', [ref], (c) => c.removeService(ref)),
    listTasks: (f) => run('listTasks', [f], (c) => c.listTasks(f)),
    getTask: (id) => run('getTask', [id], (c) => c.getTask(id)),
    listNetworks: (f) => run('listNetworks', [f], (c) => c.listNetworks(f)),
    getNetwork: (ref) => run('getNetwork', [ref], (c) => c.getNetwork(ref)),
    createNetwork: (req) => run('createNetwork', [req], (c) => c.createNetwork(req)),
    removeNetwork: (ref) => run('removeNetwork', [ref], (c) => c.removeNetwork(ref)),
    pruneNetworks: (f) => run('pruneNetworks', [f], (c) => c.pruneNetworks(f)),
    listSecrets: (f) => run('listSecrets', [f], (c) => c.listSecrets(f)),
    getSecret: (ref) => run('getSecret', [ref], (c) => c.getSecret(ref)),
    createSecret: (spec) => run('createSecret', [spec], (c) => c.createSecret(spec)),
    updateSecret: (ref, version, spec) => run('updateSecret', [ref, version, spec], (c) => c.updateSecret(ref, version, spec)),
    removeSecret: (ref) => run('removeSecret', [ref], (c) => c.removeSecret(ref)),
    listConfigs: (f) => run('listConfigs', [f], (c) => c.listConfigs(f)),
    getConfig: (ref) => run('getConfig', [ref], (c) => c.getConfig(ref)),
    createConfig: (spec) => run('createConfig', [spec], (c) => c.createConfig(spec)),
    updateConfig: (ref, version, spec) => run('updateConfig', [ref, version, spec], (c) => c.updateConfig(ref, version, spec)),
    removeConfig: (ref) => run('removeConfig', [ref], (c) => c.removeConfig(ref)),
  };
}

export interface LocalControlDeps {
  controlapi: ControlApi;
  networks: NetworkControl;
  secrets: SecretControl;
  /** The leader's swarm update (CA config checks and the root rotator live beside the manager). */
  updateSwarm: LocalControl['updateSwarm'];
}

/** The leader's implementation of every operation: straight into the control API, which writes the store. */
export function localControl(d: LocalControlDeps): LocalControl {
  const { controlapi: api, networks, secrets } = d;
  return {
    getCluster: () => api.getCluster(),
    updateSwarm: (version, spec, rotate) => d.updateSwarm(version, spec, rotate),
    listNodes: (f) => api.listNodes(f),
    getNode: (ref) => api.getNode(ref),
    updateNode: (ref, version, spec) => api.updateNode(ref, version, spec),
    removeNode: (ref, force) => api.removeNode(ref, force),
    listServices: (f, withStatus) => api.listServices(f, withStatus),
    getService: (ref, insertDefaults) => api.getService(ref, insertDefaults),
    createService: (spec) => api.createService(spec),
    updateService: (ref, version, spec, rollback) => api.updateService(ref, version, spec, rollback),
    removeService: (ref) => api.removeService(ref),
    listTasks: (f) => api.listTasks(f),
    getTask: (id) => api.getTask(id),
    listNetworks: (f) => networks.listNetworks(f),
    getNetwork: (ref) => networks.getNetwork(ref),
    createNetwork: (req) => networks.createNetwork(req),
    removeNetwork: (ref) => networks.removeNetwork(ref),
    pruneNetworks: (f) => networks.pruneNetworks(f),
    listSecrets: (f) => secrets.listSecrets(f),
    getSecret: (ref) => secrets.getSecret(ref),
    createSecret: (spec) => secrets.createSecret(spec),
    updateSecret: (ref, version, spec) => secrets.updateSecret(ref, version, spec),
    removeSecret: (ref) => secrets.removeSecret(ref),
    listConfigs: (f) => secrets.listConfigs(f),
    getConfig: (ref) => secrets.getConfig(ref),
    createConfig: (spec) => secrets.createConfig(spec),
    updateConfig: (ref, version, spec) => secrets.updateConfig(ref, version, spec),
    removeConfig: (ref) => secrets.removeConfig(ref),
  };
}

/**
 * Runs a forwarded operation (shoal.Control Call) on the leader's implementation. `args` arrive as
 * JSON from an authenticated manager; the operation was checked against the contract.
 */
export function runForwarded<K extends ControlOperation>(control: LocalControl, op: K, args: ControlRequest<K>): ControlResponse<K> | Promise<ControlResponse<K>> {
  const fn = control[op] as (...a: ControlRequest<K>) => ControlResponse<K> | Promise<ControlResponse<K>>;
  return fn(...args);
}
