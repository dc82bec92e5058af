import type { Ctx } from '../context';

/** Wraps a command body: commander calls the returned action with the parsed arguments. */
export type Runner = <A extends unknown[]>(fn: (ctx: Ctx, ...args: A) => Promise<void>) => (...args: A) => Promise<void>;

/** Collects a repeatable option (`-e A -e B`). */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
