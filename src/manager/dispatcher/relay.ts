// The dispatcher as every manager serves it: the leader's own handlers when this manager leads, else a
// relay of each call to the leader, on behalf of the calling node (its identity in the call's metadata,
// rpc/peer.ts relayMetadata), as swarmkit's managers proxy the dispatcher to the leader. An agent then keeps
// its connection to whichever manager it reached: a leader change costs it a new session over the same
// connection, not a TLS handshake to a follower to learn the leader's address and another to the leader
// (issue 15: 1,000 and 5,000 agents doing both at once were the failover's storm), and the TLS work of the
// sessions is spread over the managers.
import { hasReason, ShoalError } from '../../lib/errors';
import { answerEach, DispatcherService, relayMetadata, type CallContext, type EncodedMessage, type Handlers, type HeartbeatRpcResponse, type RelayedEntry, type RpcClient } from '../../rpc';
import type { TaskStatusUpdate } from '../../types';
import { Slots } from '../../lib/slots';
import { COMPLETE_SETS_AT_ONCE } from './dispatcher';
import { RelayBatcher } from './relay-batch';

type Methods = typeof DispatcherService.methods;

export interface DispatcherRelayDeps {
  /** Whether this manager leads (its own dispatcher serves sessions, or refuses while it starts). */
  leads(): boolean;
  /** The channel to the leader; throws when no leader is known. */
  leaderChannel(): RpcClient;
  /** What this manager answers when it cannot reach a leader (Manager.dispatcherRefusal). */
  refusal(): ShoalError;
  /** Pause between tries while the leader is unknown or starting (ms). Default 100. */
  retryMs?: number;
  /** A call without a deadline of its own gets this one (ms). Default 10 000. */
  defaultTimeoutMs?: number;
  /** Whether this manager is shutting down: its relayed streams then end without a word on the nodes' connections. */
  closing?: () => boolean;
  /** How often at most a batch of status reports goes to the leader while busy (ms). Default 10. */
  batchMs?: number;
  /** How long a batch of heartbeats gathers before it goes to the leader (ms). Default HEARTBEAT_GATHER_MS. */
  heartbeatGatherMs?: number;
  /** Relayed complete assignment sets on their way at once (tests). Default COMPLETE_SETS_AT_ONCE. */
  completeSetsAtOnce?: number;
}

/**
 * A relay's heartbeats wait this long for others to go with them: an answer nobody waits on, against a TTL
 * of three heartbeat periods. Sent on the next turn, nearly every heartbeat of 1,000 agents went alone,
 * one gRPC call on the relay and one on the leader each (issue 15, scale13).
 */
export const HEARTBEAT_GATHER_MS = 100;

/** What a relay keeps of its time: the answer must be back at the agent before the agent's deadline. */
const MARGIN_MS = 200;

/** Refusals after which another try at a session may succeed: no leader yet, a leader whose dispatcher starts, a stale leader, no connection. */
function retryable(e: unknown): boolean {
  return hasReason(e, 'no-leader') || hasReason(e, 'leader-starting') || hasReason(e, 'not-leader') || hasReason(e, 'not-sent');
}

/**
 * The leader's refusals name its address, and an agent that reads one goes there next. Through a relay
 * the agent should stay where it is and open its next session here: the hint is dropped.
 */
function withoutHint(e: unknown): unknown {
  if (e instanceof ShoalError && e.leaderAddr && (hasReason(e, 'not-leader') || hasReason(e, 'leader-starting'))) {
    return new ShoalError('Unavailable', `dispatcher relay: ${e.message}`, 'no-leader');
  }
  return e;
}

export function relayDispatcherHandlers(local: Handlers<Methods>, deps: DispatcherRelayDeps): Handlers<Methods> {
  const retryMs = deps.retryMs ?? 100;
  /** The relay's deadline for a caller's (ms since the epoch; none: the default timeout), less the relay's margin. */
  const deadlineFrom = (callerDeadline: number | undefined) => (callerDeadline ?? Date.now() + (deps.defaultTimeoutMs ?? 10_000)) - MARGIN_MS;
  const deadlineOf = (ctx: CallContext) => deadlineFrom(ctx.deadline);
  /** Whether this manager serves the call itself: it leads, or the call was relayed to it already (one hop only). */
  const here = (ctx: CallContext): boolean => {
    if (deps.leads()) return true;
    if (ctx.relayedBy) throw deps.refusal(); // a relay with a stale view of the leader: it tries again
    return false;
  };
  const metadata = (ctx: CallContext) => relayMetadata(ctx.peer!);
  /** A stream has no deadline per message: the agent says how long it waits for each one. */
  const messageDeadline = (req: { timeoutMs?: number } | undefined) => {
    const waitMs = Number(req?.timeoutMs);
    return deadlineFrom(waitMs > 0 ? Date.now() + waitMs : undefined);
  };

  /**
   * Opens a session on the leader, trying again while a leader is being elected or starts its dispatcher,
   * until the caller's deadline (bounded: one try per `retryMs`); here once this manager leads. Every
   * refusal retried comes before the leader's dispatcher ran the call, so nothing is done twice.
   */
  async function sessionOnLeader<T>(ctx: CallContext, call: (leader: RpcClient, timeoutMs: number) => Promise<T>, local: () => T | Promise<T>): Promise<T> {
    const deadline = deadlineOf(ctx);
    const tries = Math.max(1, Math.ceil((deadline - Date.now()) / retryMs));
    let last: unknown;
    for (let i = 0; i < tries && !ctx.signal.aborted; i++) {
      if (deps.leads()) return local();
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        return await call(deps.leaderChannel(), left);
      } catch (e) {
        last = e;
        if (!retryable(e)) throw withoutHint(e);
      }
      await new Promise((r) => setTimeout(r, retryMs));
    }
    throw withoutHint(last ?? deps.refusal());
  }

  /**
   * A call of an open session goes to the leader once: a refusal means the session ended with that
   * leader's dispatcher, and the agent's next step is a new session (through this relay again).
   */
  const unary =
    <N extends 'Session' | 'MeshApplied' | 'MeshDrained' | 'DaemonStopping' | 'Leave' | 'RelayedConnectionLost'>(name: N) =>
    (req: Parameters<Handlers<Methods>[N]>[0], ctx: CallContext) => {
      const runLocal = () => (local[name] as (r: typeof req, c: CallContext) => unknown)(req, ctx);
      if (here(ctx)) return runLocal();
      const call = (leader: RpcClient, timeoutMs: number) => leader.unary(DispatcherService, name, req as never, { timeoutMs, metadata: metadata(ctx) });
      if (name === 'Session') return sessionOnLeader(ctx, call, runLocal);
      return (async () => {
        try {
          return await call(deps.leaderChannel(), Math.max(1, deadlineOf(ctx) - Date.now()));
        } catch (e) {
          throw withoutHint(e);
        }
      })();
    };

  // Heartbeats and status reports: the two calls every agent makes all the time, batched (relay-batch.ts):
  // the reports as soon as the last batch is 10 ms old (a task's state is news), the heartbeats gathered.
  const batchMs = deps.batchMs ?? 10;
  const heartbeats = new RelayBatcher<RelayedEntry, HeartbeatRpcResponse>({
    intervalMs: batchMs,
    gatherMs: deps.heartbeatGatherMs ?? HEARTBEAT_GATHER_MS,
    maxEntries: 1000,
    send: async (entries, timeoutMs) => (await deps.leaderChannel().unary(DispatcherService, 'RelayedHeartbeats', { entries }, { timeoutMs })).results,
    failure: withoutHint,
  });
  const reports = new RelayBatcher<RelayedEntry & { updates: TaskStatusUpdate[] }, Record<string, never>>({
    intervalMs: batchMs,
    maxEntries: 250,
    send: async (entries, timeoutMs) => (await deps.leaderChannel().unary(DispatcherService, 'RelayedTaskStatus', { entries }, { timeoutMs })).results,
    failure: withoutHint,
  });

  // A relayed stream's first message is its complete set: this relay holds at most COMPLETE_SETS_AT_ONCE of them
  // before they are written to their nodes, as the leader does (each waits for a slot before its call to the leader).
  const completeSets = new Slots(deps.completeSetsAtOnce ?? COMPLETE_SETS_AT_ONCE);

  return {
    Session: unary('Session') as Handlers<Methods>['Session'],
    Heartbeat: (req, ctx) => {
      if (here(ctx)) return local.Heartbeat(req, ctx);
      // the node as this relay verified it; its deadline less the relay's margin
      return heartbeats.add({ nodeId: ctx.peer!.nodeId, sessionId: req?.sessionId }, deadlineOf(ctx));
    },
    // relayed: each message joins the gathered batches, as the unary Heartbeat does
    Heartbeats: (reqs, ctx) => {
      if (here(ctx)) return local.Heartbeats(reqs, ctx);
      const nodeId = ctx.peer!.nodeId;
      return answerEach(reqs, (req) => heartbeats.add({ nodeId, sessionId: req?.sessionId }, messageDeadline(req)));
    },
    UpdateTaskStatus: (req, ctx) => {
      if (here(ctx)) return local.UpdateTaskStatus(req, ctx);
      const updates = Array.isArray(req?.updates) ? req.updates : [];
      return reports.add({ nodeId: ctx.peer!.nodeId, sessionId: req?.sessionId, updates }, deadlineOf(ctx));
    },
    // relayed: each message joins the batches of reports, as the unary UpdateTaskStatus does
    TaskStatusUpdates: (reqs, ctx) => {
      if (here(ctx)) return local.TaskStatusUpdates(reqs, ctx);
      const nodeId = ctx.peer!.nodeId;
      return answerEach(reqs, (req) => reports.add({ nodeId, sessionId: req?.sessionId, updates: Array.isArray(req?.updates) ? req.updates : [] }, messageDeadline(req)));
    },
    // a relay's own batches, served by the leader only: refused elsewhere, and every call of the batch with them
    RelayedHeartbeats: (req, ctx) => {
      if (!deps.leads()) throw deps.refusal();
      return local.RelayedHeartbeats(req, ctx);
    },
    RelayedTaskStatus: (req, ctx) => {
      if (!deps.leads()) throw deps.refusal();
      return local.RelayedTaskStatus(req, ctx);
    },
    MeshApplied: unary('MeshApplied') as Handlers<Methods>['MeshApplied'],
    MeshDrained: unary('MeshDrained') as Handlers<Methods>['MeshDrained'],
    DaemonStopping: unary('DaemonStopping') as Handlers<Methods>['DaemonStopping'],
    Leave: unary('Leave') as Handlers<Methods>['Leave'],
    RelayedConnectionLost: unary('RelayedConnectionLost') as Handlers<Methods>['RelayedConnectionLost'],
    Assignments: (req, ctx) => {
      if (here(ctx)) return local.Assignments(req, ctx);
      return relayAssignments(req, ctx);
    },
    LogSubscriptions: (req, ctx) => {
      if (here(ctx)) return local.LogSubscriptions(req, ctx);
      return relayStream(deps.leaderChannel().serverStreamEncoded(DispatcherService, 'LogSubscriptions', req, { signal: ctx.signal, metadata: metadata(ctx) }));
    },
    PublishLogs: async (reqs, ctx) => {
      if (here(ctx)) return local.PublishLogs(reqs, ctx);
      const up = deps.leaderChannel().clientStream(DispatcherService, 'PublishLogs', { signal: ctx.signal, metadata: metadata(ctx) });
      try {
        for await (const m of reqs) await up.send(m);
        up.end();
        return await up.response;
      } catch (e) {
        up.cancel();
        throw withoutHint(e);
      }
    },
  };

  /**
   * The agent's assignment stream, relayed. When the agent's own connection ends (its signal aborts while
   * the leader's stream still ran), the leader is told so: the end of the relayed stream alone cannot tell
   * a node that died from a relay that died, and only the former starts the node's short disconnect grace.
   */
  async function* relayAssignments(req: Parameters<Handlers<Methods>['Assignments']>[0], ctx: CallContext) {
    const leader = deps.leaderChannel();
    // given back once the first message is written (or the stream ends first); a second call does nothing
    const written = await completeSets.take(ctx.signal).catch(() => undefined);
    if (!written) return; // the node went while its complete set waited
    const up = new AbortController();
    const agentGone = () => up.abort();
    ctx.signal.addEventListener('abort', agentGone, { once: true });
    let upstreamFailed = false;
    let stream: AsyncIterator<EncodedMessage> | undefined;
    try {
      // forwarded as the leader encoded them: the relay reads none of it
      stream = leader.serverStreamEncoded(DispatcherService, 'Assignments', req, { signal: up.signal, metadata: metadata(ctx) })[Symbol.asyncIterator]();
      try {
        // Not a `for await`: it kept the last message alive while it waited for the next (V8 keeps it in the
        // suspended frame), a node's complete set for as long as its assignments did not change: 27 MiB over a
        // relay's 470 nodes (performance.md, tenth stop). Each reference is dropped once the message is written.
        for (;;) {
          let next: IteratorResult<EncodedMessage> | undefined = await stream.next();
          if (next.done) break;
          let message: EncodedMessage | undefined = next.value;
          next = undefined;
          yield message; // resumed once it is written to the node (Assignments is oneWriteAtATime)
          message = undefined;
          written();
        }
      } catch (e) {
        upstreamFailed = true;
        throw withoutHint(e);
      }
    } finally {
      written();
      ctx.signal.removeEventListener('abort', agentGone);
      up.abort();
      // left early (the node's stream ended): the upstream stream is closed too, as a `for await` would
      stream?.return?.().catch(() => undefined);
      if (ctx.signal.aborted && !upstreamFailed && !deps.closing?.()) {
        // best effort, bounded: without it the node keeps its heartbeat TTL, as after a relay's death
        leader.unary(DispatcherService, 'RelayedConnectionLost', { sessionId: req.sessionId }, { timeoutMs: 2000, metadata: metadata(ctx) }).catch(() => undefined);
      }
    }
  }
}

async function* relayStream<T>(stream: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* stream;
  } catch (e) {
    throw withoutHint(e);
  }
}
