// shoal.Control: what a manager that is not the leader hands to the leader (managers only). Any
// manager answers the Engine API; a follower forwards an operation of the control-API contract
// (contract.ts) here by name, with JSON arguments, and hands back the result or the error (kind,
// message and reason code survive the hop). The leader runs only operations of the contract; any
// other name (createNode, an internal ControlApi method) is refused. The caller's identity — the
// forwarding manager's node ID and role, from its verified TLS certificate, as swarmkit's raftproxy
// forwards the caller's certificate fields — goes with the call to the leader's backend. A joining
// node's registration (the node object NodeCA writes) has its own method, RegisterNode. Task logs
// come the same way as a stream: only the leader holds the nodes' dispatcher sessions, so only its
// log broker can reach a task on another node.
import { MANAGERS, defineService, serverStream, unary, type CallContext, type Handlers, type LogSubscriptionOptions, type PeerRole, type RpcClient } from '../../rpc';
import { invalidArgument, permissionDenied, ShoalError } from '../../lib/errors';
import type { Node } from '../../types';
import { isControlOperation, type ControlOperation, type ControlRequest, type ControlResponse } from './contract';

export interface ControlCallRequest {
  method: string;
  args: unknown[];
}

/** Who forwarded a call: the forwarding manager, from its verified TLS certificate. */
export interface ControlCaller {
  nodeId: string;
  role: PeerRole;
}

/** One task's lines, read where the leader reaches them (`options` as in a log subscription). */
export interface ControlLogsRequest {
  nodeId: string;
  taskId: string;
  options: LogSubscriptionOptions;
}

export interface ControlLogLine {
  stream: 'stdout' | 'stderr';
  /** ms since the epoch */
  time: number;
  data: Uint8Array;
}

export const ControlService = defineService('shoal.Control', {
  /** `index`: the leader's applied index after the operation, for the caller's read-your-writes. */
  Call: unary<ControlCallRequest, { result?: unknown; index?: number }>(MANAGERS),
  /** A joining node's object, written by the leader (NodeCA on a follower registers through here). */
  RegisterNode: unary<{ node: Node }, { index?: number }>(MANAGERS),
  Logs: serverStream<ControlLogsRequest, ControlLogLine>(MANAGERS),
});

export interface ControlBackend {
  /** Runs the operation here, and must refuse (NotLeaderError / no leader) when this manager is not the leader. */
  exec<K extends ControlOperation>(op: K, args: ControlRequest<K>, caller: ControlCaller): Promise<ControlResponse<K>>;
  /** Writes a joining node's object; must refuse like `exec` when this manager is not the leader. */
  registerNode(node: Node, caller: ControlCaller): Promise<void>;
  /** This manager's applied index. */
  appliedIndex(): number;
  /** The task's lines until they end or `signal` aborts; must refuse when this manager is not the leader. */
  logs(req: ControlLogsRequest, signal: AbortSignal): AsyncIterable<ControlLogLine>;
}

export function controlHandlers(backend: ControlBackend): Handlers<typeof ControlService.methods> {
  return {
    Call: async (req: ControlCallRequest, ctx) => {
      if (!req || typeof req.method !== 'string') throw invalidArgument('control: method required');
      if (!isControlOperation(req.method)) throw notForwardable(req.method);
      const args = (Array.isArray(req.args) ? req.args : []) as ControlRequest<ControlOperation>;
      const result = await backend.exec(req.method, args, callerOf(ctx));
      return { result: result === undefined ? null : result, index: backend.appliedIndex() };
    },
    RegisterNode: async (req, ctx) => {
      const node = req?.node;
      if (!node || typeof node !== 'object' || typeof node.ID !== 'string' || !node.ID || (node.Spec?.Role !== 'worker' && node.Spec?.Role !== 'manager')) {
        throw invalidArgument('control: a node with an ID and a role is required');
      }
      await backend.registerNode(node, callerOf(ctx));
      return { index: backend.appliedIndex() };
    },
    Logs: (req, ctx) => {
      if (!req || typeof req.nodeId !== 'string' || typeof req.taskId !== 'string' || !req.options || typeof req.options !== 'object') {
        throw invalidArgument('control: logs need nodeId, taskId and options');
      }
      const o = req.options;
      const options: LogSubscriptionOptions = { follow: o.follow === true, tail: typeof o.tail === 'number' ? o.tail : 'all', timestamps: o.timestamps === true };
      if (typeof o.since === 'number') options.since = o.since;
      // ctx.signal aborts when the follower cancels (or goes away): the subscription ends with it.
      return backend.logs({ nodeId: req.nodeId, taskId: req.taskId, options }, ctx.signal);
    },
  };
}

/** The refusal of a forwarded call outside the contract. */
function notForwardable(method: string): ShoalError {
  const name = JSON.stringify(method.length > 64 ? `${method.slice(0, 64)}…` : method);
  return new ShoalError('PermissionDenied', `control: ${name} is not an operation of the control API; only the Engine API's operations are forwarded to the leader`, 'not-forwardable');
}

/** MANAGERS methods only run for a verified manager certificate, so the peer is there. */
function callerOf(ctx: CallContext): ControlCaller {
  if (!ctx.peer) throw permissionDenied('control: no verified caller');
  return { nodeId: ctx.peer.nodeId, role: ctx.peer.role };
}

/**
 * The follower's side of Call: the operation with its typed arguments; the answer's `index` is the
 * leader's applied index after it, for the follower's read-your-writes.
 */
export async function forwardCall<K extends ControlOperation>(client: RpcClient, op: K, args: ControlRequest<K>, timeoutMs: number): Promise<{ result: ControlResponse<K>; index?: number }> {
  const res = await client.unary(ControlService, 'Call', { method: op, args }, { timeoutMs });
  return { result: (res?.result ?? undefined) as ControlResponse<K>, index: res?.index };
}

/** The follower's side of RegisterNode. */
export async function forwardRegisterNode(client: RpcClient, node: Node, timeoutMs: number): Promise<{ index?: number }> {
  const res = await client.unary(ControlService, 'RegisterNode', { node }, { timeoutMs });
  return { index: res?.index };
}

/**
 * The follower's side of Logs: the lines as Buffers, until the leader ends the stream or `signal`
 * aborts (which cancels the call, and so the leader's subscription). An error of the call (the leader
 * went away or lost leadership mid-stream) is thrown to the caller.
 */
export async function* forwardedLogs(client: RpcClient, req: ControlLogsRequest, signal: AbortSignal): AsyncGenerator<{ stream: 'stdout' | 'stderr'; time: number; data: Buffer }> {
  const call = client.serverStream(ControlService, 'Logs', req, { signal });
  try {
    for await (const l of call) {
      if (!l) continue;
      const d = l.data instanceof Uint8Array ? l.data : new Uint8Array();
      yield { stream: l.stream === 'stderr' ? 'stderr' : 'stdout', time: Number(l.time) || 0, data: Buffer.from(d.buffer, d.byteOffset, d.byteLength) };
    }
  } finally {
    // Also when the consumer stops early without aborting.
    call.cancel();
  }
}
