// shoal node ls | inspect | update | ps | rm | promote | demote
import type { Command } from 'commander';
import { CliError, DaemonError, filters } from '../client';
import type { Ctx } from '../context';
import { getInfo, getNode, listTasks } from '../context';
import { nodeRows, NODE_HEADER, NODE_TABLE, type ApiNode } from '../format/nodes';
import { prettyNode } from '../format/pretty';
import type { ApiTask } from '../format/tasks';
import { inspectAll, parseFilters, writeList } from './list-opts';
import { taskListOptions, taskOpts, writeTasks, type TaskFlags, type TaskListOpts } from './service';
import { collect, type Runner } from './runner';

export async function ls(ctx: Ctx, o: { quiet?: boolean; format?: string; filter?: string[] }): Promise<void> {
  const f = parseFilters(o.filter);
  const nodes = await ctx.api.get<ApiNode[]>('/nodes', Object.keys(f).length ? { filters: filters(f) } : undefined);
  // As the docker CLI: /info (for `*` and TLS STATUS) only when there is something to show.
  const info = nodes.length && !o.quiet ? await getInfo(ctx) : undefined;
  writeList(ctx, nodeRows(nodes, info?.Swarm?.NodeID ?? '', info?.Swarm?.Cluster?.TLSInfo), o, NODE_TABLE, NODE_HEADER);
}

export async function inspect(ctx: Ctx, refs: string[], o: { pretty?: boolean; format?: string }): Promise<void> {
  const get = (r: string) => getNode(ctx, r);
  if (!o.pretty) return inspectAll(ctx, refs, get, o.format);
  // The pretty template stops at the first node it cannot get.
  for (const r of refs) ctx.out.write(prettyNode(await get(r)) + '\n');
}

interface UpdateOpts {
  availability?: string;
  role?: string;
  labelAdd?: string[];
  labelRm?: string[];
}

export async function update(ctx: Ctx, ref: string, o: UpdateOpts): Promise<void> {
  const n = await getNode(ctx, ref);
  const spec = structuredClone(n.Spec);
  if (o.availability) {
    if (!['active', 'pause', 'drain'].includes(o.availability)) throw new CliError(`invalid argument "${o.availability}" for "--availability" flag`);
    spec.Availability = o.availability as ApiNode['Spec']['Availability'];
  }
  if (o.role) {
    if (o.role !== 'worker' && o.role !== 'manager') throw new CliError(`invalid argument "${o.role}" for "--role" flag`);
    spec.Role = o.role;
  }
  if (o.labelAdd?.length || o.labelRm?.length) {
    const labels = { ...(spec.Labels ?? {}) };
    for (const kv of o.labelAdd ?? []) {
      const eq = kv.indexOf('=');
      labels[eq < 0 ? kv : kv.slice(0, eq)] = eq < 0 ? '' : kv.slice(eq + 1);
    }
    for (const k of o.labelRm ?? []) {
      if (!(k in labels)) throw new CliError(`key ${k} doesn't exist in node's labels`);
      delete labels[k];
    }
    spec.Labels = labels;
  }
  await ctx.api.post(`/nodes/${encodeURIComponent(n.ID)}/update`, spec, { version: n.Version.Index });
  ctx.out.write(ref + '\n');
}

/** `node ps [NODE...]` (default `self`): every node's tasks; a node that fails is reported after the others' tasks. */
export async function ps(ctx: Ctx, refs: string[], o: TaskListOpts): Promise<void> {
  const errors: string[] = [];
  const tasks: ApiTask[] = [];
  for (const r of refs.length ? refs : ['self']) {
    try {
      const n = await getNode(ctx, r);
      const f = parseFilters(o.filter);
      f.node = [...(f.node ?? []), n.ID];
      tasks.push(...(await listTasks(ctx, f)));
    } catch (e) {
      if (!(e instanceof DaemonError)) throw e;
      errors.push(`Error response from daemon: ${e.message}`);
    }
  }
  if (!errors.length || tasks.length) await writeTasks(ctx, tasks, o, !o.noTrunc);
  if (errors.length) throw new CliError(errors.join('\n'), -1);
}

export async function rm(ctx: Ctx, refs: string[], o: { force?: boolean }): Promise<void> {
  const errors: string[] = [];
  for (const r of refs) {
    try {
      const n = await getNode(ctx, r);
      await ctx.api.request('DELETE', `/nodes/${encodeURIComponent(n.ID)}`, { query: { force: o.force ? 'true' : undefined } });
      ctx.out.write(r + '\n');
    } catch (e) {
      errors.push(e instanceof Error ? e.message : String(e));
    }
  }
  if (errors.length) throw new CliError(errors.join('\n'), 1);
}

async function setRole(ctx: Ctx, refs: string[], role: 'worker' | 'manager'): Promise<void> {
  for (const r of refs) {
    const n = await getNode(ctx, r);
    if (n.Spec.Role === role) {
      ctx.out.write(`Node ${r} is already a ${role}.\n`);
      continue;
    }
    await ctx.api.post(`/nodes/${encodeURIComponent(n.ID)}/update`, { ...n.Spec, Role: role }, { version: n.Version.Index });
    ctx.out.write(role === 'manager' ? `Node ${r} promoted to a manager in the swarm.\n` : `Manager ${r} demoted in the swarm.\n`);
  }
}

export function register(program: Command, run: Runner): void {
  const node = program.command('node').description('Manage Swarm nodes');
  node
    .command('ls')
    .alias('list')
    .description('List nodes in the swarm')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect)
    .option('--format <format>', 'Format output using a custom template')
    .option('-q, --quiet', 'Only display IDs')
    .action(run((ctx, o: { quiet?: boolean; format?: string; filter?: string[] }) => ls(ctx, o)));
  node
    .command('inspect')
    .description('Display detailed information on one or more nodes')
    .argument('<node...>')
    .option('-f, --format <format>', 'Format output using a custom template')
    .option('--pretty', 'Print the information in a human friendly format')
    .action(run((ctx, refs: string[], o: { pretty?: boolean; format?: string }) => inspect(ctx, refs, o)));
  node
    .command('update')
    .description('Update a node')
    .argument('<node>')
    .option('--availability <availability>', 'Availability of the node ("active", "pause", "drain")')
    .option('--role <role>', 'Role of the node ("worker", "manager")')
    .option('--label-add <label>', 'Add or update a node label (key=value)', collect)
    .option('--label-rm <label>', 'Remove a node label if exists', collect)
    .action(run((ctx, ref: string, o: UpdateOpts) => update(ctx, ref, o)));
  taskListOptions(node.command('ps').description('List tasks running on one or more nodes, defaults to current node').argument('[node...]'))
    .action(run((ctx, refs: string[], o: TaskFlags) => ps(ctx, refs, taskOpts(o))));
  node
    .command('rm')
    .alias('remove')
    .description('Remove one or more nodes from the swarm')
    .argument('<node...>')
    .option('-f, --force', 'Force remove a node from the swarm')
    .action(run((ctx, refs: string[], o: { force?: boolean }) => rm(ctx, refs, o)));
  node
    .command('promote')
    .description('Promote one or more nodes to manager in the swarm')
    .argument('<node...>')
    .action(run((ctx, refs: string[]) => setRole(ctx, refs, 'manager')));
  node
    .command('demote')
    .description('Demote one or more nodes from manager in the swarm')
    .argument('<node...>')
    .action(run((ctx, refs: string[]) => setRole(ctx, refs, 'worker')));
}
