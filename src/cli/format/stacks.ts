// `docker stack ls` rows: NAME, SERVICES (the number of services carrying the stack's label).
import { naturalCompare } from './objects';
import { formatList, type RowContext } from './template';

export const STACK_TABLE = 'table {{.Name}}\t{{.Services}}';
export const STACK_HEADER = { Name: 'NAME', Services: 'SERVICES' };

/** One row per stack, in `sortorder.NaturalLess` order of the names. */
export function stackRows(counts: Map<string, number>): RowContext[] {
  return [...counts.keys()].sort(naturalCompare).map((n) => ({ Name: n, Services: String(counts.get(n)) }));
}

export const formatStackTable = (counts: Map<string, number>): string => formatList(STACK_TABLE, stackRows(counts), STACK_HEADER);
