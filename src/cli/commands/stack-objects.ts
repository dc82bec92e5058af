// Secrets and configs of a stack, through the Engine API's /secrets and /configs: the one place
// the stack commands talk to those endpoints (create or update by name, name → ID, remove).
import type { Ctx } from '../context';
import { DaemonError, filters } from '../client';

export type ObjectKind = 'secrets' | 'configs';

export interface SwarmObject {
  ID: string;
  Version: { Index: number };
  Spec: { Name: string; Labels?: Record<string, string>; Data?: string };
}

export interface ObjectSpec {
  Name: string;
  Labels: Record<string, string>;
  /** Base64 of the content. */
  Data: string;
}

export const listObjects = (ctx: Ctx, kind: ObjectKind, f: Record<string, string[]>): Promise<SwarmObject[]> => ctx.api.get<SwarmObject[]>(`/${kind}`, { filters: filters(f) });

/** Creates the object, or updates it when one of that name exists (the daemon refuses data changes, as Docker's does). */
export async function upsertObject(ctx: Ctx, kind: ObjectKind, spec: ObjectSpec): Promise<void> {
  const singular = kind.slice(0, -1);
  const existing = (await listObjects(ctx, kind, { name: [spec.Name] })).find((o) => o.Spec.Name === spec.Name);
  if (existing) {
    try {
      await ctx.api.post(`/${kind}/${existing.ID}/update`, spec, { version: existing.Version.Index });
    } catch (e) {
      if (e instanceof DaemonError) throw new DaemonError(`failed to update ${singular} ${spec.Name}: ${e.message}`, e.status);
      throw e;
    }
    return;
  }
  ctx.out.write(`Creating ${singular} ${spec.Name}\n`);
  try {
    await ctx.api.post(`/${kind}/create`, spec);
  } catch (e) {
    if (e instanceof DaemonError) throw new DaemonError(`failed to create ${singular} ${spec.Name}: ${e.message}`, e.status);
    throw e;
  }
}

/** Name → ID for the names given; a missing one is an error like the docker CLI's. */
export async function objectIds(ctx: Ctx, kind: ObjectKind, names: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (names.length === 0) return out;
  for (const o of await listObjects(ctx, kind, { name: [...names] })) if (names.includes(o.Spec.Name)) out.set(o.Spec.Name, o.ID);
  for (const n of names) if (!out.has(n)) throw new DaemonError(`${kind.slice(0, -1)} not found: ${n}`, 404);
  return out;
}

/** The stack's objects of one kind; a daemon without the endpoint (404, or 501 "not supported yet") has none. */
export async function stackObjects(ctx: Ctx, kind: ObjectKind, labelFilter: string): Promise<SwarmObject[]> {
  try {
    return await listObjects(ctx, kind, { label: [labelFilter] });
  } catch (e) {
    if (e instanceof DaemonError && (e.status === 404 || e.status === 501)) return [];
    throw e;
  }
}
