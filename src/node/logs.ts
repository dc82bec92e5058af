import type { ServiceLogLine } from '../api/backend';
import type { LogLine } from '../agent/executor/types';
import type { MemoryStore } from '../store';
import type { Task } from '../types';
import { forEachGuarded, runInBackground, type GuardLogger } from '../sys/loop-guard';

/**
 * Bytes of log data waiting for a reader before the sources are paused (each source's next line is
 * asked for only once the reader has taken enough): a reader that stops reading holds at most about
 * this much here, plus one line per source, plus its socket's buffer.
 */
export const LOG_HIGH_WATER_BYTES = 1 << 20;

/**
 * Merges the log streams of a set of tasks into one, as `docker service logs` shows them.
 * With follow, tasks that appear later (restarts, scale-ups) are added as they are created.
 */
export async function* mergeLogStreams(opts: {
  tasks: () => Task[];
  open: (t: Task, signal: AbortSignal) => AsyncIterable<LogLine>;
  follow: boolean;
  watch?: MemoryStore;
  signal: AbortSignal;
  /** Where a failure of the follow-up of new tasks is logged. */
  log?: GuardLogger;
}): AsyncGenerator<ServiceLogLine> {
  const queue: ServiceLogLine[] = [];
  let queuedBytes = 0;
  // sources waiting for the reader to take lines (backpressure)
  let paused: (() => void)[] = [];
  const resume = () => {
    const p = paused;
    paused = [];
    for (const r of p) r();
  };
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const opened = new Set<string>();
  let active = 0;
  const inner = new AbortController();
  const onAbort = () => {
    inner.abort();
    resume();
    notify();
  };
  opts.signal.addEventListener('abort', onAbort, { once: true });

  const openTask = (t: Task) => {
    if (opened.has(t.ID) || !t.NodeID) return;
    opened.add(t.ID);
    active++;
    void (async () => {
      try {
        for await (const l of opts.open(t, inner.signal)) {
          queue.push({ ...l, taskId: t.ID, nodeId: t.NodeID!, serviceId: t.ServiceID });
          queuedBytes += l.data.length;
          notify();
          if (queuedBytes > LOG_HIGH_WATER_BYTES && !inner.signal.aborted) await new Promise<void>((r) => paused.push(r));
        }
      } catch {
        // A task whose runtime object is gone has no logs left; the others still stream.
      } finally {
        active--;
        notify();
      }
    })();
  };

  const watch = opts.follow && opts.watch ? opts.watch.watch({ kinds: ['task'], actions: ['create', 'update'] }) : undefined;
  try {
    for (const t of opts.tasks()) openTask(t);
    if (watch) {
      const follow = () => {
        for (const t of opts.tasks()) openTask(t);
      };
      runInBackground('service logs follow', forEachGuarded(watch, follow, { name: 'service logs follow', log: opts.log }), opts.log);
    }
    for (;;) {
      while (queue.length) {
        const line = queue.shift()!;
        queuedBytes -= line.data.length;
        if (queuedBytes <= LOG_HIGH_WATER_BYTES / 2) resume();
        yield line;
      }
      if (opts.signal.aborted) return;
      if (!opts.follow && active === 0) return;
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    watch?.close();
    inner.abort();
    resume();
    opts.signal.removeEventListener('abort', onAbort);
  }
}
