import { nextUnlockKey, UNLOCK_KEY_BYTES } from '../../lib/unlock-key';
import { conflict, failedPrecondition, internal, invalidArgument, unavailable } from '../../lib/errors';
import { newId } from '../../lib/ids';
import { isoTime } from '../../lib/time';
import type { ReadTx } from '../../store';
import type { ControlApiDeps } from './deps';
import type { Cluster, Node, NodeSpec, Service, ServiceSpec, SwarmSpec, Task } from '../../types';
import { isJob, isTerminal, modeName } from '../../types';
import { jobCounts } from './core/status';
import { withDefaults } from './core/defaults';
import { nodeMatches, serviceMatches, taskMatches, type Filters } from './core/filters';
import { resolveRef } from './core/resolve';
import { grpcText, normalizeServiceSpec, validateNodeSpec, validateServiceSpec } from './core/validate';
import { checkPortConflicts, resolveServiceNetworks } from './networks';
import { checkServiceReferences } from './secrets';

export interface ServiceStatusCounts {
  RunningTasks: number;
  DesiredTasks: number;
  CompletedTasks: number;
}

/** What `swarm update` asks to replace: the join tokens, the manager unlock key. */
export interface SwarmRotation {
  worker: boolean;
  manager: boolean;
  unlockKey?: boolean;
}

export type { ControlApiDeps } from './deps';

/**
 * The manager's control API: validates requests and turns them into store transactions.
 * It never creates tasks or talks to nodes; the orchestrators react to what it writes.
 */
export class ControlApi {
  constructor(private deps: ControlApiDeps) {}

  private get store() {
    return this.deps.store;
  }
  private now() {
    return isoTime(this.deps.clock.now());
  }

  // ---- cluster
  getCluster(): Cluster {
    const c = this.store.view((tx) => tx.find('cluster')[0]);
    if (!c) throw unavailable('cluster object not found');
    return c;
  }

  /**
   * The cluster object as the store holds it, not a copy (MemoryStore.read): for readers that only look
   * at it. Every heartbeat names the CA's root and key from it, and a copy of its certificates and keys
   * per heartbeat was 2 % of a leader's CPU with 1,000 nodes (issue 15). Never change it.
   */
  sharedCluster(): Cluster {
    const c = this.store.read((tx) => tx.find('cluster')[0]);
    if (!c) throw unavailable('cluster object not found');
    return c;
  }

  async updateCluster(version: number, spec: SwarmSpec, rotate: SwarmRotation): Promise<void> {
    if ((spec.CAConfig?.NodeCertExpiry ?? 0) !== 0 && spec.CAConfig.NodeCertExpiry < 3600 * 1e9) {
      throw invalidArgument(grpcText('InvalidArgument', 'minimum certificate expiry time is 1h0m0s'));
    }
    if ((spec.Dispatcher?.HeartbeatPeriod ?? 1) <= 0) throw invalidArgument(grpcText('InvalidArgument', 'heartbeat period must be positive'));
    await this.store.update((tx) => {
      const c = tx.find('cluster')[0];
      if (!c) throw unavailable('cluster object not found');
      if (c.Version.Index !== version) throw internal(grpcText('Unknown', 'update out of sequence'));
      c.Spec = { ...c.Spec, ...spec, Name: c.Spec.Name };
      if (rotate.worker) c.JoinTokens.Worker = this.deps.newJoinToken('worker');
      if (rotate.manager) c.JoinTokens.Manager = this.deps.newJoinToken('manager');
      const unlockKey = nextUnlockKey(c.internal.unlockKey, !!c.Spec.EncryptionConfig?.AutoLockManagers, !!rotate.unlockKey, () => this.deps.rng.bytes(UNLOCK_KEY_BYTES));
      if (unlockKey) c.internal.unlockKey = unlockKey;
      else delete c.internal.unlockKey;
      c.UpdatedAt = this.now();
      tx.update('cluster', c);
    });
  }

  // ---- nodes
  // List and get calls hand out committed objects without copying (`store.read`): their results only
  // go to the API's converters, which build new objects. Anything that mutates a result uses view().
  listNodes(f: Filters): Node[] {
    return this.store.read((tx) => tx.find('node', (n) => nodeMatches(n, f)));
  }

  getNode(ref: string): Node {
    return this.store.view((tx) => this.resolveNode(tx, ref));
  }

  private resolveNode(tx: ReadTx, ref: string): Node {
    return resolveRef(tx.find('node'), ref, (n) => n.Description?.Hostname, 'node');
  }

  async updateNode(ref: string, version: number, spec: NodeSpec): Promise<void> {
    validateNodeSpec(spec);
    await this.store.update((tx) => {
      const n = this.resolveNode(tx, ref);
      if (n.Version.Index !== version) throw internal(grpcText('Unknown', 'update out of sequence'));
      if (n.Spec.Role === 'manager' && spec.Role === 'worker') {
        const managers = this.deps.raftMembers?.() ?? tx.find('node', (o) => o.Spec.Role === 'manager').length;
        if (managers <= 1) throw failedPrecondition(grpcText('FailedPrecondition', 'attempting to demote the last manager of the swarm'));
        if (this.deps.canRemoveManager && !this.deps.canRemoveManager(n.ID)) {
          throw failedPrecondition(grpcText('FailedPrecondition', "can't remove member from the raft: this would result in a loss of quorum"));
        }
      }
      n.Spec = { ...spec, Labels: spec.Labels ?? {} };
      n.UpdatedAt = this.now();
      tx.update('node', n);
    });
  }

  async removeNode(ref: string, force: boolean): Promise<void> {
    await this.store.update((tx) => {
      const n = this.resolveNode(tx, ref);
      if (n.Spec.Role === 'manager' || n.ManagerStatus) {
        throw failedPrecondition(grpcText('FailedPrecondition', `node ${n.ID} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`));
      }
      if (!force && n.Status.State !== 'down') {
        throw failedPrecondition(grpcText('FailedPrecondition', `node ${n.ID} is not down and can't be removed`));
      }
      tx.delete('node', n.ID);
    });
  }

  // ---- services
  listServices(f: Filters, withStatus: boolean): (Service & { ServiceStatus?: ServiceStatusCounts })[] {
    return this.store.read((tx) => {
      const services = tx.find('service', (s) => serviceMatches(s, f));
      if (!withStatus) return services;
      const liveNodes = new Set(tx.find('node', (n) => n.Status.State !== 'down').map((n) => n.ID));
      return services.map((s) => ({ ...s, ServiceStatus: isJob(s) ? jobCounts(s, tx.tasksByService(s.ID)) : this.counts(s, liveNodes) }));
    });
  }

  /** From the store's per-node counts: a sum over the service's nodes, not a pass over its tasks. */
  private counts(s: Service, liveNodes: Set<string>): ServiceStatusCounts {
    let running = 0;
    let completed = 0;
    let desiredGlobal = 0;
    for (const [nodeId, c] of this.store.taskCountsByNode(s.ID)) {
      const live = liveNodes.has(nodeId);
      if (live) running += c.running;
      completed += c.completed;
      if (live) desiredGlobal += c.desiredRunning;
    }
    const desired = s.Spec.Mode.Global ? desiredGlobal : (s.Spec.Mode.Replicated?.Replicas ?? 0);
    return { RunningTasks: running, DesiredTasks: desired, CompletedTasks: completed };
  }

  getService(ref: string, insertDefaults: boolean): Service {
    const s = this.store.view((tx) => this.resolveService(tx, ref));
    if (insertDefaults) {
      s.Spec = withDefaults(s.Spec);
      if (s.PreviousSpec) s.PreviousSpec = withDefaults(s.PreviousSpec);
    }
    return s;
  }

  private resolveService(tx: ReadTx, ref: string): Service {
    return resolveRef(tx.find('service'), ref, (s) => s.Spec.Name, 'service');
  }

  async createService(input: ServiceSpec): Promise<string> {
    validateServiceSpec(input);
    const spec = normalizeServiceSpec(input);
    const id = newId(this.deps.rng);
    const now = this.now();
    await this.store.update((tx) => {
      if (tx.find('service', (s) => s.Spec.Name === spec.Name).length > 0) {
        throw conflict(grpcText('AlreadyExists', `service ${spec.Name} already exists`));
      }
      resolveServiceNetworks(tx, spec);
      checkPortConflicts(tx, spec, undefined);
      checkServiceReferences(tx, spec);
      const svc: Service = {
        ID: id,
        Version: { Index: 0 },
        CreatedAt: now,
        UpdatedAt: now,
        Spec: spec,
        Endpoint: { Spec: spec.EndpointSpec ?? { Mode: 'vip' } },
        // A job starts its first iteration now (swarmkit's CreateService).
        ...(isJob({ Spec: spec }) ? { JobStatus: { JobIteration: { Index: 0 }, LastExecution: now } } : {}),
        internal: { specVersion: 1 },
      };
      tx.create('service', svc);
    });
    return id;
  }

  async updateService(ref: string, version: number, input: ServiceSpec, rollback: boolean): Promise<void> {
    if (!rollback) validateServiceSpec(input);
    await this.store.update((tx) => {
      const s = this.resolveService(tx, ref);
      if (s.Version.Index !== version) throw internal(grpcText('Unknown', 'update out of sequence'));
      const now = this.now();
      if (rollback) {
        if (!s.PreviousSpec) throw failedPrecondition(grpcText('FailedPrecondition', `service ${s.ID} does not have a previous spec`));
        const cur = s.Spec;
        s.Spec = s.PreviousSpec;
        s.PreviousSpec = cur;
        s.UpdateStatus = { State: 'rollback_started', StartedAt: now, Message: 'manually requested rollback' };
      } else {
        const spec = normalizeServiceSpec(input);
        if (spec.Name !== s.Spec.Name) throw invalidArgument(grpcText('Unimplemented', 'renaming services is not supported'));
        if (modeName(spec.Mode) !== modeName(s.Spec.Mode)) throw invalidArgument(grpcText('Unimplemented', 'service mode change is not allowed'));
        resolveServiceNetworks(tx, spec);
        checkPortConflicts(tx, spec, s.ID);
        checkServiceReferences(tx, spec);
        // An update sent without registry credentials keeps the ones the service has (moby's
        // registryAuthFrom=spec), so its tasks still pull from a private registry.
        const keptAuth = s.Spec.TaskTemplate.ContainerSpec?.PullOptions;
        if (keptAuth && spec.TaskTemplate.ContainerSpec && !spec.TaskTemplate.ContainerSpec.PullOptions) spec.TaskTemplate.ContainerSpec.PullOptions = keptAuth;
        s.PreviousSpec = s.Spec;
        s.Spec = spec;
        // As swarmkit: a new spec starts afresh; the update supervisor writes the new status.
        delete s.UpdateStatus;
      }
      // Any update of a job (rollback too) starts a new iteration: `docker service update --force` reruns it (swarmkit's UpdateService).
      if (s.JobStatus) s.JobStatus = { JobIteration: { Index: s.JobStatus.JobIteration.Index + 1 }, LastExecution: now };
      s.Endpoint = { ...s.Endpoint, Spec: s.Spec.EndpointSpec ?? { Mode: 'vip' } };
      s.internal = { specVersion: s.internal.specVersion + 1, previousSpecVersion: s.internal.specVersion };
      s.UpdatedAt = now;
      tx.update('service', s);
    });
  }

  async removeService(ref: string): Promise<void> {
    await this.store.update((tx) => {
      const s = this.resolveService(tx, ref);
      tx.delete('service', s.ID);
    });
  }

  // ---- tasks
  listTasks(f: Filters): Task[] {
    return this.store.read((tx) => {
      const services = tx.find('service');
      const specVersions = new Map(services.map((s) => [s.ID, s.internal.specVersion]));
      const serviceLabels = new Map(services.map((s) => [s.ID, s.Spec.Labels ?? {}]));
      let serviceIds: Set<string> | undefined;
      if (f.service?.length) {
        // Docker answers 404 for a service filter naming a service that does not exist.
        serviceIds = new Set(f.service.map((ref) => this.resolveService(tx, ref).ID));
      }
      let nodeIds: Set<string> | undefined;
      if (f.node?.length) nodeIds = new Set(f.node.map((ref) => this.resolveNode(tx, ref).ID));
      const tasks = serviceIds ? [...serviceIds].flatMap((id) => tx.tasksByService(id)) : tx.find('task');
      return tasks.filter((t) => taskMatches(t, f, { serviceIds, nodeIds, specVersions, serviceLabels }));
    });
  }

  getTask(ref: string): Task {
    return this.store.read((tx) => resolveRef(tx.find('task'), ref, () => undefined, 'task'));
  }

  /** Tasks still running somewhere; a node leaving or being removed wants to know. */
  liveTasksOnNode(nodeId: string): Task[] {
    return this.store.view((tx) => tx.tasksByNode(nodeId).filter((t) => !isTerminal(t.Status.State)));
  }
}

