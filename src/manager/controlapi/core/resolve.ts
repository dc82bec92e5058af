import { invalidArgument, notFound } from '../../../lib/errors';

/**
 * Resolves a user's reference to one object the way the Docker daemon does: exact ID, then exact
 * name, then unique ID prefix. `what` is the noun in the messages ("service", "node", "task").
 */
export function resolveRef<T extends { ID: string }>(all: T[], ref: string, nameOf: (o: T) => string | undefined, what: string): T {
  const byId = all.find((o) => o.ID === ref);
  if (byId) return byId;
  const byName = all.filter((o) => nameOf(o) === ref);
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) throw invalidArgument(`${what} ${ref} is ambiguous (${byName.length} matches found)`);
  const byPrefix = ref ? all.filter((o) => o.ID.startsWith(ref)) : [];
  if (byPrefix.length === 1) return byPrefix[0]!;
  if (byPrefix.length > 1) throw invalidArgument(`${what} ${ref} is ambiguous (${byPrefix.length} matches found)`);
  throw notFound(`${what} ${ref} not found`);
}
