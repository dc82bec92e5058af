// Where a manager finds one task's log lines (`docker service logs`, `docker service logs <task>`):
// - a task of this node: from this node's agent;
// - another node's task, on the leader: through the log broker, which publishes a subscription on
//   the node's dispatcher session (only the leader's dispatcher holds sessions);
// - another node's task, on any other manager: through the leader (shoal.Control Logs), which
//   answers with the same routing (its own agent, or its broker).
import type { LogLine, LogOptions } from '../agent/executor/types';
import type { LogBroker } from '../manager/dispatcher/logbroker';
import type { Manager } from '../manager/manager';
import { forwardedLogs, type ControlLogLine, type ControlLogsRequest } from '../manager/controlapi/service';
import { isKind, unavailable } from '../lib/errors';

export interface TaskLogsDeps {
  manager: Manager;
  broker: LogBroker;
  /** This node's ID. */
  nodeId: string;
  /** Lines of a task of this node (its agent). */
  local: (taskId: string, options: LogOptions, signal: AbortSignal) => AsyncIterable<LogLine>;
}

/** A forwarded stream refused before its first line (leader just changed) is asked again this often. */
const RETRIES = 3;

export class TaskLogs {
  constructor(private readonly deps: TaskLogsDeps) {}

  /** The lines of `taskId` (on `nodeId`) until they end, or with `options.follow` until `signal` aborts. */
  open(nodeId: string, taskId: string, options: LogOptions, signal: AbortSignal): AsyncIterable<LogLine> {
    const { manager, broker } = this.deps;
    if (nodeId === this.deps.nodeId) return this.deps.local(taskId, options, signal);
    if (manager.isLeader()) return broker.subscribe(nodeId, [taskId], options, signal);
    return this.viaLeader({ nodeId, taskId, options }, signal);
  }

  /**
   * The leader's side of shoal.Control Logs. A manager that does not lead refuses (the follower asks
   * the leader it knows; no hop chains). The stream ends when this manager stops leading: the nodes'
   * sessions move to the new leader, so a follow subscription here would wait for nobody; the
   * follower then shows no more lines of that task (the rest of its `docker service logs` goes on).
   */
  serve(req: ControlLogsRequest, signal: AbortSignal): AsyncIterable<ControlLogLine> {
    if (!this.deps.manager.isLeader()) throw unavailable('control: this manager is not the leader');
    return this.served(req, signal);
  }

  /** Listeners are taken once the stream is read (a stream never read holds none). */
  private async *served(req: ControlLogsRequest, signal: AbortSignal): AsyncGenerator<ControlLogLine> {
    const ac = new AbortController();
    const stop = () => ac.abort();
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
    const unwatch = this.deps.manager.onLeaderComponents((leading) => {
      if (!leading) stop();
    });
    try {
      for await (const l of this.open(req.nodeId, req.taskId, req.options, ac.signal)) yield { stream: l.stream, time: l.time, data: l.data };
    } finally {
      unwatch();
      signal.removeEventListener('abort', stop);
      stop();
    }
  }

  /**
   * A remote task's lines asked of the leader. Refused or unreachable before the first line (the
   * leader changed between our look-up and the call), it is asked again of whoever leads now; after a
   * line has passed, the stream just ends (a restart would show lines twice).
   */
  private async *viaLeader(req: ControlLogsRequest, signal: AbortSignal): AsyncGenerator<LogLine> {
    const { manager, broker } = this.deps;
    for (let attempt = 0; ; attempt++) {
      let passed = false;
      try {
        const lines = manager.isLeader() ? broker.subscribe(req.nodeId, [req.taskId], req.options, signal) : forwardedLogs(manager.leaderChannel(), req, signal);
        for await (const l of lines) {
          passed = true;
          yield l;
        }
        return;
      } catch (e) {
        if (passed || signal.aborted || attempt >= RETRIES || !isKind(e, 'Unavailable')) throw e;
        await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
      }
    }
  }
}
