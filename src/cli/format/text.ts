// Small text rules shared by the tables: IDs, states, images, ports, names.
import type { PortConfig } from '../../types';

/** stringid.TruncateID: the first 12 characters. */
export const truncId = (id: string): string => id.slice(0, 12);

/** command.PrettyPrint: first letter upper case ("running" → "Running"). */
export const capitalize = (s: string): string => (s ? s[0]!.toUpperCase() + s.slice(1) : s);

/** Image reference without its @digest ("busybox:latest@sha256:…" → "busybox:latest"). */
export const imageNoDigest = (image: string): string => {
  const i = image.indexOf('@');
  return i < 0 ? image : image.slice(0, i);
};

/** Published ports as `docker service ls` shows them: `*:8080->80/tcp`, comma separated. */
export function formatServicePorts(ports: readonly PortConfig[] | undefined): string {
  if (!ports || ports.length === 0) return '';
  return ports
    .filter((p) => p.PublishMode !== 'host' || p.PublishedPort)
    .map((p) => `*:${p.PublishedPort ?? ''}->${p.TargetPort ?? ''}/${p.Protocol ?? 'tcp'}`)
    .join(', ');
}

/** Ports of a task (host-mode publications) as `docker service ps` shows them. */
export function formatTaskPorts(ports: readonly PortConfig[] | undefined): string {
  if (!ports || ports.length === 0) return '';
  return ports.map((p) => `*:${p.PublishedPort ?? ''}->${p.TargetPort ?? ''}/${p.Protocol ?? 'tcp'}`).join(',');
}
