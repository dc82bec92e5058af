// shoal network create | ls | inspect | rm | prune — `docker network` through /networks.
import readline from 'node:readline';
import type { Command } from 'commander';
import { CliError, DaemonError, filters } from '../client';
import type { Ctx } from '../context';
import { kvMap } from '../format/spec';
import { NETWORK_HEADER, NETWORK_TABLE, networkRows, type ApiNetwork } from '../format/objects';
import { inspectAll, parseFilters, writeList } from './list-opts';
import { collect, type Runner } from './runner';

export interface NetworkCreateFlags {
  driver: string;
  subnet?: string[];
  gateway?: string[];
  ipRange?: string[];
  ipamDriver: string;
  attachable?: boolean;
  internal?: boolean;
  ingress?: boolean;
  ipv6?: boolean;
  scope?: string;
  label?: string[];
  opt?: string[];
}

/** IPAM pools from --subnet/--ip-range/--gateway: the i-th range and gateway belong to the i-th subnet. */
export function ipamConfig(f: Pick<NetworkCreateFlags, 'subnet' | 'gateway' | 'ipRange'>): { Subnet: string; IPRange?: string; Gateway?: string }[] {
  const subnets = f.subnet ?? [];
  if ((f.gateway?.length ?? 0) > subnets.length || (f.ipRange?.length ?? 0) > subnets.length) throw new CliError('every ip-range or gateway must have a corresponding subnet');
  return subnets.map((s, i) => ({ Subnet: s, ...(f.ipRange?.[i] ? { IPRange: f.ipRange[i] } : {}), ...(f.gateway?.[i] ? { Gateway: f.gateway[i] } : {}) }));
}

/** The body docker sends to POST /networks/create. */
export function networkCreateBody(name: string, f: NetworkCreateFlags): Record<string, unknown> {
  return {
    Name: name,
    Driver: f.driver,
    Scope: f.scope ?? '',
    EnableIPv6: f.ipv6 ?? false,
    IPAM: { Driver: f.ipamDriver, Config: ipamConfig(f), Options: {} },
    Internal: f.internal ?? false,
    Attachable: f.attachable ?? false,
    Ingress: f.ingress ?? false,
    Options: kvMap(f.opt),
    Labels: kvMap(f.label),
  };
}

export async function create(ctx: Ctx, name: string, f: NetworkCreateFlags): Promise<void> {
  // docker prints the ID only (the answer's Warning is not shown).
  const r = await ctx.api.post<{ Id: string }>('/networks/create', networkCreateBody(name, f));
  ctx.out.write(r.Id + '\n');
}

export async function ls(ctx: Ctx, o: { filter?: string[]; format?: string; quiet?: boolean; noTrunc?: boolean }): Promise<void> {
  const f = parseFilters(o.filter);
  const nets = await ctx.api.get<ApiNetwork[]>('/networks', Object.keys(f).length ? { filters: filters(f) } : undefined);
  writeList(ctx, networkRows(nets, { noTrunc: o.noTrunc }), o, NETWORK_TABLE, NETWORK_HEADER);
}

export const inspect = (ctx: Ctx, refs: string[], o: { format?: string }): Promise<void> =>
  inspectAll(ctx, refs, (r) => ctx.api.get(`/networks/${encodeURIComponent(r)}`), o.format);

const INGRESS_WARNING =
  'WARNING! Before removing the routing-mesh network, make sure all the nodes in your swarm run the same docker engine version. ' +
  'Otherwise, removal may not be effective and functionality of newly create ingress networks will be impaired.\nAre you sure you want to continue?';

/**
 * Unlike secret/config rm, docker prints each failure as it happens and ends with "exit status 1";
 * removing the ingress network asks first; `-f` ignores networks that do not exist.
 */
export async function rm(ctx: Ctx, refs: string[], o: { force?: boolean }, input: NodeJS.ReadableStream = process.stdin): Promise<void> {
  let failed = false;
  for (const r of refs) {
    const n = await ctx.api.get<{ Ingress?: boolean }>(`/networks/${encodeURIComponent(r)}`).catch(() => undefined);
    if (n?.Ingress && !(await confirm(ctx, INGRESS_WARNING, input))) continue;
    try {
      await ctx.api.request('DELETE', `/networks/${encodeURIComponent(r)}`);
    } catch (e) {
      if (!(e instanceof DaemonError)) throw e;
      if (o.force && e.status === 404) continue;
      ctx.err.write(`Error response from daemon: ${e.message}\n`);
      failed = true;
      continue;
    }
    ctx.out.write(r + '\n');
  }
  if (failed) throw new CliError('exit status 1', -1);
}

const PRUNE_WARNING = 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?';

/** prompt.Confirm: `[y/N]`, yes only for "y"/"Y" (a closed stdin is no). */
async function confirm(ctx: Ctx, question: string, input: NodeJS.ReadableStream): Promise<boolean> {
  ctx.out.write(`${question} [y/N] `);
  const rl = readline.createInterface({ input });
  try {
    for await (const line of rl) return line.trim().toLowerCase() === 'y';
    return false;
  } finally {
    rl.close();
  }
}

export async function prune(ctx: Ctx, o: { force?: boolean; filter?: string[] }, input: NodeJS.ReadableStream = process.stdin): Promise<void> {
  const f = parseFilters(o.filter);
  // A "no" ends the command quietly with status 0, as docker's does.
  if (!o.force && !(await confirm(ctx, PRUNE_WARNING, input))) return;
  const r = await ctx.api.post<{ NetworksDeleted?: string[] | null }>('/networks/prune', undefined, Object.keys(f).length ? { filters: filters(f) } : undefined);
  const deleted = r?.NetworksDeleted ?? [];
  if (deleted.length) ctx.out.write(`Deleted Networks:\n${deleted.map((n) => n + '\n').join('')}\n`);
}

export function register(program: Command, run: Runner): void {
  const network = program.command('network').description('Manage networks');
  network
    .command('create')
    .description('Create a network')
    .argument('<network>')
    .option('-d, --driver <driver>', 'Driver to manage the Network', 'bridge')
    .option('--subnet <subnet>', 'Subnet in CIDR format that represents a network segment', collect)
    .option('--gateway <gateway>', 'IPv4 or IPv6 Gateway for the master subnet', collect)
    .option('--ip-range <range>', 'Allocate container ip from a sub-range', collect)
    .option('--ipam-driver <driver>', 'IP Address Management Driver', 'default')
    .option('--attachable', 'Enable manual container attachment')
    .option('--internal', 'Restrict external access to the network')
    .option('--ingress', 'Create swarm routing-mesh network')
    .option('--ipv6', 'Enable or disable IPv6 networking')
    .option('--scope <scope>', "Control the network's scope")
    .option('--label <label>', 'Set metadata on a network', collect)
    .option('-o, --opt <opt>', 'Set driver specific options', collect)
    .action(run((ctx, name: string, f: NetworkCreateFlags) => create(ctx, name, f)));
  network
    .command('ls')
    .alias('list')
    .description('List networks')
    .option('-f, --filter <filter>', 'Provide filter values (e.g. "driver=bridge")', collect)
    .option('--format <format>', 'Format output using a custom template')
    .option('-q, --quiet', 'Only display network IDs')
    .option('--no-trunc', 'Do not truncate the output')
    .action(run((ctx, o: { filter?: string[]; format?: string; quiet?: boolean; trunc?: boolean }) => ls(ctx, { ...o, noTrunc: o.trunc === false })));
  network
    .command('inspect')
    .description('Display detailed information on one or more networks')
    .argument('<network...>')
    .option('-f, --format <format>', 'Format output using a custom template')
    .action(run((ctx, refs: string[], o: { format?: string }) => inspect(ctx, refs, o)));
  network
    .command('rm')
    .alias('remove')
    .description('Remove one or more networks')
    .argument('<network...>')
    .option('-f, --force', 'Do not error if the network does not exist')
    .action(run((ctx, refs: string[], o: { force?: boolean }) => rm(ctx, refs, o)));
  network
    .command('prune')
    .description('Remove all unused networks')
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect)
    .action(run((ctx, o: { force?: boolean; filter?: string[] }) => prune(ctx, o)));
}
