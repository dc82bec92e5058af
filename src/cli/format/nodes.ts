// `docker node ls` rows.
import type { Node } from '../../types';
import { formatTable } from './table';
import { capitalize } from './text';

export type ApiNode = Omit<Node, 'internal'>;

export const NODE_HEADER = ['ID', 'HOSTNAME', 'STATUS', 'AVAILABILITY', 'MANAGER STATUS', 'ENGINE VERSION'];

/** MANAGER STATUS: Leader, Reachable, Unreachable, or empty for a worker. */
export function managerStatusText(n: ApiNode): string {
  if (!n.ManagerStatus) return '';
  if (n.ManagerStatus.Leader) return 'Leader';
  return capitalize(n.ManagerStatus.Reachability);
}

export function formatNodeTable(nodes: readonly ApiNode[], selfId: string): string {
  const sorted = [...nodes].sort((a, b) => {
    const ha = a.Description?.Hostname ?? '';
    const hb = b.Description?.Hostname ?? '';
    return ha < hb ? -1 : ha > hb ? 1 : a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0;
  });
  const rows = sorted.map((n) => [
    n.ID === selfId ? `${n.ID} *` : n.ID,
    n.Description?.Hostname ?? '',
    capitalize(n.Status?.State ?? ''),
    capitalize(n.Spec.Availability),
    managerStatusText(n),
    n.Description?.Engine?.EngineVersion ?? '',
  ]);
  return formatTable(NODE_HEADER, rows);
}
