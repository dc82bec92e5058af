// `docker stack ls` rows: NAME, SERVICES (the number of services carrying the stack's label).
import { formatTable } from './table';

export function formatStackTable(counts: Map<string, number>): string {
  const names = [...counts.keys()].sort();
  return formatTable(
    ['NAME', 'SERVICES'],
    names.map((n) => [n, String(counts.get(n))]),
  );
}
