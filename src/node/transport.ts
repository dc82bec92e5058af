// The manager's listener on the swarm port (--listen-addr, default 0.0.0.0:2377): one gRPC server
// over mutual TLS carrying NodeCA (join / renew, anonymous-capable), the Dispatcher (any swarm node)
// and Health (managers only). Raft's transport service will be added to this same server and port.
import type { Logger } from 'pino';
import { createRpcServer, type ManagerRef, type RpcServer } from '../rpc';
import { DispatcherService, HealthService } from '../rpc/protocol';
import { nodeCAHandlers, NodeCAService, type NodeCABackend } from '../manager/ca/service';
import { dispatcherHandlers } from '../manager/dispatcher/rpc';
import type { Manager } from '../manager/manager';
import { isoTime } from '../lib/time';
import { newId } from '../lib/ids';
import { unimplemented } from '../lib/errors';
import type { Cluster, Node, NodeAvailability } from '../types';
import type { NodeCredentials } from '../manager/ca/keystore';
import { systemClock, systemRng } from './system';

/** Docker-like refusal while there is no Raft to add a second manager to. */
export const MANAGER_JOIN_UNSUPPORTED = 'joining as a manager needs Raft, which is not built yet: join with the worker token';

export interface ManagerTransportOptions {
  listenAddr: string;
  manager: Manager;
  credentials: NodeCredentials;
  logger: Logger;
}

export class ManagerTransport {
  private server: RpcServer;
  private readonly manager: Manager;

  constructor(opts: ManagerTransportOptions) {
    const manager = (this.manager = opts.manager);
    const store = manager.store;
    const cluster = (): Cluster => manager.controlapi.getCluster();
    const backend: NodeCABackend = {
      clusterId: () => cluster().ID,
      rootCA: () => ({ certPem: cluster().internal.rootCACert, keyPem: cluster().internal.rootCAKey }),
      joinTokens: () => ({ worker: cluster().JoinTokens.Worker, manager: cluster().JoinTokens.Manager }),
      certExpiryMs: () => Math.floor((cluster().Spec.CAConfig?.NodeCertExpiry ?? 0) / 1e6),
      registerNode: async (req) => {
        if (req.role === 'manager') throw unimplemented(MANAGER_JOIN_UNSUPPORTED);
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
        await store.update((tx) => tx.create('node', node));
        opts.logger.info({ nodeId: id, role: req.role, hostname: req.hostname }, 'node joined');
        return id;
      },
      nodeRole: (nodeId) => store.view((tx) => tx.get('node', nodeId))?.Spec.Role ?? null,
    };
    this.server = createRpcServer({
      address: opts.listenAddr,
      certPem: opts.credentials.certPem,
      keyPem: opts.credentials.keyPem,
      caPem: opts.credentials.caPem,
      clientAuth: 'optional',
      clusterId: cluster().ID,
      // A removed node's certificate is refused on every authenticated call.
      isNodeAllowed: (nodeId) => store.view((tx) => tx.get('node', nodeId)) !== undefined,
    });
    this.server.addService(NodeCAService, nodeCAHandlers(backend));
    this.server.addService(
      DispatcherService,
      dispatcherHandlers({
        dispatcher: manager.dispatcher,
        managers: () => managerRefs(manager),
        tlsInfo: () => cluster().TLSInfo,
      }),
    );
    this.server.addService(HealthService, { Check: () => ({ status: 'SERVING' as const }) });
  }

  async start(): Promise<number> {
    return this.server.start();
  }

  /** New connections use the renewed certificate. */
  updateCredentials(c: NodeCredentials): void {
    this.server.updateCredentials(c);
  }

  async stop(): Promise<void> {
    await this.server.stop(1000);
  }
}

export function managerRefs(manager: Manager): ManagerRef[] {
  return manager.store
    .view((tx) => tx.find('node', (n) => n.Spec.Role === 'manager'))
    .map((n) => ({ nodeId: n.ID, addr: n.ManagerStatus?.Addr ?? n.Status.Addr }))
    .filter((m) => m.addr);
}
