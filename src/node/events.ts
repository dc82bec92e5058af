import type { EngineEvent, Filters } from '../api/backend';
import type { MemoryStore, StoreEvent, Watch } from '../store';
import { unavailable } from '../lib/errors';
import { forEachGuarded, runInBackground } from '../sys/loop-guard';

const KEEP = 1000;
/**
 * Events waiting for one reader that does not read (its socket is full): past this the reader is
 * dropped (its swarm event stream ends with an error) rather than queueing without bound. dockerd
 * drops events for a subscriber that does not take them in time; 1024 is its subscriber buffer.
 */
export const MAX_PENDING_EVENTS = 1024;

/** Maps a store change to the event `docker events` shows for swarm objects. */
export function toEngineEvent(e: StoreEvent, nowMs: number): EngineEvent | undefined {
  if (e.kind === 'task' || e.kind === 'cluster') return undefined;
  const action = e.action === 'delete' ? 'remove' : e.action;
  const attrs: Record<string, string> = {};
  if (e.kind === 'service') {
    const s = e.object as import('../types').Service;
    attrs.name = s.Spec.Name;
    const old = e.old as import('../types').Service | undefined;
    if (action === 'update' && old) {
      const img = (x: import('../types').Service) => x.Spec.TaskTemplate.ContainerSpec?.Image ?? '';
      if (img(old) !== img(s)) Object.assign(attrs, { 'image.old': img(old), 'image.new': img(s) });
      const reps = (x: import('../types').Service) => String(x.Spec.Mode.Replicated?.Replicas ?? '');
      if (reps(old) !== reps(s)) Object.assign(attrs, { 'replicas.old': reps(old), 'replicas.new': reps(s) });
      if (old.UpdateStatus?.State !== s.UpdateStatus?.State && s.UpdateStatus) {
        if (old.UpdateStatus) attrs['updatestate.old'] = old.UpdateStatus.State;
        attrs['updatestate.new'] = s.UpdateStatus.State;
      }
    }
  } else if (e.kind === 'node') {
    const n = e.object as import('../types').Node;
    attrs.name = n.Description?.Hostname ?? '';
    const old = e.old as import('../types').Node | undefined;
    if (action === 'update' && old) {
      if (old.Status.State !== n.Status.State) Object.assign(attrs, { 'state.old': old.Status.State, 'state.new': n.Status.State });
      if (old.Spec.Availability !== n.Spec.Availability) Object.assign(attrs, { 'availability.old': old.Spec.Availability, 'availability.new': n.Spec.Availability });
      if (old.Spec.Role !== n.Spec.Role) Object.assign(attrs, { 'role.old': old.Spec.Role, 'role.new': n.Spec.Role });
      // A heartbeat-only change is not an event Docker shows.
      if (Object.keys(attrs).length === 1 && JSON.stringify(old.Spec) === JSON.stringify(n.Spec)) return undefined;
    }
  }
  const ns = BigInt(nowMs) * 1_000_000n;
  return { Type: e.kind, Action: action, Actor: { ID: e.object.ID, Attributes: attrs }, scope: 'swarm', time: Math.floor(nowMs / 1000), timeNano: Number(ns) };
}

function matches(ev: EngineEvent, f: Filters): boolean {
  const any = (k: string, v: string | undefined) => !f[k]?.length || (v !== undefined && f[k]!.includes(v));
  return (
    any('type', ev.Type) &&
    any('event', ev.Action) &&
    any('scope', ev.scope) &&
    (!f[ev.Type]?.length || f[ev.Type]!.some((v) => v === ev.Actor.ID || v === ev.Actor.Attributes.name))
  );
}

/** Keeps the recent swarm events (for `--since`) and streams new ones. */
export class EventLog {
  private recent: EngineEvent[] = [];
  private listeners = new Set<(e: EngineEvent) => void>();
  private watch?: Watch;

  /** `log` hears of readers dropped for being too slow, and of failures of the feed from the store. */
  constructor(private readonly log?: { warn(obj: unknown, msg?: string): void; error(obj: unknown, msg?: string): void }) {}

  attach(store: MemoryStore): void {
    this.watch?.close();
    const w = store.watch({ kinds: ['service', 'node'] });
    this.watch = w;
    const feed = (e: StoreEvent) => {
      const ev = toEngineEvent(e, Date.now());
      if (!ev) return;
      this.recent.push(ev);
      if (this.recent.length > KEEP) this.recent.shift();
      for (const l of this.listeners) l(ev);
    };
    runInBackground('events feed', forEachGuarded(w, feed, { name: 'events feed', log: this.log }), this.log);
  }

  async *stream(opts: { since?: number; until?: number; filters: Filters }, signal: AbortSignal): AsyncGenerator<EngineEvent> {
    const queue: EngineEvent[] = opts.since !== undefined ? this.recent.filter((e) => e.time >= opts.since!) : [];
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
          if (opts.until !== undefined && e.time > opts.until) return;
          if (matches(e, opts.filters)) yield e;
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
