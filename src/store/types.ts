import type { Cluster, Config, Network, Node, Secret, Service, Task } from '../types';

/** The tables of the store and the object each holds.  */
export interface ObjectTypes {
  cluster: Cluster;
  node: Node;
  service: Service;
  task: Task;
  network: Network;
  secret: Secret;
  config: Config;
}
export type Kind = keyof ObjectTypes;
export const KINDS: readonly Kind[] = ['cluster', 'node', 'service', 'task', 'network', 'secret', 'config'];

export type StoreObject = ObjectTypes[Kind];

/** One change inside a transaction; the unit a Raft entry carries (a list of them, applied atomically). */
export type Change =
  | { action: 'create'; kind: Kind; object: StoreObject }
  | { action: 'update'; kind: Kind; object: StoreObject }
  | { action: 'delete'; kind: Kind; id: string };

/** What a watcher sees once a change is committed: the object after it (or before, for deletes). */
export interface StoreEvent<K extends Kind = Kind> {
  kind: K;
  action: 'create' | 'update' | 'delete';
  object: ObjectTypes[K];
  old?: ObjectTypes[K];
  /** The commit index the change was applied at. */
  index: number;
}

/**
 * Where committed changes come from. A single node without Raft applies at once; the Raft proposer
 * replicates first and calls `store.applyCommitted` on every manager when the entry commits.
 * `propose` resolves after the changes were applied locally, or rejects (e.g. Unavailable on lost quorum).
 */
export interface Proposer {
  propose(changes: Change[]): Promise<void>;
  /**
   * Pipelining (optional): puts the changes in the log now, or throws at once if it cannot, and tells
   * the index they commit at if they commit; `applied` settles as `propose`'s promise does. A proposer
   * that has it lets the store start the next write before this one commits (MemoryStore.update).
   */
  append?(changes: Change[]): { index: number; applied: Promise<void> };
}

export interface StoreSnapshot {
  index: number;
  tables: { [K in Kind]: ObjectTypes[K][] };
}
