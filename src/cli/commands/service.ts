// shoal service create | ls | ps | inspect | scale | update | rollback | rm | logs
import type { Command } from 'commander';
import { CliError, DaemonError, filters } from '../client';
import type { Ctx } from '../context';
import { getService, listTasks, nodeNameMap, selfNodeId } from '../context';
import { Demuxer, LineSplitter, logPrefix, parseLogLine } from '../format/logs';
import { prettyService } from '../format/pretty';
import { convergence } from '../format/progress';
import { serviceRows, SERVICE_HEADER, SERVICE_TABLE, type ApiService, type ServiceCounts } from '../format/services';
import { createSpec, SpecError, updateSpec, type SpecFlags, type UpdateFlags } from '../format/spec';
import { taskRows, TASK_HEADER, TASK_TABLE, type ApiTask } from '../format/tasks';
import { inspectAll, isTable, listFormat, parseFilters, writeList } from './list-opts';
import { waitConverged } from './progress';
import { collect, type Runner } from './runner';

type CreateFlags = SpecFlags & { detach?: boolean; quiet?: boolean };

function spec<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SpecError) throw new CliError(e.message);
    throw e;
  }
}

function warnings(ctx: Ctx, r: { Warnings?: string[] | null } | undefined): void {
  for (const w of r?.Warnings ?? []) ctx.err.write(w + '\n');
}

export async function create(ctx: Ctx, image: string, args: string[], f: CreateFlags): Promise<void> {
  const s = spec(() => createSpec(image, args, f));
  const r = await ctx.api.post<{ ID: string; Warnings?: string[] }>('/services/create', s);
  warnings(ctx, r);
  ctx.out.write(r.ID + '\n');
  if (!f.detach) await waitConverged(ctx, r.ID, { quiet: f.quiet });
}

interface ListOpts {
  quiet?: boolean;
  format?: string;
  filter?: string[];
}

/** What every service list shows in REPLICAS: the daemon's ServiceStatus, else counted from the tasks. */
export async function serviceCounts(ctx: Ctx, services: readonly ApiService[]): Promise<Map<string, ServiceCounts>> {
  const counts = new Map<string, ServiceCounts>();
  let tasks: ApiTask[] | undefined;
  for (const s of services) {
    if (s.ServiceStatus) counts.set(s.ID, { running: s.ServiceStatus.RunningTasks, desired: s.ServiceStatus.DesiredTasks, completed: s.ServiceStatus.CompletedTasks ?? 0 });
    else {
      tasks ??= await ctx.api.get<ApiTask[]>('/tasks');
      const c = convergence(s, tasks);
      counts.set(s.ID, { running: c.running, desired: s.Spec.Mode.Global ? tasks.filter((t) => t.ServiceID === s.ID && t.DesiredState === 'running').length : c.desired });
    }
  }
  return counts;
}

/** `service ls` and `stack services`: the service rows in the chosen format. */
export async function writeServices(ctx: Ctx, services: readonly ApiService[], o: ListOpts): Promise<void> {
  writeList(ctx, serviceRows(services, o.quiet ? new Map() : await serviceCounts(ctx, services)), o, SERVICE_TABLE, SERVICE_HEADER);
}

export async function ls(ctx: Ctx, o: ListOpts): Promise<void> {
  const f = parseFilters(o.filter);
  const query: Record<string, string> = o.quiet ? {} : { status: 'true' };
  if (Object.keys(f).length) query.filters = filters(f);
  await writeServices(ctx, await ctx.api.get<ApiService[]>('/services', query), o);
}

export interface TaskListOpts extends ListOpts {
  noTrunc?: boolean;
  noResolve?: boolean;
}

/** task.Print: the tasks of `service ps`, `node ps` and `stack ps` in the chosen format, names resolved unless --no-resolve. */
export async function writeTasks(ctx: Ctx, tasks: readonly ApiTask[], o: TaskListOpts, trunc: boolean): Promise<void> {
  const format = listFormat(o, TASK_TABLE);
  const serviceNames = new Map<string, string>();
  const nodeNames = o.noResolve ? new Map<string, string>() : await nodeNameMap(ctx);
  if (!o.noResolve) {
    const ids = [...new Set(tasks.map((t) => t.ServiceID))];
    if (ids.length) for (const s of await ctx.api.get<ApiService[]>('/services', { filters: filters({ id: ids }) })) if (ids.includes(s.ID)) serviceNames.set(s.ID, s.Spec.Name);
  }
  const rows = taskRows(tasks, { serviceNames, nodeNames, nowMs: ctx.now(), trunc, indent: isTable(format) });
  writeList(ctx, rows, { format }, TASK_TABLE, TASK_HEADER);
}

/**
 * `service ps`: services matched by full ID, then full name, then ID prefix (an ambiguous prefix is
 * an error); names not found are reported after the tasks of those found, as the docker CLI does.
 */
export async function ps(ctx: Ctx, refs: string[], o: TaskListOpts): Promise<void> {
  const f = parseFilters(o.filter);
  const byId = await ctx.api.get<ApiService[]>('/services', { filters: filters({ id: refs }) });
  const byName = await ctx.api.get<ApiService[]>('/services', { filters: filters({ name: refs }) });
  const notFound: string[] = [];
  const ids: string[] = [];
  for (const r of refs) {
    const hit = byId.find((s) => s.ID === r) ?? byName.find((s) => s.Spec.Name === r);
    if (hit) {
      ids.push(hit.ID);
      continue;
    }
    const prefixed = byId.filter((s) => s.ID.startsWith(r));
    if (prefixed.length > 1) throw new CliError(`multiple services found with provided prefix: ${r}`);
    if (prefixed.length) ids.push(prefixed[0]!.ID);
    else notFound.push(`no such service: ${r}`);
  }
  if (!ids.length) throw new CliError(notFound.join('\n'), -1);
  f.service = [...(f.service ?? []), ...ids];
  if (f.node) f.node = await Promise.all(f.node.map((n) => (n === 'self' ? selfNodeId(ctx) : n)));
  const tasks = await listTasks(ctx, f);
  await writeTasks(ctx, tasks, o, !(o.noTrunc || o.quiet));
  if (notFound.length) throw new CliError(notFound.join('\n'), -1);
}

/** `service inspect`: JSON with the daemon's defaults filled in, `--format` per service, or `--pretty`. */
export async function inspect(ctx: Ctx, refs: string[], o: { pretty?: boolean; format?: string }): Promise<void> {
  const get = (r: string) => ctx.api.get<ApiService>(`/services/${encodeURIComponent(r)}`, { insertDefaults: 'true' });
  const notFound = (r: string) => `Error: no such service: ${r}`;
  if (!o.pretty) {
    if (o.format?.startsWith('pretty') && o.format !== 'pretty') throw new CliError('Cannot supply extra formatting options to the pretty template', -1);
    if (o.format !== 'pretty') return inspectAll(ctx, refs, get, o.format, notFound);
  }
  let networkNames: Map<string, string> | undefined;
  for (const r of refs) {
    let s: ApiService;
    try {
      s = await get(r);
    } catch (e) {
      if (e instanceof DaemonError && e.status === 404) throw new CliError(notFound(r), -1);
      throw e;
    }
    if (s.Spec.TaskTemplate.Networks?.length && !networkNames) {
      networkNames = new Map();
      for (const n of await ctx.api.get<{ Id: string; Name: string }[]>('/networks').catch(() => [])) networkNames.set(n.Id, n.Name);
    }
    ctx.out.write(prettyService(s, ctx.now(), networkNames) + '\n');
  }
}

export async function rm(ctx: Ctx, refs: string[]): Promise<void> {
  const errors: string[] = [];
  for (const r of refs) {
    try {
      await ctx.api.request('DELETE', `/services/${encodeURIComponent(r)}`);
      ctx.out.write(r + '\n');
    } catch (e) {
      errors.push(e instanceof DaemonError ? `Error response from daemon: ${e.message}` : String((e as Error).message));
    }
  }
  if (errors.length) throw new CliError(errors.join('\n'), -1);
}

async function postUpdate(ctx: Ctx, s: ApiService, body: unknown, query: Record<string, string> = {}): Promise<void> {
  const r = await ctx.api.post<{ Warnings?: string[] }>(`/services/${encodeURIComponent(s.ID)}/update`, body, { version: s.Version.Index, ...query });
  warnings(ctx, r);
}

/**
 * `service scale a=N b=M`: every specifier is checked first (docker's usage error), then each
 * service is scaled in turn, its failure reported as `name: error` after the others, and the scaled
 * ones are waited for unless -d.
 */
export async function scale(ctx: Ctx, pairs: string[], o: { detach?: boolean }): Promise<void> {
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0 || eq === p.length - 1)
      throw new CliError(`invalid scale specifier '${p}'.\nSee 'shoal service scale --help'.\n\nUsage:  shoal service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]\n\nScale one or multiple replicated services`);
  }
  const done: string[] = [];
  const errors: string[] = [];
  for (const p of pairs) {
    const eq = p.indexOf('=');
    const ref = p.slice(0, eq);
    const n = p.slice(eq + 1);
    if (!/^\d+$/.test(n)) {
      errors.push(`${ref}: invalid replicas value ${n}: strconv.ParseUint: parsing "${n}": invalid syntax`);
      continue;
    }
    try {
      const s = await getService(ctx, ref);
      const next = structuredClone(s.Spec);
      if (next.Mode.Replicated) next.Mode.Replicated.Replicas = Number(n);
      else if (next.Mode.ReplicatedJob) next.Mode.ReplicatedJob.TotalCompletions = Number(n);
      else throw new CliError('scale can only be used with replicated or replicated-job mode');
      await postUpdate(ctx, s, next);
      ctx.out.write(`${ref} scaled to ${n}\n`);
      done.push(ref);
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      errors.push(`${ref}: ${e instanceof DaemonError ? `Error response from daemon: ${e.message}` : e.message}`);
    }
  }
  if (!o.detach) {
    for (const ref of done) {
      try {
        await waitConverged(ctx, ref);
      } catch (e) {
        if (!(e instanceof CliError)) throw e;
        errors.push(`${ref}: ${e.message}`);
      }
    }
  }
  if (errors.length) throw new CliError(errors.join('\n'), -1);
}

export async function update(ctx: Ctx, ref: string, f: UpdateFlags & { detach?: boolean; quiet?: boolean; rollback?: boolean }): Promise<void> {
  const s = await getService(ctx, ref);
  if (f.rollback) return rollback(ctx, ref, f);
  const next = spec(() => updateSpec(s.Spec, f));
  await postUpdate(ctx, s, next);
  ctx.out.write(ref + '\n');
  if (!f.detach) await waitConverged(ctx, ref, { quiet: f.quiet });
}

export async function rollback(ctx: Ctx, ref: string, o: { detach?: boolean; quiet?: boolean }): Promise<void> {
  const s = await getService(ctx, ref);
  await postUpdate(ctx, s, s.Spec, { rollback: 'previous' });
  ctx.out.write(ref + '\n');
  if (!o.detach) await waitConverged(ctx, ref, { quiet: o.quiet });
}

interface LogOpts {
  follow?: boolean;
  tail?: string;
  timestamps?: boolean;
  since?: string;
  noTrunc?: boolean;
  noTaskIds?: boolean;
  raw?: boolean;
}

export async function logs(ctx: Ctx, ref: string, o: LogOpts): Promise<void> {
  let path: string;
  let maxSlotDigits = 1;
  let tty = false;
  try {
    const s = await getService(ctx, ref);
    path = `/services/${encodeURIComponent(s.ID)}/logs`;
    if (s.Spec.Mode.Replicated) maxSlotDigits = String(s.Spec.Mode.Replicated.Replicas ?? 1).length;
    tty = !!s.Spec.TaskTemplate.ContainerSpec?.TTY;
  } catch (e) {
    if (!(e instanceof DaemonError) || e.status !== 404) throw e;
    const t = await ctx.api.get<ApiTask>(`/tasks/${encodeURIComponent(ref)}`).catch(() => {
      throw new CliError(`No such task or service: ${ref}`);
    });
    path = `/tasks/${encodeURIComponent(t.ID)}/logs`;
    tty = !!t.Spec.ContainerSpec?.TTY;
  }
  if (tty && !o.raw) throw new CliError('tty service logs only supported with --raw');
  const res = await ctx.api.stream(path, {
    stdout: true,
    stderr: true,
    follow: o.follow ? true : undefined,
    tail: o.tail ?? 'all',
    timestamps: o.timestamps ? true : undefined,
    since: o.since,
    // --raw asks for no details, as the docker CLI does (the lines are printed as sent).
    details: !o.raw,
  });
  const raw = tty || /raw-stream/.test(String(res.headers['content-type'] ?? ''));
  const nodeNames = await nodeNameMap(ctx);
  const taskCache = new Map<string, Promise<{ slot: number; name: string }>>();
  const serviceNames = new Map<string, Promise<string>>();
  const prefixOf = async (d: Record<string, string>): Promise<string> => {
    const taskId = d['com.docker.swarm.task.id'] ?? '';
    const serviceId = d['com.docker.swarm.service.id'] ?? '';
    if (!serviceNames.has(serviceId)) serviceNames.set(serviceId, getService(ctx, serviceId).then((s) => s.Spec.Name, () => serviceId));
    if (!taskCache.has(taskId))
      taskCache.set(
        taskId,
        ctx.api.get<ApiTask>(`/tasks/${encodeURIComponent(taskId)}`).then(
          (t) => ({ slot: t.Slot ?? 0, name: '' }),
          () => ({ slot: 0, name: '' }),
        ),
      );
    const t = await taskCache.get(taskId)!;
    const nodeId = d['com.docker.swarm.node.id'] ?? '';
    return logPrefix({ serviceName: await serviceNames.get(serviceId)!, slot: t.slot, taskId, nodeName: nodeNames.get(nodeId) ?? nodeId, maxSlotDigits, noTrunc: o.noTrunc, noTaskIds: o.noTaskIds });
  };
  const emit = async (stream: number, line: string) => {
    const target = stream === 2 ? ctx.err : ctx.out;
    if (o.raw) return target.write(line);
    const p = parseLogLine(line, !!o.timestamps);
    if (!p) return target.write(line);
    const prefix = await prefixOf(p.details);
    target.write((p.timestamp ? p.timestamp + ' ' : '') + prefix + p.message);
  };
  const demux = new Demuxer();
  const splitters = new Map<number, LineSplitter>();
  const splitter = (n: number) => {
    let s = splitters.get(n);
    if (!s) splitters.set(n, (s = new LineSplitter()));
    return s;
  };
  for await (const chunk of res) {
    if (raw) {
      ctx.out.write((chunk as Buffer).toString('utf8'));
      continue;
    }
    for (const f of demux.push(chunk as Buffer)) for (const l of splitter(f.stream).push(f.data.toString('utf8'))) await emit(f.stream, l);
  }
  for (const [n, s] of splitters) for (const l of s.flush()) await emit(n, l);
}

/** Options create and update share. */
function specOptions(c: Command, update: boolean): Command {
  c.option('-d, --detach', 'Exit immediately instead of waiting for the service to converge')
    .option('-q, --quiet', 'Suppress progress output')
    .option('--replicas <n>', 'Number of tasks')
    .option('--max-concurrent <n>', 'Number of job tasks to run concurrently (default equal to --replicas)')
    .option('-w, --workdir <dir>', 'Working directory inside the container')
    .option('-u, --user <user>', 'Username or UID (format: <name|uid>[:<group|gid>])')
    .option('--hostname <name>', 'Container hostname')
    .option('--entrypoint <cmd>', 'Overwrite the default ENTRYPOINT of the image')
    .option('--restart-condition <cond>', 'Restart when condition is met ("none", "on-failure", "any")')
    .option('--restart-delay <d>', 'Delay between restart attempts (ns|us|ms|s|m|h)')
    .option('--restart-max-attempts <n>', 'Maximum number of restarts before giving up')
    .option('--restart-window <d>', 'Window used to evaluate the restart policy (ns|us|ms|s|m|h)')
    .option('--limit-cpu <cpus>', 'Limit CPUs')
    .option('--limit-memory <bytes>', 'Limit Memory')
    .option('--reserve-cpu <cpus>', 'Reserve CPUs')
    .option('--reserve-memory <bytes>', 'Reserve Memory')
    .option('--replicas-max-per-node <n>', 'Maximum number of tasks per node (default 0 = unlimited)')
    .option('--stop-grace-period <d>', 'Time to wait before force killing a container (ns|us|ms|s|m|h)')
    .option('--stop-signal <sig>', 'Signal to stop the container')
    .option('--endpoint-mode <mode>', 'Endpoint mode (vip or dnsrr)')
    .option('--health-cmd <cmd>', 'Command to run to check health')
    .option('--health-interval <d>', 'Time between running the check (ms|s|m|h)')
    .option('--health-timeout <d>', 'Maximum time to allow one check to run (ms|s|m|h)')
    .option('--health-retries <n>', 'Consecutive failures needed to report unhealthy')
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('--read-only', "Mount the container's root filesystem as read only");
  for (const k of ['update', 'rollback']) {
    c.option(`--${k}-parallelism <n>`, `Maximum number of tasks ${k === 'update' ? 'updated' : 'rolled back'} simultaneously (0 to do all at once)`)
      .option(`--${k}-delay <d>`, `Delay between ${k}s (ns|us|ms|s|m|h)`)
      .option(`--${k}-failure-action <action>`, `Action on ${k} failure`)
      .option(`--${k}-monitor <d>`, `Duration after each task ${k} to monitor for failure (ns|us|ms|s|m|h)`)
      .option(`--${k}-max-failure-ratio <r>`, `Failure rate to tolerate during a ${k}`)
      .option(`--${k}-order <order>`, `${k === 'update' ? 'Update' : 'Rollback'} order ("start-first", "stop-first")`);
  }
  if (update) {
    c.option('--image <image>', 'Service image tag')
      .option('--args <command>', 'Service command args')
      .option('--env-add <env>', 'Add or update an environment variable', collect)
      .option('--env-rm <env>', 'Remove an environment variable', collect)
      .option('--label-add <label>', 'Add or update a service label', collect)
      .option('--label-rm <label>', 'Remove a label by its key', collect)
      .option('--container-label-add <label>', 'Add or update a container label', collect)
      .option('--container-label-rm <label>', 'Remove a container label by its key', collect)
      .option('--constraint-add <c>', 'Add or update a placement constraint', collect)
      .option('--constraint-rm <c>', 'Remove a constraint', collect)
      .option('--publish-add <port>', 'Add or update a published port', collect)
      .option('--publish-rm <port>', 'Remove a published port by its target port', collect)
      .option('--force', 'Force update even if no changes require it')
      .option('--rollback', 'Rollback to previous specification');
  } else {
    c.option('--name <name>', 'Service name')
      .option('--mode <mode>', 'Service mode ("replicated", "global", "replicated-job", "global-job")', 'replicated')
      .option('-e, --env <env>', 'Set environment variables', collect)
      .option('-l, --label <label>', 'Service labels', collect)
      .option('--container-label <label>', 'Container labels', collect)
      .option('--constraint <c>', 'Placement constraints', collect)
      .option('--placement-pref <pref>', 'Add a placement preference', collect)
      .option('--network <net>', 'Network attachments', collect)
      .option('-p, --publish <port>', 'Publish a port as a node port', collect);
  }
  return c;
}

/** Commander's view of `--no-trunc` / `--no-resolve` (negated booleans) → the list options. */
export type TaskFlags = ListOpts & { trunc?: boolean; resolve?: boolean };
export const taskOpts = (o: TaskFlags): TaskListOpts => ({ ...o, noTrunc: o.trunc === false, noResolve: o.resolve === false });

/** The flags of every task list (`service ps`, `node ps`, `stack ps`), read back with taskOpts; docker words `--format` per command. */
export function taskListOptions(c: Command, formatHelp = 'Pretty-print tasks using a Go template'): Command {
  return c
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect)
    .option('--format <format>', formatHelp)
    .option('--no-resolve', 'Do not map IDs to Names')
    .option('--no-trunc', 'Do not truncate output')
    .option('-q, --quiet', 'Only display task IDs');
}

export function register(program: Command, run: Runner): void {
  const service = program.command('service').description('Manage Swarm services').enablePositionalOptions();
  specOptions(service.command('create').description('Create a new service').argument('<image>').argument('[command...]').passThroughOptions(), false).action(
    run((ctx, image: string, args: string[], f: CreateFlags) => create(ctx, image, args, f)),
  );
  service
    .command('ls')
    .alias('list')
    .description('List services')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect)
    .option('--format <format>', 'Format output using a custom template')
    .option('-q, --quiet', 'Only display IDs')
    .action(run((ctx, o: ListOpts) => ls(ctx, o)));
  taskListOptions(service.command('ps').description('List the tasks of one or more services').argument('<service...>'))
    .action(run((ctx, refs: string[], o: TaskFlags) => ps(ctx, refs, taskOpts(o))));
  service
    .command('inspect')
    .description('Display detailed information on one or more services')
    .argument('<service...>')
    .option('-f, --format <format>', 'Format output using a custom template')
    .option('--pretty', 'Print the information in a human friendly format')
    .action(run((ctx, refs: string[], o: { pretty?: boolean; format?: string }) => inspect(ctx, refs, o)));
  service
    .command('scale')
    .description('Scale one or multiple replicated services')
    .argument('<service=replicas...>')
    .option('-d, --detach', 'Exit immediately instead of waiting for the service to converge')
    .action(run((ctx, pairs: string[], o: { detach?: boolean }) => scale(ctx, pairs, o)));
  specOptions(service.command('update').description('Update a service').argument('<service>'), true).action(
    run((ctx, ref: string, f: UpdateFlags & { detach?: boolean }) => update(ctx, ref, f)),
  );
  service
    .command('rollback')
    .description("Revert changes to a service's configuration")
    .argument('<service>')
    .option('-d, --detach', 'Exit immediately instead of waiting for the service to converge')
    .option('-q, --quiet', 'Suppress progress output')
    .action(run((ctx, ref: string, o: { detach?: boolean; quiet?: boolean }) => rollback(ctx, ref, o)));
  service
    .command('rm')
    .alias('remove')
    .description('Remove one or more services')
    .argument('<service...>')
    .action(run((ctx, refs: string[]) => rm(ctx, refs)));
  service
    .command('logs')
    .description('Fetch the logs of a service or task')
    .argument('<service|task>')
    .option('-f, --follow', 'Follow log output')
    .option('-n, --tail <n>', 'Number of lines to show from the end of the logs', 'all')
    .option('-t, --timestamps', 'Show timestamps')
    .option('--since <ts>', 'Show logs since timestamp or relative')
    .option('--no-trunc', 'Do not truncate output')
    .option('--no-task-ids', 'Do not include task IDs in output')
    .option('--raw', 'Do not neatly format logs')
    .action(run((ctx, ref: string, o: LogOpts & { trunc?: boolean; taskIds?: boolean }) => logs(ctx, ref, { ...o, noTrunc: o.trunc === false, noTaskIds: o.taskIds === false })));
}
