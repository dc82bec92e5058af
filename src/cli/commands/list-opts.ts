// What the list and inspect commands of the network, secret and config nouns share: `--filter`
// parsing, `--format`/`--quiet` choice, and removing several objects the way the docker CLI does.
import { CliError, DaemonError } from '../client';
import type { Ctx } from '../context';
import { formatInspect, formatList, TemplateError, type RowContext } from '../format/template';
import { QUIET_FORMAT } from '../format/objects';

/** `--filter key=value` (repeatable) → the Engine's filters map. */
export function parseFilters(list: readonly string[] | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of list ?? []) {
    const eq = f.indexOf('=');
    if (eq < 0) throw new CliError(`invalid argument "${f}" for "-f, --filter" flag: bad format of filter (expected name=value)`);
    const k = f.slice(0, eq).trim().toLowerCase();
    (out[k] ??= []).push(f.slice(eq + 1).trim());
  }
  return out;
}

/** The format a list prints with: the user's `--format`, else `-q`'s IDs, else the noun's default table. */
export function listFormat(o: { format?: string; quiet?: boolean }, table: string): string {
  if (o.quiet && (!o.format || o.format === 'table')) return QUIET_FORMAT;
  return !o.format || o.format === 'table' ? table : o.format;
}

/** The docker formatter's `IsTable`: a `table` format prints a header row and aligned columns. */
export const isTable = (format: string): boolean => format.trim().startsWith('table');

/** Writes a list in the format `listFormat` chooses. */
export function writeList(ctx: Ctx, rows: RowContext[], o: { format?: string; quiet?: boolean }, table: string, header: Record<string, string>): void {
  const format = listFormat(o, table);
  try {
    ctx.out.write(formatList(format, rows, header));
  } catch (e) {
    if (e instanceof TemplateError) throw new CliError(e.message);
    throw e;
  }
}

/** `inspect`: indented JSON of all objects (as the daemon sent their fields), or `--format` per object. */
export function writeInspect(ctx: Ctx, objects: unknown[], format: string | undefined): void {
  if (!format || format === 'json') {
    ctx.out.write(objects.length ? JSON.stringify(objects, null, 4) + '\n' : '[]\n');
    return;
  }
  try {
    ctx.out.write(formatInspect(format, objects));
  } catch (e) {
    if (e instanceof TemplateError) throw new CliError(e.message);
    throw e;
  }
}

/**
 * Runs `fn` for every reference; prints each one that worked, then fails with every daemon
 * error on its own line, as `docker network rm a b` does.
 */
export async function forEachRef(ctx: Ctx, refs: readonly string[], fn: (ref: string) => Promise<void>): Promise<void> {
  const errors: string[] = [];
  for (const r of refs) {
    try {
      await fn(r);
      ctx.out.write(r + '\n');
    } catch (e) {
      if (e instanceof DaemonError) errors.push(`Error response from daemon: ${e.message}`);
      else if (e instanceof CliError) errors.push(e.message);
      else throw e;
    }
  }
  if (errors.length) throw new CliError(errors.join('\n'), -1);
}

/**
 * Inspects every reference; a failed one is reported after the found ones are printed, as docker
 * inspect does. `notFound` gives the text of a 404 where the docker CLI words it itself
 * (`no such service: x`).
 */
export async function inspectAll(ctx: Ctx, refs: readonly string[], get: (ref: string) => Promise<unknown>, format: string | undefined, notFound?: (ref: string) => string): Promise<void> {
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const r of refs) {
    try {
      found.push(await get(r));
    } catch (e) {
      if (e instanceof DaemonError && e.status === 404 && notFound) errors.push(notFound(r));
      else if (e instanceof DaemonError) errors.push(`Error response from daemon: ${e.message}`);
      else throw e;
    }
  }
  writeInspect(ctx, found, format);
  if (errors.length) throw new CliError(errors.join('\n'), -1);
}
