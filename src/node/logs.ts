import type { ServiceLogLine } from '../api/backend';
import type { LogLine } from '../agent/executor/types';
import type { MemoryStore } from '../store';
import type { Task } from '../types';

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
}): AsyncGenerator<ServiceLogLine> {
  const queue: ServiceLogLine[] = [];
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
          notify();
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
      void (async () => {
        for await (const _e of watch) {
          for (const t of opts.tasks()) openTask(t);
        }
      })();
    }
    for (;;) {
      while (queue.length) yield queue.shift()!;
      if (opts.signal.aborted) return;
      if (!opts.follow && active === 0) return;
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    watch?.close();
    inner.abort();
    opts.signal.removeEventListener('abort', onAbort);
  }
}
