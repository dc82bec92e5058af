// The dispatcher over the wire: DispatcherService handlers wrapping the in-process Dispatcher.
// Every method is open to any swarm node certificate (the RPC server has already refused removed
// nodes and other clusters); the node ID always comes from the caller's certificate, and a session
// ID is honoured only for the node that opened it.
import type { CallContext, Handlers, ManagerRef } from '../../rpc';
import { DispatcherService } from '../../rpc/protocol';
import { notFound, permissionDenied } from '../../lib/errors';
import type { NodeDescription } from '../../types';
import type { Dispatcher } from './dispatcher';

export interface DispatcherRpcDeps {
  dispatcher: Dispatcher;
  /** The managers agents may reconnect to. */
  managers: () => ManagerRef[];
  /** TLS facts of the cluster (the root every node certificate chains to), shown in `docker node inspect`. */
  tlsInfo?: () => NodeDescription['TLSInfo'];
}

function caller(ctx: CallContext): string {
  if (!ctx.peer) throw permissionDenied('Permission denied: no valid client certificate was presented');
  return ctx.peer.nodeId;
}

export function dispatcherHandlers(deps: DispatcherRpcDeps): Handlers<typeof DispatcherService.methods> {
  const d = deps.dispatcher;
  const own = (sessionId: string, ctx: CallContext): string => {
    const nodeId = caller(ctx);
    if (typeof sessionId !== 'string' || d.sessionNode(sessionId) !== nodeId) throw notFound('session invalid');
    return sessionId;
  };
  return {
    Session: async (req, ctx) => {
      const nodeId = caller(ctx);
      const description: NodeDescription = { ...(req?.description ?? {}) };
      const tls = deps.tlsInfo?.();
      if (tls) description.TLSInfo = tls;
      const info = await d.session({ nodeId, description, addr: typeof req?.addr === 'string' ? req.addr : '' });
      const managerNodes = deps.managers();
      return { ...info, nodeId, managers: managerNodes.map((m) => m.addr), managerNodes };
    },
    Heartbeat: (req, ctx) => d.heartbeat(own(req?.sessionId, ctx)),
    Assignments: (req, ctx) => d.assignments(own(req?.sessionId, ctx), ctx.signal),
    UpdateTaskStatus: async (req, ctx) => {
      await d.updateTaskStatus(own(req?.sessionId, ctx), Array.isArray(req?.updates) ? req.updates : []);
      return {};
    },
    Leave: async (req, ctx) => {
      await d.leave(own(req?.sessionId, ctx));
      return {};
    },
  };
}
