// shoal secret create | ls | inspect | rm and shoal config create | ls | inspect | rm — the
// `docker secret` / `docker config` nouns, one implementation for both kinds of object.
import fs from 'node:fs';
import type { Command } from 'commander';
import { CliError, filters } from '../client';
import type { Ctx } from '../context';
import { kvMap } from '../format/spec';
import { CONFIG_HEADER, CONFIG_TABLE, configRows, prettyConfig, prettySecret, SECRET_HEADER, SECRET_TABLE, secretRows, type ApiSecretOrConfig } from '../format/objects';
import { forEachRef, inspectAll, parseFilters, writeList } from './list-opts';
import { collect, type Runner } from './runner';
import type { ObjectKind } from './stack-objects';

/** swarmkit's MaxSecretSize (500 KiB); docker reads at most twice that. */
const MAX_READ = 2 * 500 * 1024;

/** readSecretData / readConfigData: the file's bytes, or stdin's for `-`; empty is an error. */
export function readData(file: string | undefined, what: 'secret' | 'config', readStdin: () => Buffer = () => fs.readFileSync(0)): Buffer {
  if (!file) throw new CliError(`${what} file is required`, -1);
  const src = file === '-' ? 'STDIN' : file;
  let data: Buffer;
  try {
    data = file === '-' ? readStdin() : fs.readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const reason = err.code === 'ENOENT' ? 'no such file or directory' : err.message;
    throw new CliError(`error reading from ${src}: ${file === '-' ? reason : `open ${file}: ${reason}`}`, -1);
  }
  data = data.subarray(0, MAX_READ);
  if (data.length === 0) throw new CliError(`error reading from ${src}: data is empty`, -1);
  return data;
}

interface CreateFlags {
  label?: string[];
  driver?: string;
  templateDriver?: string;
}

/** The spec docker posts to /secrets/create or /configs/create. */
export function createBody(kind: ObjectKind, name: string, file: string | undefined, f: CreateFlags, readStdin?: () => Buffer): Record<string, unknown> {
  const what = kind === 'secrets' ? 'secret' : 'config';
  let data: Buffer | undefined;
  if (f.driver) {
    if (file) throw new CliError('When using secret driver secret data must be empty', -1);
  } else data = readData(file, what, readStdin);
  return {
    Name: name,
    Labels: kvMap(f.label),
    ...(data ? { Data: data.toString('base64') } : {}),
    ...(f.driver ? { Driver: { Name: f.driver } } : {}),
    ...(f.templateDriver ? { Templating: { Name: f.templateDriver } } : {}),
  };
}

export async function create(ctx: Ctx, kind: ObjectKind, name: string, file: string | undefined, f: CreateFlags): Promise<void> {
  const r = await ctx.api.post<{ ID: string }>(`/${kind}/create`, createBody(kind, name, file, f));
  ctx.out.write(r.ID + '\n');
}

export async function ls(ctx: Ctx, kind: ObjectKind, o: { filter?: string[]; format?: string; quiet?: boolean }): Promise<void> {
  const f = parseFilters(o.filter);
  const list = await ctx.api.get<ApiSecretOrConfig[]>(`/${kind}`, Object.keys(f).length ? { filters: filters(f) } : undefined);
  if (kind === 'secrets') writeList(ctx, secretRows(list, ctx.now()), o, SECRET_TABLE, SECRET_HEADER);
  else writeList(ctx, configRows(list, ctx.now()), o, CONFIG_TABLE, CONFIG_HEADER);
}

export async function inspect(ctx: Ctx, kind: ObjectKind, refs: string[], o: { format?: string; pretty?: boolean }): Promise<void> {
  if (!o.pretty) return inspectAll(ctx, refs, (r) => ctx.api.get(`/${kind}/${encodeURIComponent(r)}`), o.format);
  if (o.format) throw new CliError('--format is incompatible with human friendly format');
  const pretty = kind === 'secrets' ? prettySecret : prettyConfig;
  for (const r of refs) ctx.out.write(pretty(await ctx.api.get<ApiSecretOrConfig>(`/${kind}/${encodeURIComponent(r)}`)) + '\n');
}

export const rm = (ctx: Ctx, kind: ObjectKind, refs: string[]): Promise<void> => forEachRef(ctx, refs, (r) => ctx.api.request('DELETE', `/${kind}/${encodeURIComponent(r)}`));

function registerKind(program: Command, run: Runner, kind: ObjectKind): void {
  const what = kind === 'secrets' ? 'secret' : 'config';
  const Cap = what === 'secret' ? 'Secret' : 'Config';
  const noun = program.command(what).description(`Manage Swarm ${kind}`);
  const c = noun
    .command('create')
    .description(`Create a ${what} from a file or STDIN as content`)
    .argument(`<${what}>`)
    .argument(kind === 'secrets' ? '[file|-]' : '<file|->')
    .option('-l, --label <label>', `${Cap} labels`, collect)
    .option('--template-driver <driver>', 'Template driver');
  if (kind === 'secrets') c.option('-d, --driver <driver>', 'Secret driver');
  c.action(run((ctx, name: string, file: string | undefined, f: CreateFlags) => create(ctx, kind, name, file, f)));
  noun
    .command('ls')
    .alias('list')
    .description(`List ${kind}`)
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect)
    .option('--format <format>', 'Format output using a custom template')
    .option('-q, --quiet', 'Only display IDs')
    .action(run((ctx, o: { filter?: string[]; format?: string; quiet?: boolean }) => ls(ctx, kind, o)));
  noun
    .command('inspect')
    .description(`Display detailed information on one or more ${kind}`)
    .argument(`<${what}...>`)
    .option('-f, --format <format>', 'Format output using a custom template')
    .option('--pretty', 'Print the information in a human friendly format')
    .action(run((ctx, refs: string[], o: { format?: string; pretty?: boolean }) => inspect(ctx, kind, refs, o)));
  noun
    .command('rm')
    .alias('remove')
    .description(`Remove one or more ${kind}`)
    .argument(`<${what}...>`)
    .action(run((ctx, refs: string[]) => rm(ctx, kind, refs)));
}

export function register(program: Command, run: Runner): void {
  registerKind(program, run, 'secrets');
  registerKind(program, run, 'configs');
}
