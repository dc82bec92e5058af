// The dispatcher over the wire: DispatcherService handlers wrapping the in-process Dispatcher.
// Every method is open to any swarm node certificate (the RPC server has already refused removed
// nodes and other clusters); the node ID always comes from the caller's certificate, and a session
// ID is honoured only for the node that opened it.
import { answerEach, type CallContext, type Handlers, type ManagerRef } from '../../rpc';
import { DispatcherService, type CATarget } from '../../rpc/protocol';
import { notFound, permissionDenied } from '../../lib/errors';
import { failedEntry } from './relay-batch';
import type { NodeDescription } from '../../types';
import type { Dispatcher } from './dispatcher';
import type { LogBroker } from './logbroker';

export interface DispatcherRpcDeps {
  dispatcher: Dispatcher;
  /** The managers agents may reconnect to. */
  managers: () => ManagerRef[];
  /** TLS facts of the cluster (the root every node certificate chains to), shown in `docker node inspect`. */
  tlsInfo?: () => NodeDescription['TLSInfo'];
  /** What the CA expects of this node now (trust root, signing key, role): sent with sessions and heartbeats. */
  caTarget?: (nodeId: string) => CATarget | undefined;
  /** Remote log subscriptions; without it LogSubscriptions stays empty and PublishLogs is refused. */
  logBroker?: LogBroker;
  /**
   * Whether a node may still call (not removed from the swarm): the RPC server checks it for every
   * call, and these handlers for every message of a Heartbeats or TaskStatusUpdates stream and every
   * entry of a relay's batch (RelayedHeartbeats, RelayedTaskStatus). Default: every node may.
   */
  nodeAllowed?: (nodeId: string) => boolean;
}


function caller(ctx: CallContext): string {
  if (!ctx.peer) throw permissionDenied('Permission denied: no valid client certificate was presented');
  return ctx.peer.nodeId;
}

export function dispatcherHandlers(deps: DispatcherRpcDeps): Handlers<typeof DispatcherService.methods> {
  const d = deps.dispatcher;
  /** `sessionId` if it is `nodeId`'s live session; else the refusal (a stopped dispatcher's names the leader) or NotFound. */
  const ownedBy = (nodeId: string, sessionId: string): string => {
    // a stopped dispatcher (leadership lost) knows no session: its refusal says where the leader is
    d.assertRunning();
    if (typeof sessionId !== 'string' || d.sessionNode(sessionId) !== nodeId) throw notFound('session invalid');
    return sessionId;
  };
  const own = (sessionId: string, ctx: CallContext): string => ownedBy(caller(ctx), sessionId);
  /**
   * A node removed from the swarm is refused, as the RPC server refuses its calls: checked here for what the
   * server does not see call by call (each message on a stream, each entry of a relay's batch).
   */
  const stillAllowed = (nodeId: string): void => {
    if (deps.nodeAllowed && !deps.nodeAllowed(nodeId)) throw permissionDenied(`Permission denied: node ${nodeId} was removed from swarm`);
  };
  const heartbeat = async (nodeId: string, sessionId: string) => {
    const res = await d.heartbeat(ownedBy(nodeId, sessionId));
    const ca = deps.caTarget?.(nodeId);
    return { ...res, managerNodes: deps.managers(), ...(ca ? { ca } : {}) };
  };
  /** Runs `one` for every entry of a relay's batch, each as its own node's call would run. */
  const eachEntry = async <E extends { nodeId: string; sessionId: string }, T>(entries: unknown, one: (e: E) => Promise<T>) => {
    const list = Array.isArray(entries) ? (entries as E[]) : [];
    const settled = await Promise.allSettled(
      list.map(async (e) => {
        if (typeof e?.nodeId !== 'string' || !e.nodeId) throw notFound('session invalid');
        stillAllowed(e.nodeId);
        return one(e);
      }),
    );
    return { results: settled.map((r) => (r.status === 'fulfilled' ? { ok: r.value } : failedEntry(r.reason))) };
  };
  return {
    Session: async (req, ctx) => {
      const nodeId = caller(ctx);
      const description: NodeDescription = { ...(req?.description ?? {}) };
      // The node reports what its own certificate and trust root are (root rotation progress is
      // judged from it, as Docker's CLI does); nodes that report nothing get the cluster's.
      const reported = description.TLSInfo;
      const tls = reported && typeof reported.CertIssuerPublicKey === 'string' && typeof reported.TrustRoot === 'string' ? reported : deps.tlsInfo?.();
      if (tls) description.TLSInfo = tls;
      else delete description.TLSInfo;
      const info = await d.session({ nodeId, description, addr: typeof req?.addr === 'string' ? req.addr : '' }, ctx.relayedBy?.nodeId);
      const managerNodes = deps.managers();
      const ca = deps.caTarget?.(nodeId);
      // the node's log subscriptions come on its assignment stream (Assignments below): no stream of their own
      return { ...info, nodeId, managers: managerNodes.map((m) => m.addr), managerNodes, logSubscriptionsOnAssignments: true, ...(ca ? { ca } : {}) };
    },
    Heartbeat: (req, ctx) => heartbeat(caller(ctx), req?.sessionId),
    Heartbeats: (reqs, ctx) => {
      const nodeId = caller(ctx);
      return answerEach(reqs, (req) => {
        stillAllowed(nodeId);
        return heartbeat(nodeId, req?.sessionId);
      });
    },
    RelayedHeartbeats: (req) => eachEntry(req?.entries, (e) => heartbeat(e.nodeId, e.sessionId)),
    RelayedTaskStatus: (req) =>
      eachEntry(req?.entries, async (e: { nodeId: string; sessionId: string; updates?: unknown }) => {
        await d.updateTaskStatus(ownedBy(e.nodeId, e.sessionId), Array.isArray(e.updates) ? e.updates : []);
        return {} as Record<string, never>;
      }),
    Assignments: (req, ctx) => {
      const nodeId = caller(ctx);
      const broker = deps.logBroker;
      return d.assignments(ownedBy(nodeId, req?.sessionId), ctx.signal, !!ctx.relayedBy, broker ? () => broker.feed(nodeId) : undefined);
    },
    UpdateTaskStatus: async (req, ctx) => {
      await d.updateTaskStatus(own(req?.sessionId, ctx), Array.isArray(req?.updates) ? req.updates : []);
      return {};
    },
    TaskStatusUpdates: (reqs, ctx) => {
      const nodeId = caller(ctx);
      return answerEach(reqs, async (req) => {
        stillAllowed(nodeId);
        await d.updateTaskStatus(ownedBy(nodeId, req?.sessionId), Array.isArray(req?.updates) ? req.updates : []);
        return {} as Record<string, never>;
      });
    },
    MeshApplied: async (req, ctx) => {
      await d.meshApplied(own(req?.sessionId, ctx), Number(req?.version));
      return {};
    },
    MeshDrained: async (req, ctx) => {
      const taskIds = Array.isArray(req?.taskIds) ? req.taskIds.filter((x): x is string => typeof x === 'string') : [];
      return { drained: await d.meshDrained(own(req?.sessionId, ctx), taskIds, Number(req?.waitMs) || 0) };
    },
    DaemonStopping: async (req, ctx) => {
      await d.daemonStopping(own(req?.sessionId, ctx));
      return {};
    },
    RelayedConnectionLost: async (req, ctx) => {
      if (!ctx.relayedBy) throw permissionDenied('Permission denied: only a manager relaying a node\'s calls may report its connection lost');
      await d.relayedConnectionLost(own(req?.sessionId, ctx));
      return {};
    },
    Leave: async (req, ctx) => {
      await d.leave(own(req?.sessionId, ctx));
      return {};
    },
    // an agent of the previous release's: a current one reads its subscriptions on its assignment stream
    LogSubscriptions: (req, ctx) => {
      const nodeId = caller(ctx);
      own(req?.sessionId, ctx);
      if (!deps.logBroker) return (async function* () {})();
      return deps.logBroker.listen(nodeId, ctx.signal);
    },
    PublishLogs: async (reqs, ctx) => {
      const nodeId = caller(ctx);
      if (!deps.logBroker) throw notFound('no log broker on this manager');
      await deps.logBroker.publish(nodeId, reqs);
      return {};
    },
  };
}
