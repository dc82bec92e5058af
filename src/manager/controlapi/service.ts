// shoal.Control: what a manager that is not the leader hands to the leader (managers only). Any
// manager answers the Engine API; a follower forwards a control-API operation here by name, with
// JSON arguments, and hands back the result or the error (kind and message survive the hop). Task
// logs come the same way as a stream: only the leader holds the nodes' dispatcher sessions, so only
// its log broker can reach a task on another node.
import { MANAGERS, defineService, serverStream, unary, type Handlers, type LogSubscriptionOptions, type RpcClient } from '../../rpc';
import { invalidArgument } from '../../lib/errors';

export interface ControlCallRequest {
  method: string;
  args: unknown[];
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
  Logs: serverStream<ControlLogsRequest, ControlLogLine>(MANAGERS),
});

export interface ControlBackend {
  /** Runs the operation here, and must refuse (NotLeaderError / no leader) when this manager is not the leader. */
  exec(method: string, args: unknown[]): Promise<unknown>;
  /** This manager's applied index. */
  appliedIndex(): number;
  /** The task's lines until they end or `signal` aborts; must refuse when this manager is not the leader. */
  logs(req: ControlLogsRequest, signal: AbortSignal): AsyncIterable<ControlLogLine>;
}

export function controlHandlers(backend: ControlBackend): Handlers<typeof ControlService.methods> {
  return {
    Call: async (req: ControlCallRequest) => {
      if (!req || typeof req.method !== 'string') throw invalidArgument('control: method required');
      const result = await backend.exec(req.method, Array.isArray(req.args) ? req.args : []);
      return { result: result === undefined ? null : result, index: backend.appliedIndex() };
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
