// shoal node ls | inspect | update | ps | rm | promote | demote
import type { Command } from 'commander';
import { CliError } from '../client';
import type { Ctx } from '../context';
import { getNode, listNodes, listTasks, nodeNameMap, selfNodeId } from '../context';
import { formatNodeTable, type ApiNode } from '../format/nodes';
import { formatTaskTable } from '../format/tasks';
import { capitalize } from '../format/text';
import { bytesSize } from '../format/units';
import { collect, type Runner } from './runner';

export async function ls(ctx: Ctx, o: { quiet?: boolean }): Promise<void> {
  const nodes = await listNodes(ctx);
  if (o.quiet) {
    for (const n of nodes) ctx.out.write(n.ID + '\n');
    return;
  }
  ctx.out.write(formatNodeTable(nodes, await selfNodeId(ctx)));
}

export function prettyNode(n: ApiNode): string {
  const d = n.Description ?? ({} as ApiNode['Description']);
  let s = `ID:\t\t\t${n.ID}\n`;
  if (n.Spec.Name) s += `Name:\t\t\t${n.Spec.Name}\n`;
  const labels = Object.entries(n.Spec.Labels ?? {});
  if (labels.length) {
    s += 'Labels:\n';
    for (const [k, v] of labels.sort()) s += ` - ${k}=${v}\n`;
  }
  s += `Hostname:              \t${d.Hostname ?? ''}\n`;
  s += `Joined at:             \t${n.CreatedAt}\n`;
  s += `Status:\n State:\t\t\t${capitalize(n.Status?.State ?? '')}\n Availability:         \t${capitalize(n.Spec.Availability)}\n Address:\t\t${n.Status?.Addr ?? ''}\n`;
  if (n.ManagerStatus) {
    s += `Manager Status:\n Address:\t\t${n.ManagerStatus.Addr}\n Raft Status:\t\t${capitalize(n.ManagerStatus.Reachability)}\n`;
    s += ` Leader:\t\t${n.ManagerStatus.Leader ? 'Yes' : 'No'}\n`;
  }
  s += `Platform:\n Operating System:\t${d.Platform?.OS ?? ''}\n Architecture:\t\t${d.Platform?.Architecture ?? ''}\n`;
  s += `Resources:\n CPUs:\t\t\t${Math.floor((d.Resources?.NanoCPUs ?? 0) / 1e9)}\n Memory:\t\t${bytesSize(d.Resources?.MemoryBytes ?? 0)}\n`;
  s += `Engine Version:\t\t${d.Engine?.EngineVersion ?? ''}\n`;
  return s;
}

export async function inspect(ctx: Ctx, refs: string[], o: { pretty?: boolean }): Promise<void> {
  const nodes: ApiNode[] = [];
  for (const r of refs) nodes.push(await getNode(ctx, r));
  if (o.pretty) ctx.out.write(nodes.map(prettyNode).join('\n\n'));
  else ctx.out.write(JSON.stringify(nodes, null, 4) + '\n');
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

export async function ps(ctx: Ctx, refs: string[]): Promise<void> {
  const targets = refs.length ? refs : ['self'];
  const tasks = [];
  for (const r of targets) {
    const id = r === 'self' ? await selfNodeId(ctx) : (await getNode(ctx, r)).ID;
    tasks.push(...(await listTasks(ctx, { node: [id] })));
  }
  const services = await ctx.api.get<{ ID: string; Spec: { Name: string } }[]>('/services');
  const serviceNames = new Map(services.map((s) => [s.ID, s.Spec.Name]));
  ctx.out.write(formatTaskTable(tasks, { serviceNames, nodeNames: await nodeNameMap(ctx), nowMs: ctx.now() }));
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
    .option('-q, --quiet', 'Only display IDs')
    .action(run((ctx, o: { quiet?: boolean }) => ls(ctx, o)));
  node
    .command('inspect')
    .description('Display detailed information on one or more nodes')
    .argument('<node...>')
    .option('--pretty', 'Print the information in a human friendly format')
    .action(run((ctx, refs: string[], o: { pretty?: boolean }) => inspect(ctx, refs, o)));
  node
    .command('update')
    .description('Update a node')
    .argument('<node>')
    .option('--availability <availability>', 'Availability of the node ("active", "pause", "drain")')
    .option('--role <role>', 'Role of the node ("worker", "manager")')
    .option('--label-add <label>', 'Add or update a node label (key=value)', collect)
    .option('--label-rm <label>', 'Remove a node label if exists', collect)
    .action(run((ctx, ref: string, o: UpdateOpts) => update(ctx, ref, o)));
  node
    .command('ps')
    .description('List tasks running on one or more nodes, defaults to current node')
    .argument('[node...]')
    .action(run((ctx, refs: string[]) => ps(ctx, refs)));
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
