// Redeploying a stack updates only the services whose spec changed. Specs are compared as the
// daemon's Go decoder would see them: keys case-insensitively, and a missing member the same as
// its zero value (false, 0, "", empty list or map). Pure.
import type { ServiceSpec } from '../../types';
import { LABEL_IMAGE } from './convert';

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) {
    const a = v.map(canonical);
    return a.length ? a : undefined;
  }
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()))) {
      const c = canonical((v as Record<string, unknown>)[k]);
      if (c !== undefined) o[k.toLowerCase()] = c;
    }
    return Object.keys(o).length ? o : undefined;
  }
  if (v === null || v === false || v === 0 || v === '') return undefined;
  return v;
}

/**
 * Whether the service's current spec already is `next`. The daemon stores network attachments by
 * network ID and fills in the default of one replica, so `next` is compared with its network names
 * looked up in `networkIds` and its replica count defaulted.
 */
export function sameSpec(current: ServiceSpec, next: ServiceSpec, networkIds: ReadonlyMap<string, string> = new Map()): boolean {
  const n = structuredClone(next);
  for (const a of [...(n.TaskTemplate.Networks ?? []), ...(n.Networks ?? [])]) a.Target = networkIds.get(a.Target) ?? a.Target;
  if (n.Mode.Replicated && n.Mode.Replicated.Replicas === undefined) n.Mode.Replicated.Replicas = 1;
  return JSON.stringify(canonical(current) ?? null) === JSON.stringify(canonical(n) ?? null);
}

/**
 * The spec to send for an existing service, as the docker CLI prepares it: the ForceUpdate counter
 * is kept (stack deploy has no --force), and when the file names the same image as last time the
 * service's current (possibly digest-pinned) image is kept.
 */
export function specForUpdate(current: ServiceSpec, next: ServiceSpec): ServiceSpec {
  const out = structuredClone(next);
  const cs = out.TaskTemplate.ContainerSpec;
  const curImage = current.TaskTemplate.ContainerSpec?.Image;
  if (cs && curImage && cs.Image === current.Labels?.[LABEL_IMAGE]) cs.Image = curImage;
  if (current.TaskTemplate.ForceUpdate !== undefined) out.TaskTemplate.ForceUpdate = current.TaskTemplate.ForceUpdate;
  return out;
}
