// The manager's listener on the swarm port (--listen-addr, default 0.0.0.0:2377): one gRPC server
// over mutual TLS carrying NodeCA (join / renew, anonymous-capable), the Dispatcher (any swarm node),
// Health, shoal.Raft (messages between managers) and shoal.Control (operations forwarded to the leader).
import type { Logger } from 'pino';
import { createRpcServer, type ManagerRef, type RpcServer } from '../rpc';
import { DispatcherService, HealthService } from '../rpc/protocol';
import { RaftService, raftServiceHandlers } from '../manager/consensus';
import { ControlService, controlHandlers } from '../manager/controlapi/service';
import { nodeCAHandlers, NodeCAService, type NodeCABackend } from '../manager/ca/service';
import { dispatcherHandlers } from '../manager/dispatcher/rpc';
import { relayDispatcherHandlers } from '../manager/dispatcher/relay';
import { LogBroker } from '../manager/dispatcher/logbroker';
import type { LogLine, LogOptions } from '../agent/executor/types';
import { RootRotator, caTarget, signingMaterial } from '../manager/ca/rotation';
import type { Manager } from '../manager/manager';
import { isoTime } from '../lib/time';
import { newId } from '../lib/ids';
import type { Cluster, Node, NodeAvailability } from '../types';
import type { NodeCredentials } from '../manager/ca/keystore';
import { newJoinToken, systemClock, systemRng } from './system';
import { TaskLogs } from './task-logs';
import { forEachGuarded, runInBackground } from '../sys/loop-guard';

export interface ManagerTransportOptions {
  listenAddr: string;
  manager: Manager;
  credentials: NodeCredentials;
  /** The cluster this node belongs to (a joining manager's store is still empty when the server starts). */
  clusterId: string;
  logger: Logger;
  /** This node's ID, and the lines of its own tasks (its agent, which starts after the transport). */
  nodeId: string;
  localLogs: (taskId: string, options: LogOptions, signal: AbortSignal) => AsyncIterable<LogLine>;
}

export class ManagerTransport {
  private server: RpcServer;
  private readonly manager: Manager;
  /** Log subscriptions for tasks on other nodes (`docker service logs`). */
  readonly logBroker = new LogBroker();
  /** Where a task's lines are read from this manager (its agent, the broker, or the leader). */
  readonly taskLogs: TaskLogs;
  /** Drives `docker swarm ca --rotate` from the cluster object. */
  readonly rotator: RootRotator;

  constructor(opts: ManagerTransportOptions) {
    const manager = (this.manager = opts.manager);
    const taskLogs = (this.taskLogs = new TaskLogs({ manager, broker: this.logBroker, nodeId: opts.nodeId, local: opts.localLogs }));
    const store = manager.store;
    // read only here (CA material, join tokens, TLS facts for answers): the store's own object, not a copy
    const cluster = (): Cluster => manager.controlapi.sharedCluster();
    // A manager still catching up (no cluster object yet) trusts the roots its certificate came with.
    const trustRoot = (): string => (store.read((tx) => tx.find('cluster')).length ? signingMaterial(cluster()).trustRoot : opts.credentials.caPem);
    const backend: NodeCABackend = {
      clusterId: () => cluster().ID,
      rootCA: () => signingMaterial(cluster()).ca,
      chain: () => signingMaterial(cluster()).chain,
      trustRoot: () => signingMaterial(cluster()).trustRoot,
      joinRoot: () => signingMaterial(cluster()).joinRoot,
      joinTokens: () => ({ worker: cluster().JoinTokens.Worker, manager: cluster().JoinTokens.Manager }),
      certExpiryMs: () => Math.floor((cluster().Spec.CAConfig?.NodeCertExpiry ?? 0) / 1e6),
      registerNode: async (req) => {
        const id = newId(systemRng);
        const ts = isoTime(systemClock.now());
        const availability: NodeAvailability = req.availability === 'pause' || req.availability === 'drain' ? req.availability : 'active';
        const node: Node = {
          ID: id,
          Version: { Index: 0 },
          CreatedAt: ts,
          UpdatedAt: ts,
          Spec: { Labels: {}, Role: req.role, Availability: availability },
          Description: {
            Hostname: req.hostname ?? '',
            Platform: { Architecture: '', OS: '' },
            Resources: { NanoCPUs: 0, MemoryBytes: 0 },
            Engine: { EngineVersion: '' },
            TLSInfo: cluster().TLSInfo,
          },
          Status: { State: 'unknown', Addr: req.addr ?? '' },
        };
        // Node objects are written by the leader (a follower forwards over shoal.Control RegisterNode).
        await manager.registerNode(node);
        opts.logger.info({ nodeId: id, role: req.role, hostname: req.hostname }, 'node joined');
        return id;
      },
      nodeRole: (nodeId) => store.view((tx) => tx.get('node', nodeId))?.Spec.Role ?? null,
    };
    this.server = createRpcServer({
      address: opts.listenAddr,
      certPem: opts.credentials.certPem,
      keyPem: opts.credentials.keyPem,
      caPem: trustRoot(),
      clientAuth: 'optional',
      clusterId: opts.clusterId,
      // A removed node's certificate is refused on every authenticated call. Raft peers are let through
      // while this manager knows no leader, and the leader always: a restarted manager's store lags
      // behind until the leader has caught it up (its commit index is learnt from the leader).
      isNodeAllowed: (nodeId) =>
        store.read((tx) => tx.get('node', nodeId) !== undefined || tx.find('cluster').length === 0) ||
        manager.members().some((m) => m.nodeId === nodeId) ||
        !manager.leaderAddr() ||
        manager.consensus?.leader()?.nodeId === nodeId,
    });
    this.server.addService(NodeCAService, nodeCAHandlers(backend));
    this.server.addService(RaftService, raftServiceHandlers(() => manager.consensus));
    this.server.addService(
      ControlService,
      controlHandlers({
        exec: (op, args, caller) => manager.serveForwarded(op, args, caller),
        registerNode: (node, caller) => manager.serveRegisterNode(node, caller),
        appliedIndex: () => manager.store.index,
        logs: (req, signal) => taskLogs.serve(req, signal),
      }),
    );
    const dispatch = dispatcherHandlers({
      dispatcher: manager.dispatcher,
      managers: () => managerRefs(manager),
      tlsInfo: () => cluster().TLSInfo,
      caTarget: (nodeId) => {
        const role = store.read((tx) => tx.get('node', nodeId))?.Spec.Role;
        return caTarget(cluster(), role);
      },
      logBroker: this.logBroker,
      // a relayed batch names its nodes: one removed from the swarm is refused as its own call would be
      nodeAllowed: (nodeId) => store.read((tx) => tx.get('node', nodeId) !== undefined),
    });
    // The leader's dispatcher holds every session; the other managers relay their agents' calls to it.
    this.server.addService(
      DispatcherService,
      relayDispatcherHandlers(dispatch, {
        leads: () => manager.isLeader(),
        leaderChannel: () => manager.leaderChannel(),
        refusal: () => manager.dispatcherRefusal(),
        closing: () => this.closing,
      }),
    );
    this.server.addService(HealthService, { Check: () => ({ status: 'SERVING' as const }) });
    this.rotator = new RootRotator({
      store,
      now: () => systemClock.now(),
      newJoinToken,
      logger: opts.logger,
    });
    // Node certificates of the old and the new root are both accepted while a rotation runs.
    const trustWatch = (this.trustWatch = store.watch({ kinds: ['cluster'] }));
    const server = this.server;
    runInBackground(
      'swarm TLS trust follow',
      forEachGuarded(trustWatch, () => (trustWatch.drain(), server.updateCredentials({ caPem: trustRoot() })), { name: 'swarm TLS trust follow', log: opts.logger }),
      opts.logger,
    );
  }

  private readonly trustWatch: ReturnType<Manager['store']['watch']>;

  async start(): Promise<number> {
    try {
      const port = await this.server.start();
      this.rotator.start();
      return port;
    } catch (e) {
      this.trustWatch.close();
      throw e;
    }
  }

  /** New connections use the renewed certificate; the trusted roots are always the cluster's. */
  updateCredentials(c: NodeCredentials): void {
    const caught = this.manager.store.read((tx) => tx.find('cluster')).length > 0;
    this.server.updateCredentials({ ...c, caPem: caught ? signingMaterial(this.manager.controlapi.getCluster()).trustRoot : c.caPem });
  }

  /** Set once stop() began: the relayed streams it cuts say nothing about the agents' own connections. */
  private closing = false;

  async stop(): Promise<void> {
    this.closing = true;
    this.rotator.stop();
    this.trustWatch.close();
    await this.server.stop(1000);
  }
}

const managerRefsMemo = new WeakMap<Manager['store'], { at: number; refs: ManagerRef[] }>();

/**
 * The managers every session and heartbeat answer with. Computed again only when a node changed: a scan of
 * every node per heartbeat was O(nodes²) a period (1,000 heartbeats a second over 5,000 nodes). Callers
 * must not change the list.
 */
export function managerRefs(manager: Manager): ManagerRef[] {
  const store = manager.store;
  const at = store.changeCount('node');
  const memo = managerRefsMemo.get(store);
  if (memo && memo.at === at) return memo.refs;
  const refs = store
    .read((tx) => tx.find('node', (n) => n.Spec.Role === 'manager'))
    .map((n) => ({ nodeId: n.ID, addr: n.ManagerStatus?.Addr ?? '' }))
    .filter((m) => m.addr);
  managerRefsMemo.set(store, { at, refs });
  return refs;
}
