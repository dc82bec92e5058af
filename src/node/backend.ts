import type {
  ClusterBackend,
  EngineEvent,
  Filters,
  InitRequest,
  JoinRequest,
  LogRequest,
  ServiceLogLine,
  SwarmInfo,
  SwarmUpdateFlags,
} from '../api/backend';
import { permissionDenied as forbidden, unavailable, NOT_A_MANAGER_MESSAGE, NOT_A_MANAGER_WORKER_MESSAGE } from '../lib/errors';
import type { ConfigSpec, Network, NetworkCreateRequest, NodeSpec, SecretSpec, ServiceSpec, SwarmSpec } from '../types';
import type { NodeServices } from './services';
import type { MemoryStore } from '../store';
import { mergeLogStreams } from './logs';
import { hostOf } from './addr';
import { EventLog } from './events';
import type { ControlClient } from '../manager/controlapi/contract';
import { humanUnlockKey } from '../lib/unlock-key';
import { SWARM_LOCKED } from './core/roles-machine';

/**
 * The daemon's answer to the Engine API's swarm endpoints: on a manager they go to the control
 * API; elsewhere they fail with Docker's texts.
 */
export class NodeBackend implements ClusterBackend {
  private eventLog = new EventLog({ warn: (o, m) => this.node.logger.warn(o, m), error: (o, m) => this.node.logger.error(o, m) });

  constructor(private readonly node: NodeServices) {}

  /** Called when a manager role starts, so events flow from its store. */
  attachEvents(store: MemoryStore): void {
    this.eventLog.attach(store);
  }

  /** The running manager, or Docker's error for a locked node, a worker, or a node in no swarm. */
  private get manager() {
    if (this.node.locked()) throw unavailable(SWARM_LOCKED);
    const m = this.node.manager();
    if (!m) throw unavailable(this.node.swarm() ? NOT_A_MANAGER_WORKER_MESSAGE : NOT_A_MANAGER_MESSAGE);
    return m;
  }

  private get control() {
    return this.manager.controlapi;
  }

  /**
   * The control API (manager/controlapi/contract.ts), run on the Raft leader: here when this manager
   * leads, else forwarded (shoal.Control). Reads go there too, so a manager without a leader answers
   * Docker's "The swarm does not have a leader" error. Every caller below is async, so the refusals
   * here reach the API as rejections.
   */
  private get onLeader(): ControlClient {
    return this.manager.control;
  }

  async swarmInfo(): Promise<SwarmInfo> {
    const st = this.node.swarm();
    if (!st) return { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null };
    // moby: a locked node reports the state and errSwarmLocked, nothing else (the CLI prints "Swarm: locked")
    if (this.node.locked()) return { NodeID: '', NodeAddr: '', LocalNodeState: 'locked', ControlAvailable: false, Error: SWARM_LOCKED, RemoteManagers: null };
    const m = this.node.manager();
    const base: SwarmInfo = {
      NodeID: st.nodeId,
      NodeAddr: hostOf(st.advertiseAddr),
      LocalNodeState: 'active',
      ControlAvailable: !!m,
      Error: '',
      RemoteManagers: [{ NodeID: st.nodeId, Addr: st.advertiseAddr }],
    };
    if (!m) {
      base.RemoteManagers = (st.managers ?? []).map((x) => ({ NodeID: x.nodeId, Addr: x.addr }));
      return base;
    }
    const nodes = m.controlapi.listNodes({});
    const managers = nodes.filter((n) => n.Spec.Role === 'manager');
    base.RemoteManagers = managers.map((n) => ({ NodeID: n.ID, Addr: n.ManagerStatus?.Addr ?? n.Status.Addr }));
    base.Nodes = nodes.length;
    base.Managers = managers.length;
    const { JoinTokens: _t, internal: _i, ...cluster } = m.controlapi.getCluster();
    base.Cluster = cluster;
    return base;
  }

  init(req: InitRequest): Promise<string> {
    return this.node.init(req);
  }

  join(req: JoinRequest): Promise<void> {
    return this.node.join(req);
  }

  leave(force: boolean): Promise<void> {
    return this.node.leave(force);
  }

  async inspectSwarm() {
    return this.onLeader.getCluster();
  }

  async updateSwarm(version: number, spec: SwarmSpec, flags: SwarmUpdateFlags): Promise<void> {
    // `docker swarm ca --rotate` arrives here as CAConfig.ForceRotate+1 or a SigningCACert/Key; the
    // manager's root rotator (src/manager/ca/rotation.ts) acts on the stored spec.
    // Runs on the leader (src/manager/swarm-update.ts, through the contract's updateSwarm).
    await this.onLeader.updateSwarm(version, spec, { worker: flags.rotateWorkerToken, manager: flags.rotateManagerToken, unlockKey: flags.rotateManagerUnlockKey });
  }

  /** `SWMKEY-1-…` while autolock is on; '' otherwise (the CLI then says "no unlock key is set"). */
  async unlockKey(): Promise<string> {
    const c = await this.onLeader.getCluster();
    const k = c.internal?.unlockKey;
    return k ? humanUnlockKey(Buffer.from(k, 'base64')) : '';
  }

  unlock(key: string): Promise<void> {
    return this.node.unlock(key);
  }

  async listNodes(f: Filters) {
    return this.onLeader.listNodes(f);
  }
  async getNode(ref: string) {
    return this.onLeader.getNode(ref);
  }
  async updateNode(ref: string, version: number, spec: NodeSpec) {
    await this.onLeader.updateNode(ref, version, spec);
  }
  async removeNode(ref: string, force: boolean) {
    await this.onLeader.removeNode(ref, force);
  }

  async listServices(f: Filters, withStatus: boolean) {
    return this.onLeader.listServices(f, withStatus);
  }
  async getService(ref: string, insertDefaults: boolean) {
    return this.onLeader.getService(ref, insertDefaults);
  }
  async createService(spec: ServiceSpec) {
    const ID = await this.onLeader.createService(spec);
    return { ID };
  }
  async updateService(ref: string, version: number, spec: ServiceSpec, opts: { rollback: boolean }) {
    await this.onLeader.updateService(ref, version, spec, opts.rollback);
    return {};
  }
  async removeService(ref: string) {
    await this.onLeader.removeService(ref);
  }

  async listTasks(f: Filters) {
    return this.onLeader.listTasks(f);
  }
  async getTask(id: string) {
    return this.onLeader.getTask(id);
  }

  serviceLogs(ref: string, req: LogRequest, signal: AbortSignal): AsyncIterable<ServiceLogLine> {
    const control = this.control;
    const svc = control.getService(ref, false);
    return this.logsOf(() => control.listTasks({ service: [svc.ID] }), req, signal);
  }

  taskLogs(id: string, req: LogRequest, signal: AbortSignal): AsyncIterable<ServiceLogLine> {
    const control = this.control;
    const t = control.getTask(id);
    return this.logsOf(() => [control.getTask(t.ID)], req, signal);
  }

  private logsOf(tasks: () => import('../types').Task[], req: LogRequest, signal: AbortSignal): AsyncIterable<ServiceLogLine> {
    const open = this.node.taskLogs();
    if (!open) throw unavailable('this node has no agent');
    const options = { follow: req.follow, tail: req.tail, timestamps: req.timestamps, since: req.since };
    return mergeLogStreams({
      tasks,
      // This node's tasks from its agent, the others' through the broker or the leader (task-logs.ts).
      open: (t, s) => open(t.NodeID!, t.ID, options, s),
      follow: req.follow,
      watch: this.node.manager()?.store,
      signal,
      log: this.node.logger,
    });
  }

  async listNetworks(f: Filters): Promise<Network[] | undefined> {
    if (!this.node.manager()) return undefined;
    return this.onLeader.listNetworks(f);
  }
  async getNetwork(ref: string) {
    return this.onLeader.getNetwork(ref);
  }
  async createNetwork(req: NetworkCreateRequest) {
    if (!this.node.manager() && this.node.swarm()) {
      throw forbidden('Cannot create a multi-host network from a worker node. Please create the network from a manager node.');
    }
    return this.onLeader.createNetwork(req);
  }
  async removeNetwork(ref: string) {
    await this.onLeader.removeNetwork(ref);
  }
  async pruneNetworks(f: Filters) {
    if (!this.node.manager()) return [];
    return this.onLeader.pruneNetworks(f);
  }
  async networkView() {
    const st = this.node.swarm();
    const m = this.node.manager();
    if (!st || !m) return undefined;
    const nodes = m.controlapi.listNodes({}).map((n) => ({ ID: n.ID, Name: n.Description.Hostname, Addr: n.Status.Addr }));
    return { nodeId: st.nodeId, nodes };
  }

  async listSecrets(f: Filters) {
    return this.onLeader.listSecrets(f);
  }
  async getSecret(ref: string) {
    return this.onLeader.getSecret(ref);
  }
  async createSecret(spec: SecretSpec) {
    return this.onLeader.createSecret(spec);
  }
  async updateSecret(ref: string, version: number, spec: SecretSpec) {
    await this.onLeader.updateSecret(ref, version, spec);
  }
  async removeSecret(ref: string) {
    await this.onLeader.removeSecret(ref);
  }
  async listConfigs(f: Filters) {
    return this.onLeader.listConfigs(f);
  }
  async getConfig(ref: string) {
    return this.onLeader.getConfig(ref);
  }
  async createConfig(spec: ConfigSpec) {
    return this.onLeader.createConfig(spec);
  }
  async updateConfig(ref: string, version: number, spec: ConfigSpec) {
    await this.onLeader.updateConfig(ref, version, spec);
  }
  async removeConfig(ref: string) {
    await this.onLeader.removeConfig(ref);
  }

  events(opts: { since?: number; until?: number; filters: Filters }, signal: AbortSignal): AsyncIterable<EngineEvent> {
    return this.eventLog.stream(opts, signal);
  }
}
