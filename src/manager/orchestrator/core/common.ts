import type { Node, Task } from '../../../types';

/** One store write the cores decide; the loops apply them inside a store transaction. */
export type Mutation = { op: 'create'; task: Task } | { op: 'update'; task: Task } | { op: 'delete'; id: string };

/** Makes object IDs (the loops pass `() => newId(rng)`). */
export type IdGen = () => string;

/**
 * A node that can no longer keep a task: gone, Down, or drained (swarmkit's "invalid node").
 * Paused nodes keep their tasks; unknown/disconnected nodes are given the benefit of the doubt.
 */
export const nodeUnavailable = (n: Node | undefined): boolean => !n || n.Status.State === 'down' || n.Spec.Availability === 'drain';

export const NS_PER_MS = 1_000_000;
export const DEFAULT_RESTART_DELAY_NS = 5_000_000_000;
/** How long a replacement waits for the task it replaces to stop before starting anyway. */
export const OLD_TASK_TIMEOUT_MS = 60_000;
export const DEFAULT_TASK_HISTORY = 5;

export const byIdMap = <T extends { ID: string }>(xs: readonly T[]): Map<string, T> => new Map(xs.map((x) => [x.ID, x]));
