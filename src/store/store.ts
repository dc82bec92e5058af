import { conflict, notFound } from '../lib/errors';
import type { Change, Kind, ObjectTypes, Proposer, StoreEvent, StoreSnapshot } from './types';
import { KINDS } from './types';
import { Watch, type WatchFilter } from './watch';
import { PendingWrites, slotKey, type TaskIndexName } from './pending';
import { MAX_PENDING_WRITES } from './limits';
import type { TaskCounts } from './task-counts';
import type { NodeLoad } from './node-loads';
import type { Task, TaskState } from '../types';
import { cloneData, deepFreeze, storedVersion } from '../lib/clone';
import { CommittedTasks, type TaskIndexSizes } from './committed-tasks';
import { eachId, holdsId, type TaskIds } from './task-index';

type Table<K extends Kind> = Map<string, ObjectTypes[K]>;
type Tables = { [K in Kind]: Table<K> };

/** Read access to a consistent view of the tables. Objects handed out are copies. */
export interface ReadTx {
  get<K extends Kind>(kind: K, id: string): ObjectTypes[K] | undefined;
  find<K extends Kind>(kind: K, pred?: (o: ObjectTypes[K]) => boolean): ObjectTypes[K][];
  /** The tasks of a service; `where` picks among them before anything is copied (a few pending among 100,000). */
  tasksByService(serviceId: string, where?: (t: ObjectTypes['task']) => boolean): ObjectTypes['task'][];
  tasksByNode(nodeId: string, where?: (t: ObjectTypes['task']) => boolean): ObjectTypes['task'][];
  /** The tasks of one slot of a replicated service (Slot > 0), history included: a slot's holders without reading the other slots. */
  tasksBySlot(serviceId: string, slot: number, where?: (t: ObjectTypes['task']) => boolean): ObjectTypes['task'][];
  /** The tasks of a service in state PENDING (the scheduler's input), without reading the others. */
  pendingTasks(serviceId: string): ObjectTypes['task'][];
}

/** A write transaction: reads see its own writes; nothing is visible to others until committed. */
export interface WriteTx extends ReadTx {
  /**
   * The same reads without the copies: the objects as this transaction sees them (its own writes, else
   * the store's). For planning that only looks (a reconcile pass over a service's 100,000 tasks, the node
   * table): never change one; write changed copies back with `update` (`{ ...t, Status }` keeps the
   * rest of `t` as the store's own: see below).
   */
  readonly shared: ReadTx;
  /**
   * `create` and `update` keep a copy of `obj` as the new version: its top-level parts that are the
   * current version's own objects (as `shared` reads hand them out) are kept as they are, the others
   * copied, once per transaction (lib/clone.ts, storedVersion). So `obj` and what it holds must not be
   * changed after it is handed in, until the transaction ends.
   */
  create<K extends Kind>(kind: K, obj: ObjectTypes[K]): void;
  update<K extends Kind>(kind: K, obj: ObjectTypes[K]): void;
  delete(kind: Kind, id: string): void;
}

/**
 * When readers waiting on a watch hear of a commit: `fn` is called once per commit turn for all of
 * them. The store itself has no timers (it defaults to a microtask, as a plain promise would); the
 * daemon passes `setImmediate`, so that the turn that applied a commit runs its microtasks first:
 * woken from inside the commit, every reader's reaction (the update supervisor planning, the events
 * feed, the store loops) ran ahead of the writer's own continuation, and a one-manager `POST
 * /services/create` answered ≈ 60 µs later for work that was not its own (performance.md, "B5 POST").
 * A reader that calls `next()` with events already queued gets them at once either way.
 */
export type WakeScheduler = (fn: () => void) => void;

/** Where transaction latencies go (swarm_store_read_tx/write_tx_latency_seconds); time comes in through `now` (ms). */
export interface StoreTimer {
  now(): number;
  readTx(ms: number): void;
  writeTx(ms: number): void;
}

/**
 * The in-memory cluster state of a manager: one table per kind with indexes, transactions, watches,
 * snapshot and restore. It is pure: durability and replication are the Proposer's job.
 */
export class MemoryStore {
  private tables: Tables = { cluster: new Map(), node: new Map(), service: new Map(), task: new Map(), network: new Map(), secret: new Map(), config: new Map() };
  /** The task indexes and what committed tasks share. */
  private committedTasks = new CommittedTasks((kind, id) => this.tables[kind].get(id)?.ID);
  private watches = new Set<Watch>();
  /** Watches of one node's task events (WatchFilter.nodeId), by node ID. */
  private nodeWatches = new Map<string, Set<Watch>>();
  private writeChain: Promise<unknown> = Promise.resolve();
  /** Proposed writes not applied yet, read by later write transactions (pipelining: see write). */
  private pendingWrites = new PendingWrites();
  private appliedIndex = 0;
  /** Per kind, how many commits (and restores) changed an object of it: see changeCount. */
  private changes: Record<Kind, number> = { cluster: 0, node: 0, service: 0, task: 0, network: 0, secret: 0, config: 0 };

  private timer: StoreTimer | undefined;

  /**
   * `freezeCommitted` (tests and simulations): every committed object is deep-frozen, so a reader of the
   * shared objects (`read`, `tx.shared`, `snapshot`) that changes one throws instead of corrupting the store.
   */
  constructor(
    private proposer: Proposer,
    private readonly opts: { freezeCommitted?: boolean; wakeReadersAfter?: WakeScheduler } = {},
  ) {}

  setProposer(p: Proposer): void {
    this.proposer = p;
  }

  /** Times every read and write transaction from now on (the daemon's metrics); undefined stops it. */
  setTimer(t: StoreTimer | undefined): void {
    this.timer = t;
  }

  get index(): number {
    return this.appliedIndex;
  }

  /**
   * A number that moves whenever a commit or a restore changes an object of `kind`: what is computed from
   * that kind alone stays valid while it stays (the manager list every heartbeat answers with, read from
   * 5,000 nodes 1,000 times a second, is computed again only when a node changed).
   */
  changeCount(kind: Kind): number {
    return this.changes[kind];
  }

  view<T>(fn: (tx: ReadTx) => T): T {
    const { peek: _peek, ...r } = this.reader(EMPTY_OVERLAY, { copy: true, pending: false });
    return this.timedRead(() => fn(r));
  }

  private timedRead<T>(run: () => T): T {
    const t = this.timer;
    if (!t) return run();
    const started = t.now();
    try {
      return run();
    } finally {
      t.readTx(t.now() - started);
    }
  }

  /**
   * Like `view`, but the objects handed out are the store's own, not copies: for readers that only
   * look at them or serialize them (lists for the API, IDs for a loop, the scheduler's node table).
   * They must never be changed. A commit replaces objects and never changes one in place, so one
   * kept for a while is a consistent, possibly outdated, version. Take `view` for anything else.
   */
  read<T>(fn: (tx: ReadTx) => T): T {
    const r = this.sharedReader();
    return this.timedRead(() => fn(r));
  }

  private sharedReader(): ReadTx {
    const tables = this.tables;
    const tasksVia = (indexed: TaskIds | undefined, where?: (t: ObjectTypes['task']) => boolean): ObjectTypes['task'][] => {
      const out: ObjectTypes['task'][] = [];
      for (const id of eachId(indexed)) {
        const t = tables.task.get(id);
        if (t && (!where || where(t))) out.push(t);
      }
      return out;
    };
    return {
      get: (kind, id) => (tables[kind] as Table<typeof kind>).get(id) as never,
      find: (kind, pred) => {
        const out: ObjectTypes[typeof kind][] = [];
        for (const o of (tables[kind] as Table<typeof kind>).values()) if (!pred || pred(o as never)) out.push(o);
        return out as never;
      },
      tasksByService: (sid, where) => tasksVia(this.committedTasks.tasksOfService(sid), where),
      tasksByNode: (nid, where) => tasksVia(this.committedTasks.tasksOfNode(nid), where),
      tasksBySlot: (sid, slot, where) => tasksVia(this.committedTasks.tasksOfSlot(sid, slot), where),
      pendingTasks: (sid) => tasksVia(this.committedTasks.pendingOfService(sid)),
    };
  }

  /**
   * Runs `fn` in a write transaction and proposes its changes. Writes are serialized: a transaction
   * reads the state every earlier write left. Resolves with `fn`'s result once the changes are
   * committed and applied (a transaction without changes: once every write it read is).
   */
  update<T>(fn: (tx: WriteTx) => T): Promise<T> {
    return this.write(fn).then(async (w) => {
      await w.applied;
      return w.result;
    });
  }

  /**
   * `update` for writers that go on before their write commits: resolves once the changes are in the
   * log, with `fn`'s result and `applied`, which settles as `update` would (never unhandled: a
   * failure of a write nobody waits for is also the failure of every later one, which their writers see).
   *
   * Pipelined when the proposer can `append`: the next transaction starts as soon as this one is in the
   * log, reading it through the pending writes, instead of after its commit. A write then costs its
   * writer one transaction's CPU, not a replication round trip and two fsyncs (issue 15: at 100,000
   * tasks the store's write chain, one commit at a time, bounded every component). Without `append`,
   * the next transaction waits for this one's commit.
   */
  write<T>(fn: (tx: WriteTx) => T): Promise<{ result: T; applied: Promise<void> }> {
    const t = this.timer;
    let started = 0;
    const run = (): { result: T; applied: Promise<void> | undefined } => {
      started = t?.now() ?? 0;
      const overlay = new Map<string, Change>();
      const result = fn(this.writer(overlay));
      const changes = [...overlay.values()];
      if (changes.length === 0) return { result, applied: this.pendingWrites.lastApplied };
      if (!this.proposer.append) return { result, applied: this.proposer.propose(changes) };
      const { index, applied } = this.proposer.append(changes);
      if (index > this.appliedIndex) {
        this.pendingWrites.push(index, changes, applied);
        if (this.opts.freezeCommitted) for (const c of changes) deepFreeze(c);
        // a write that fails takes every later one with it: they were built on it
        applied.catch(() => this.pendingWrites.dropFrom(index));
      }
      return { result, applied };
    };
    const turn = this.writeChain.then(run);
    // The next write starts once this one is in the log and fewer than MAX_PENDING_WRITES are (pipelined),
    // or once this one is applied (not).
    this.writeChain = turn.then((w) => (this.proposer.append ? this.roomInLog() : w.applied)).catch(() => undefined);
    return turn.then((w) => {
      const applied = (w.applied ?? Promise.resolve()).then(() => {
        // as swarmkit's write_tx latency: the transaction and its proposal, committed and applied
        t?.writeTx(t.now() - started);
      });
      applied.catch(() => undefined);
      return { result: w.result, applied };
    });
  }

  /** Resolves once fewer than MAX_PENDING_WRITES writes are pending (the oldest ones applied or lost). */
  private async roomInLog(): Promise<void> {
    while (this.pendingWrites.size >= MAX_PENDING_WRITES) await this.pendingWrites.firstApplied?.catch(() => undefined);
  }

  /**
   * Applies committed changes at `index` (called by the proposer on every manager, in log order). The
   * change objects become the store's own: they are decoded from the log entry (or are a transaction's
   * private copies), so nobody else holds them and copying 100,000 of them again would be wasted work.
   */
  applyCommitted(index: number, changes: Change[]): void {
    const events: StoreEvent[] = [];
    for (const c of changes) {
      this.changes[c.kind]++;
      const table = this.tables[c.kind] as Table<Kind>;
      if (c.action === 'delete') {
        const old = table.get(c.id);
        if (!old) continue;
        table.delete(c.id);
        if (c.kind === 'task') this.committedTasks.leave(old as Task);
        events.push({ kind: c.kind, action: 'delete', object: old, old, index });
      } else {
        const obj = c.object;
        obj.Version = { Index: index };
        const old = table.get(obj.ID);
        // one string per object ID: the table's key, which the task indexes hold too (a decoded version brings its own copy)
        if (old) obj.ID = old.ID;
        if (c.kind === 'task') this.committedTasks.enter(obj as Task, old as Task | undefined);
        if (this.opts.freezeCommitted) deepFreeze(obj);
        table.set(obj.ID, obj);
        events.push({ kind: c.kind, action: old ? 'update' : 'create', object: obj, old, index });
      }
    }
    this.appliedIndex = Math.max(this.appliedIndex, index);
    this.pendingWrites.appliedThrough(index);
    for (const w of this.watches) for (const e of events) w.offer(e);
    if (this.nodeWatches.size > 0) {
      for (const e of events) {
        if (e.kind !== 'task') continue;
        const now = (e.object as ObjectTypes['task']).NodeID;
        const before = (e.old as ObjectTypes['task'] | undefined)?.NodeID;
        if (now) for (const w of this.nodeWatches.get(now) ?? []) w.offer(e);
        if (before && before !== now) for (const w of this.nodeWatches.get(before) ?? []) w.offer(e);
      }
    }
  }

  private readonly readersToWake = new Set<Watch>();
  private wakeScheduled = false;
  private readonly wakeLater = (w: Watch): void => {
    this.readersToWake.add(w);
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    (this.opts.wakeReadersAfter ?? queueMicrotask)(() => {
      this.wakeScheduled = false;
      const watches = [...this.readersToWake];
      this.readersToWake.clear();
      for (const x of watches) x.wake();
    });
  };

  /** Subscribes to committed events. Close the watch when done. */
  watch(filter?: WatchFilter): Watch {
    const nodeId = filter?.nodeId;
    if (nodeId === undefined) {
      const w = new Watch(filter, () => this.watches.delete(w), this.wakeLater);
      this.watches.add(w);
      return w;
    }
    // a node's watch sees its task events only: kinds other than task are never offered to it
    const w = new Watch(
      { ...filter, kinds: ['task'] },
      () => {
        const set = this.nodeWatches.get(nodeId);
        set?.delete(w);
        if (set?.size === 0) this.nodeWatches.delete(nodeId);
      },
      this.wakeLater,
    );
    addTo(this.nodeWatches, nodeId, w);
    return w;
  }

  /**
   * The whole state at the applied index. The objects are the store's own, not copies (100,000 tasks
   * copied only to be encoded would double the snapshot's cost): never change what it holds. A commit
   * replaces objects and never changes one, so the arrays keep describing this index while later
   * commits go on (the Raft snapshot is encoded from them in slices).
   */
  snapshot(): StoreSnapshot {
    return {
      index: this.appliedIndex,
      tables: {
        cluster: [...this.tables.cluster.values()],
        node: [...this.tables.node.values()],
        service: [...this.tables.service.values()],
        task: [...this.tables.task.values()],
        network: [...this.tables.network.values()],
        secret: [...this.tables.secret.values()],
        config: [...this.tables.config.values()],
      },
    };
  }

  /**
   * Replaces the whole state (snapshot install). The snapshot's objects become the store's own (it is
   * decoded from a snapshot payload that nobody else holds). Watchers see nothing: they must re-list.
   */
  restore(snap: StoreSnapshot): void {
    this.tables = { cluster: new Map(), node: new Map(), service: new Map(), task: new Map(), network: new Map(), secret: new Map(), config: new Map() };
    this.committedTasks.clear();
    // in KINDS' order: services and nodes are in before the tasks that refer to them (CommittedTasks.share)
    for (const kind of KINDS) {
      // A snapshot written before a kind existed has no table for it.
      for (const o of (snap.tables[kind] ?? []) as ObjectTypes[Kind][]) {
        if (kind === 'task') this.committedTasks.enter(o as Task, undefined);
        if (this.opts.freezeCommitted) deepFreeze(o);
        (this.tables[kind] as Table<Kind>).set(o.ID, o);
      }
    }
    for (const kind of KINDS) this.changes[kind]++;
    this.appliedIndex = snap.index;
    this.pendingWrites.appliedThrough(snap.index);
  }

  /**
   * What `docker service ls` counts of a service's tasks, by node ID ('' for none), at the applied
   * index: kept as tasks are applied, so a service's status is a sum over its nodes (at most the
   * cluster's nodes) instead of a pass over its 100,000 tasks per request. The map is the store's
   * own: never change it.
   */
  taskCountsByNode(serviceId: string): ReadonlyMap<string, Readonly<TaskCounts>> {
    return this.committedTasks.countsByNode(serviceId);
  }

  /** How many tasks the store holds in each observed state (a state without tasks is absent), at the applied index. The store's own map. */
  taskCountsByState(): ReadonlyMap<TaskState, number> {
    return this.committedTasks.countsByState();
  }

  /**
   * What the tasks on a node that have not stopped weigh (store/node-loads.ts), at the applied index:
   * kept as tasks are applied, so the scheduler's node table is a pass over the nodes. The store's
   * own: never change it. Undefined when no such task is on the node.
   */
  nodeLoad(nodeId: string): Readonly<NodeLoad> | undefined {
    return this.committedTasks.loadOf(nodeId);
  }

  /** How many keys each task index holds (tests and bench/store-memory: a key without tasks is gone). */
  taskIndexSizes(): TaskIndexSizes {
    return this.committedTasks.sizes();
  }

  /**
   * The reads of a transaction: its own writes (`overlay`), then, for a write transaction, the pending
   * writes before it (`pending`), then the committed tables.
   */
  private reader(overlay: Map<string, Change>, opts: { copy: boolean; pending: boolean }): ReadTx & { peek: <K extends Kind>(kind: K, id: string) => ObjectTypes[K] | undefined } {
    const key = (kind: Kind, id: string) => `${kind}/${id}`;
    const clone = opts.copy ? cloneData : <T>(v: T): T => v;
    const pending = opts.pending && this.pendingWrites.size > 0 ? this.pendingWrites : undefined;
    // The object as this transaction sees it, not copied: only for reads that never leave the store.
    const peek = <K extends Kind>(kind: K, id: string): ObjectTypes[K] | undefined => {
      const c = (overlay.size > 0 ? overlay.get(key(kind, id)) : undefined) ?? pending?.peek(kind, id);
      if (c) return c.action === 'delete' ? undefined : (c.object as ObjectTypes[K]);
      return (this.tables[kind] as Table<K>).get(id);
    };
    const get = <K extends Kind>(kind: K, id: string): ObjectTypes[K] | undefined => {
      const o = peek(kind, id);
      return o ? clone(o) : undefined;
    };
    const find = <K extends Kind>(kind: K, pred?: (o: ObjectTypes[K]) => boolean): ObjectTypes[K][] => {
      const out: ObjectTypes[K][] = [];
      const seen = new Set<string>();
      const take = (id: string, c: Change) => {
        if (seen.has(id)) return;
        seen.add(id);
        if (c.action === 'delete') return;
        const o = c.object as ObjectTypes[K];
        if (!pred || pred(o)) out.push(clone(o));
      };
      for (const [k, c] of overlay) if (k.startsWith(kind + '/')) take(c.action === 'delete' ? c.id : c.object.ID, c);
      for (const [id, p] of pending?.ofKind(kind) ?? []) take(id, p.change);
      for (const [id, o] of this.tables[kind] as Table<K>) {
        if (seen.has(id)) continue;
        if (!pred || pred(o)) out.push(clone(o));
      }
      return out;
    };
    /**
     * The tasks `index` lists under `k`, and those this transaction or a pending write made or moved
     * there (not in the index yet); `belongs` drops those that moved away since.
     */
    const tasksVia = (indexed: TaskIds | undefined, name: TaskIndexName, k: string, belongs: (t: ObjectTypes['task']) => boolean, where?: (t: ObjectTypes['task']) => boolean) => {
      const out: ObjectTypes['task'][] = [];
      const take = (t: ObjectTypes['task'] | undefined) => {
        if (t && belongs(t) && (!where || where(t))) out.push(clone(t));
      };
      const table = this.tables.task;
      if (overlay.size === 0 && !pending) {
        for (const id of eachId(indexed)) take(table.get(id));
        return out;
      }
      // peek() for tasks, without a string key and two map lookups a task: this reads all 100,000 tasks
      // of a service while writes are pending (a new leader's first passes: 8 % of its CPU, issue 15)
      let own: Map<string, Change> | undefined;
      for (const [ok, c] of overlay) if (ok.startsWith('task/')) (own ??= new Map()).set(ok.slice(5), c);
      const theirs = pending?.ofKind('task');
      const look = (id: string): ObjectTypes['task'] | undefined => {
        const c = own?.get(id) ?? theirs?.get(id)?.change;
        if (c) return c.action === 'delete' ? undefined : (c.object as ObjectTypes['task']);
        return table.get(id);
      };
      for (const id of eachId(indexed)) take(look(id));
      const extra = new Set<string>();
      for (const id of pending?.taskIds(name, k) ?? []) if (!holdsId(indexed, id)) extra.add(id);
      for (const id of own?.keys() ?? []) if (!holdsId(indexed, id)) extra.add(id);
      for (const id of extra) take(look(id));
      return out;
    };
    return {
      get,
      peek,
      find,
      tasksByService: (sid, where) => tasksVia(this.committedTasks.tasksOfService(sid), 'service', sid, (t) => t.ServiceID === sid, where),
      tasksByNode: (nid, where) => tasksVia(this.committedTasks.tasksOfNode(nid), 'node', nid, (t) => t.NodeID === nid, where),
      tasksBySlot: (sid, slot, where) => tasksVia(this.committedTasks.tasksOfSlot(sid, slot), 'slot', slotKey(sid, slot), (t) => t.ServiceID === sid && t.Slot === slot, where),
      pendingTasks: (sid) => tasksVia(this.committedTasks.pendingOfService(sid), 'pending', sid, (t) => t.ServiceID === sid && t.Status.State === 'pending'),
    };
  }

  private writer(overlay: Map<string, Change>): WriteTx {
    const { peek, ...r } = this.reader(overlay, { copy: true, pending: true });
    const { peek: _peek, ...shared } = this.reader(overlay, { copy: false, pending: true });
    const key = (kind: Kind, id: string) => `${kind}/${id}`;
    // what this transaction copied, by the object it was handed (storedVersion)
    const copies = new Map<object, unknown>();
    return {
      ...r,
      shared,
      create: (kind, obj) => {
        if (peek(kind, obj.ID)) throw conflict(`${kind} ${obj.ID} already exists`);
        overlay.set(key(kind, obj.ID), { action: 'create', kind, object: storedVersion(obj, undefined, copies) });
      },
      update: (kind, obj) => {
        const k = key(kind, obj.ID);
        const current = peek(kind, obj.ID);
        if (!current) throw notFound(`${kind} ${obj.ID} not found`);
        const prev = overlay.get(k);
        overlay.set(k, { action: prev?.action === 'create' ? 'create' : 'update', kind, object: storedVersion(obj, current, copies) });
      },
      delete: (kind, id) => {
        const k = key(kind, id);
        const prev = overlay.get(k);
        if (prev?.action === 'create') overlay.delete(k);
        else if (peek(kind, id)) overlay.set(k, { action: 'delete', kind, id });
      },
    };
  }
}

const EMPTY_OVERLAY: Map<string, Change> = new Map();

function addTo<V>(m: Map<string, Set<V>>, k: string, v: V): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}
