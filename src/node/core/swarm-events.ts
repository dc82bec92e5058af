import type { EngineEvent } from '../../api/backend';
import type { Node, Service } from '../../types';

// The events `docker events` shows for swarm objects, derived from a manager's own replicated store
// (moby's daemon/events.go turns swarmkit's store watch into these the same way). One entry per store
// table: the event Type, the Actor's name, and for updates the attributes that say what changed.
// A table without an entry (task, cluster) makes no events. Pure: the caller passes the time.

/** The least every swarm object has that an event needs. */
export interface Named {
  ID: string;
  UpdatedAt?: string;
}

/** Objects named in their spec: networks, secrets, configs (Engine API shapes). */
interface SpecNamed extends Named {
  Spec?: { Name?: string };
}

export interface EventMapping<T extends Named = Named> {
  /** The event's Type (`docker events --filter type=…`). */
  type: string;
  name(o: T): string;
  /**
   * Attributes an update adds beside `name`, or null when the update is not an event Docker shows
   * (a node's heartbeat-only write). Absent: every update is an event with the name only.
   */
  updateAttributes?(old: T, cur: T): Record<string, string> | null;
}

/** The store hands each table's own objects to its mapping; the table is the type's witness. */
const mapping = <T extends Named>(m: EventMapping<T>): EventMapping => m as unknown as EventMapping;

const specName = (o: SpecNamed): string => o.Spec?.Name ?? '';

function serviceUpdate(old: Service, cur: Service): Record<string, string> {
  const a: Record<string, string> = {};
  const image = (s: Service) => s.Spec.TaskTemplate?.ContainerSpec?.Image;
  if (image(old) !== undefined && image(cur) !== undefined && image(old) !== image(cur)) Object.assign(a, { 'image.old': image(old)!, 'image.new': image(cur)! });
  // only between two replicated specs, as moby compares them
  const reps = (s: Service) => s.Spec.Mode?.Replicated?.Replicas;
  if (reps(old) !== undefined && reps(cur) !== undefined && reps(old) !== reps(cur)) Object.assign(a, { 'replicas.old': String(reps(old)), 'replicas.new': String(reps(cur)) });
  if (cur.UpdateStatus) {
    if (!old.UpdateStatus) a['updatestate.new'] = cur.UpdateStatus.State;
    else if (old.UpdateStatus.State !== cur.UpdateStatus.State) Object.assign(a, { 'updatestate.old': old.UpdateStatus.State, 'updatestate.new': cur.UpdateStatus.State });
  }
  return a;
}

function nodeUpdate(old: Node, cur: Node): Record<string, string> | null {
  const a: Record<string, string> = {};
  if (old.Spec.Availability !== cur.Spec.Availability) Object.assign(a, { 'availability.old': old.Spec.Availability, 'availability.new': cur.Spec.Availability });
  if (old.Spec.Role !== cur.Spec.Role) Object.assign(a, { 'role.old': old.Spec.Role, 'role.new': cur.Spec.Role });
  if (old.Status.State !== cur.Status.State) Object.assign(a, { 'state.old': old.Status.State, 'state.new': cur.Status.State });
  if (old.ManagerStatus && cur.ManagerStatus) {
    if (!!old.ManagerStatus.Leader !== !!cur.ManagerStatus.Leader) Object.assign(a, { 'leader.old': String(!!old.ManagerStatus.Leader), 'leader.new': String(!!cur.ManagerStatus.Leader) });
    if (old.ManagerStatus.Reachability !== cur.ManagerStatus.Reachability) Object.assign(a, { 'reachability.old': old.ManagerStatus.Reachability, 'reachability.new': cur.ManagerStatus.Reachability });
  }
  // Shoal writes node status (heartbeats, addresses) that swarmkit keeps in memory: a write that
  // changes nothing above and no part of the spec is not an event.
  if (Object.keys(a).length === 0 && JSON.stringify(old.Spec) === JSON.stringify(cur.Spec)) return null;
  return a;
}

/** Per store table. `secret` and `config` are written against the Engine API shapes (Spec.Name). */
export const EVENT_MAPPINGS: Readonly<Record<string, EventMapping>> = {
  service: mapping<Service>({ type: 'service', name: (s) => s.Spec.Name, updateAttributes: serviceUpdate }),
  // moby: the spec's name, else the hostname (Shoal's node specs carry no name)
  node: mapping<Node>({ type: 'node', name: (n) => n.Description?.Hostname ?? '', updateAttributes: nodeUpdate }),
  network: mapping<SpecNamed>({ type: 'network', name: specName }),
  secret: mapping<SpecNamed>({ type: 'secret', name: specName }),
  config: mapping<SpecNamed>({ type: 'config', name: specName }),
};

/** The store tables that make events. */
export const EVENT_KINDS: readonly string[] = Object.keys(EVENT_MAPPINGS);

export interface ObjectChange {
  kind: string;
  action: 'create' | 'update' | 'delete';
  object: Named;
  old?: Named;
}

/**
 * The event for one store change, or undefined when it makes none. Its time is the object's UpdatedAt
 * (moby's choice, so every manager reports the same time for the same change) and `nowMs` for a removal,
 * an object without one, or an update that did not move it.
 */
export function swarmEvent(change: ObjectChange, nowMs: number): EngineEvent | undefined {
  const m = EVENT_MAPPINGS[change.kind];
  if (!m) return undefined;
  const attrs: Record<string, string> = { name: m.name(change.object) };
  if (change.action === 'update' && change.old && m.updateAttributes) {
    const extra = m.updateAttributes(change.old, change.object);
    if (extra === null) return undefined;
    Object.assign(attrs, extra);
  }
  // a writer that left UpdatedAt as it was would date the change in the past: it is stamped when seen
  const stale = change.action === 'update' && change.old?.UpdatedAt === change.object.UpdatedAt;
  const updated = change.action === 'delete' || stale ? NaN : Date.parse(change.object.UpdatedAt ?? '');
  const ms = Number.isNaN(updated) ? nowMs : updated;
  return {
    Type: m.type,
    Action: change.action === 'delete' ? 'remove' : change.action,
    Actor: { ID: change.object.ID, Attributes: attrs },
    scope: 'swarm',
    time: Math.floor(ms / 1000),
    timeNano: ms * 1_000_000,
  };
}

export interface EventFilters {
  [key: string]: string[] | undefined;
}

/** The object filters of `docker events`; each one, when given, applies to every event (moby's events/filter.go). */
const OBJECT_FILTERS = ['container', 'daemon', 'image', 'network', 'node', 'plugin', 'secret', 'config', 'service', 'volume'];

/**
 * `docker events` filters for swarm events, as moby reads them: `type`, `event` and `scope` exactly;
 * an object filter (`service=…`, `network=…`, …) by a prefix of the Actor's ID or name, for events
 * of every type (so `--filter network=x` shows only events whose actor is x).
 */
export function eventMatches(ev: EngineEvent, f: EventFilters): boolean {
  const exact = (k: string, v: string) => !f[k]?.length || f[k]!.includes(v);
  const name = ev.Actor.Attributes.name ?? '';
  const fuzzy = (k: string) => !f[k]?.length || f[k]!.some((v) => ev.Actor.ID.startsWith(v) || name.startsWith(v));
  return exact('type', ev.Type) && exact('event', ev.Action) && exact('scope', ev.scope) && OBJECT_FILTERS.every(fuzzy);
}

/**
 * The history a manager keeps for `--since`: at most `maxEvents`, none older than `maxAgeMs` before
 * `nowMs`. Returns how many of the oldest to drop (history is in arrival order).
 */
export function historyOverflow(history: readonly EngineEvent[], nowMs: number, limits: { maxEvents: number; maxAgeMs: number }): number {
  let drop = Math.max(0, history.length - limits.maxEvents);
  const oldest = nowMs - limits.maxAgeMs;
  while (drop < history.length && history[drop]!.timeNano / 1_000_000 < oldest) drop++;
  return drop;
}
