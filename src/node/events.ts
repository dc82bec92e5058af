import type { EngineEvent, Filters } from '../api/backend';
import type { MemoryStore, StoreEvent, Watch } from '../store';
import { unavailable } from '../lib/errors';
import { forEachGuarded, runInBackground } from '../sys/loop-guard';
import { KINDS, type Kind } from '../store';
import { EVENT_KINDS, eventMatches, historyOverflow, swarmEvent, type ObjectChange } from './core/swarm-events';

/**
 * The history each manager keeps for `docker events --since` (replayed from its own store's changes,
 * so a follower answers as well as the leader): the last HISTORY_MAX_EVENTS events, none older than
 * HISTORY_MAX_AGE_MS. dockerd keeps a similar bounded buffer of recent events.
 */
export const HISTORY_MAX_EVENTS = 1000;
export const HISTORY_MAX_AGE_MS = 60 * 60 * 1000;
/**
 * Events waiting for one reader that does not read (its socket is full): past this the reader is
 * dropped (its swarm event stream ends with an error) rather than queueing without bound. dockerd
 * drops events for a subscriber that does not take them in time; 1024 is its subscriber buffer.
 */
export const MAX_PENDING_EVENTS = 1024;

/** Maps a store change to the event `docker events` shows for swarm objects (see core/swarm-events). */
export function toEngineEvent(e: StoreEvent, nowMs: number): EngineEvent | undefined {
  // tables without a mapping (task, cluster) make no event; the mapped ones all carry Spec.Name
  if (!EVENT_KINDS.includes(e.kind)) return undefined;
  const named = (o: unknown) => o as ObjectChange['object'];
  return swarmEvent({ kind: e.kind, action: e.action, object: named(e.object), ...(e.old ? { old: named(e.old) } : {}) }, nowMs);
}

const seconds = (e: EngineEvent): number => e.timeNano / 1e9;

/** Keeps the recent swarm events (for `--since`) and streams new ones. */
export class EventLog {
  private recent: EngineEvent[] = [];
  private listeners = new Set<(e: EngineEvent) => void>();
  private watch?: Watch;

  /** `log` hears of readers dropped for being too slow, and of failures of the feed from the store. */
  constructor(private readonly log?: { warn(obj: unknown, msg?: string): void; error(obj: unknown, msg?: string): void }) {}

  attach(store: MemoryStore): void {
    this.watch?.close();
    // every table that has an event mapping (secrets and configs once the store has them)
    const w = store.watch({ kinds: KINDS.filter((k: Kind) => EVENT_KINDS.includes(k)) });
    this.watch = w;
    const feed = (e: StoreEvent) => {
      const now = Date.now();
      const ev = toEngineEvent(e, now);
      if (!ev) return;
      this.recent.push(ev);
      const drop = historyOverflow(this.recent, now, { maxEvents: HISTORY_MAX_EVENTS, maxAgeMs: HISTORY_MAX_AGE_MS });
      if (drop > 0) this.recent.splice(0, drop);
      for (const l of this.listeners) l(ev);
    };
    runInBackground('events feed', forEachGuarded(w, feed, { name: 'events feed', log: this.log }), this.log);
  }

  async *stream(opts: { since?: number; until?: number; filters: Filters }, signal: AbortSignal): AsyncGenerator<EngineEvent> {
    // history: what happened in [since, until]; a stream without since starts now
    const queue: EngineEvent[] = opts.since !== undefined ? this.recent.filter((e) => seconds(e) >= opts.since! && (opts.until === undefined || seconds(e) <= opts.until)) : [];
    let replaying = queue.length;
    let wake: (() => void) | null = null;
    let dropped = false;
    const l = (e: EngineEvent) => {
      if (queue.length >= MAX_PENDING_EVENTS) {
        // too slow: stop listening and free what waits; the reader learns it when it reads again
        dropped = true;
        queue.length = 0;
        this.listeners.delete(l);
        this.log?.warn({ pending: MAX_PENDING_EVENTS }, 'events: dropped a reader that stopped reading');
      } else queue.push(e);
      wake?.();
    };
    const untilReached = () => opts.until !== undefined && Date.now() / 1000 >= opts.until;
    this.listeners.add(l);
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    if (opts.until !== undefined) timer = setTimeout(() => wake?.(), Math.max(0, opts.until * 1000 - Date.now()));
    try {
      for (;;) {
        while (queue.length) {
          const e = queue.shift()!;
          const live = replaying-- <= 0;
          if (live && opts.until !== undefined && seconds(e) > opts.until) return;
          if (eventMatches(e, opts.filters)) yield e;
        }
        if (dropped) throw unavailable(`events: reader too slow, more than ${MAX_PENDING_EVENTS} events were waiting; stream dropped`);
        if (signal.aborted || untilReached()) return;
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    } finally {
      if (timer) clearTimeout(timer);
      this.listeners.delete(l);
      signal.removeEventListener('abort', onAbort);
    }
  }
}
