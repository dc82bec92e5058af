// Small text rules shared by the tables: IDs, states, images, ports, names.
import type { PortConfig } from '../../types';

/** stringid.TruncateID: the first 12 characters. */
export const truncId = (id: string): string => id.slice(0, 12);

/** command.PrettyPrint: first letter upper case ("running" → "Running"). */
export const capitalize = (s: string): string => (s ? s[0]!.toUpperCase() + s.slice(1) : s);

/**
 * An image as the docker CLI's tables show it: a tagged reference loses its @digest and the
 * `docker.io/library/` it is familiar without ("busybox:latest@sha256:…" → "busybox:latest"); a
 * reference pinned by digest alone is shown whole.
 */
export const imageNoDigest = (image: string): string => {
  const i = image.indexOf('@');
  const named = i < 0 ? image : image.slice(0, i);
  const tagged = named.lastIndexOf(':') > named.lastIndexOf('/');
  if (!tagged) return image;
  return named.replace(/^(docker\.io\/)?library\//, '').replace(/^docker\.io\//, '');
};

/**
 * Published ingress ports as `docker service ls` shows them: sorted by protocol then published port,
 * consecutive published and target ports grouped into ranges (`*:80-81->80-81/tcp`), comma separated.
 * Host-mode ports are not shown.
 */
export function formatServicePorts(ports: readonly PortConfig[] | undefined): string {
  if (!ports || ports.length === 0) return '';
  const sorted = [...ports].sort((a, b) => {
    const pa = a.Protocol ?? 'tcp';
    const pb = b.Protocol ?? 'tcp';
    return pa === pb ? (a.PublishedPort ?? 0) - (b.PublishedPort ?? 0) : pa < pb ? -1 : 1;
  });
  const out: string[] = [];
  let r = { pStart: 0, pEnd: 0, tStart: 0, tEnd: 0, protocol: '' };
  const show = () => `*:${r.pEnd > r.pStart ? `${r.pStart}-${r.pEnd}` : r.pStart}->${r.tEnd > r.tStart ? `${r.tStart}-${r.tEnd}` : r.tStart}/${r.protocol}`;
  for (const p of sorted) {
    if ((p.PublishMode ?? 'ingress') !== 'ingress') continue;
    const pub = p.PublishedPort ?? 0;
    const tgt = p.TargetPort ?? 0;
    const proto = p.Protocol ?? 'tcp';
    const isRange = r.tEnd !== r.tStart;
    // Go's uint32 subtraction: a smaller port than the range's end wraps around and starts a new range.
    const gap = (a: number, b: number) => (a >= b ? a - b : Infinity);
    if (proto !== r.protocol || gap(pub, r.pEnd) > 1 || gap(tgt, r.tEnd) > 1 || (isRange && tgt <= r.tEnd)) {
      if (r.pStart > 0) out.push(show());
      r = { pStart: pub, pEnd: pub, tStart: tgt, tEnd: tgt, protocol: proto };
      continue;
    }
    r.pEnd = pub;
    r.tEnd = tgt;
  }
  if (r.pStart > 0) out.push(show());
  return out.join(', ');
}

/** Ports of a task (host-mode publications) as `docker service ps` shows them. */
export function formatTaskPorts(ports: readonly PortConfig[] | undefined): string {
  if (!ports || ports.length === 0) return '';
  return ports.map((p) => `*:${p.PublishedPort ?? ''}->${p.TargetPort ?? ''}/${p.Protocol ?? 'tcp'}`).join(',');
}
