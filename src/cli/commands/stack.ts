// shoal stack deploy | ls | ps | services | rm — Compose files deployed through the Engine API,
// as `docker stack` does, plus `depends_on` ordering (docs/design/cli.md, "Stacks").
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { NetworkCreateRequest, ServiceSpec } from '../../types';
import { CliError, DaemonError, filters } from '../client';
import type { Ctx } from '../context';
import { getInfo, listTasks } from '../context';
import { ComposeError } from '../compose/document';
import { LABEL_NAMESPACE, type ConfigRef, type SecretRef, type StackPlan, type StackService } from '../compose/convert';
import { sameSpec, specForUpdate } from '../compose/diff';
import { loadStack } from '../compose/load';
import { conditionWord, creationOrder, dependencyState } from '../compose/order';
import { makeValidator, type ComposeValidator } from '../compose/schema';
import { formatGoDuration, parseGoDuration } from '../format/duration';
import type { ApiService } from '../format/services';
import { stackRows, STACK_HEADER, STACK_TABLE } from '../format/stacks';
import { parseFilters, writeList } from './list-opts';
import { taskListOptions, taskOpts, writeServices, writeTasks, type TaskFlags, type TaskListOpts } from './service';
import { waitConverged } from './progress';
import { collect, type Runner } from './runner';
import { objectIds, stackObjects, upsertObject, type ObjectKind } from './stack-objects';

let validator: ComposeValidator | undefined;

/** The Compose Specification's JSON schema, vendored as data in schemas/ (from dist/src/cli/commands, four levels up). */
export function composeValidator(): ComposeValidator {
  if (!validator) {
    const file = path.resolve(__dirname, '..', '..', '..', '..', 'schemas', 'compose-spec.json');
    validator = makeValidator(JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>);
  }
  return validator;
}

const nsFilter = (ns: string) => `${LABEL_NAMESPACE}=${ns}`;

function readFileOrFail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new CliError(err.code === 'ENOENT' ? `open ${file}: no such file or directory` : `open ${file}: ${err.message}`);
  }
}

/** Reads the files, `.env` next to the first one, and builds the plan (pure loader). */
export function planFromFiles(ns: string, files: readonly string[], env: NodeJS.ProcessEnv, stdin?: () => string): StackPlan {
  if (files.length === 0) throw new CliError('Please specify a Compose file (with --compose-file)');
  const first = files[0]!;
  const workDir = first === '-' ? process.cwd() : path.dirname(path.resolve(first));
  const dotenvPath = path.join(workDir, '.env');
  const dotenv = fs.existsSync(dotenvPath) ? { file: dotenvPath, text: fs.readFileSync(dotenvPath, 'utf8') } : undefined;
  try {
    return loadStack({
      namespace: ns,
      files: files.map((f) => ({ file: f === '-' ? '(stdin)' : f, text: f === '-' ? (stdin ?? (() => fs.readFileSync(0, 'utf8')))() : readFileOrFail(f) })),
      env,
      dotenv,
      validate: composeValidator(),
      convert: {
        resolvePath: (p) => (p.startsWith('~') ? path.join(env.HOME ?? '', p.slice(1)) : path.resolve(workDir, p)),
        readText: (p) => fs.readFileSync(p, 'utf8'),
      },
    });
  } catch (e) {
    if (e instanceof ComposeError) throw new CliError(e.message);
    throw e;
  }
}

async function requireManager(ctx: Ctx): Promise<void> {
  const info = await getInfo(ctx);
  if (!info.Swarm?.ControlAvailable)
    throw new CliError('this node is not a swarm manager. Use "shoal swarm init" or "shoal swarm join" to connect this node to swarm and try again');
}

/** The stack's services; `extra` are the user's `--filter`s, joined to the stack's label as the docker CLI does. */
const stackServices = (ctx: Ctx, ns: string, status = false, extra: Record<string, string[]> = {}): Promise<ApiService[]> =>
  ctx.api.get<ApiService[]>('/services', { filters: filters({ ...extra, label: [...(extra.label ?? []), nsFilter(ns)] }), ...(status ? { status: 'true' } : {}) });

/** A network as /networks lists it (Docker spells its ID `Id`). */
interface NetworkSummary {
  Id: string;
  Name: string;
  Scope?: string;
  Labels?: Record<string, string>;
}

const stackNetworks = (ctx: Ctx, ns: string): Promise<NetworkSummary[]> => ctx.api.get<NetworkSummary[]>('/networks', { filters: filters({ label: [nsFilter(ns)] }) });

async function checkExternalNetworks(ctx: Ctx, names: readonly string[]): Promise<void> {
  for (const n of names) {
    if (['bridge', 'host', 'none', 'default', 'ingress'].includes(n) && n !== 'ingress') continue;
    try {
      const nw = await ctx.api.get<NetworkSummary>(`/networks/${encodeURIComponent(n)}`);
      if (nw.Scope !== 'swarm') throw new CliError(`network "${n}" is declared as external, but it is not in the right scope: "${nw.Scope ?? ''}" instead of "swarm"`);
    } catch (e) {
      if (e instanceof DaemonError && e.status === 404)
        throw new CliError(`network "${n}" is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed`);
      throw e;
    }
  }
}

async function createNetworks(ctx: Ctx, ns: string, networks: readonly NetworkCreateRequest[]): Promise<void> {
  const existing = new Set((await stackNetworks(ctx, ns)).map((n) => n.Name));
  for (const n of networks) {
    if (existing.has(n.Name)) continue;
    ctx.out.write(`Creating network ${n.Name}\n`);
    try {
      await ctx.api.post('/networks/create', n);
    } catch (e) {
      if (e instanceof DaemonError) throw new DaemonError(`failed to create network ${n.Name}: ${e.message}`, e.status);
      throw e;
    }
  }
}

async function createObjects(ctx: Ctx, plan: StackPlan, env: NodeJS.ProcessEnv): Promise<void> {
  const kinds: [ObjectKind, StackPlan['secrets']][] = [
    ['secrets', plan.secrets],
    ['configs', plan.configs],
  ];
  for (const [kind, objs] of kinds)
    for (const o of objs) {
      if (o.external) continue;
      let data: Buffer;
      if (o.file) data = Buffer.from(readFileOrFail(o.file), 'utf8');
      else data = Buffer.from(env[o.env ?? ''] ?? '', 'utf8');
      await upsertObject(ctx, kind, { Name: o.name, Labels: o.labels, Data: data.toString('base64') });
    }
}

/** Fills SecretID / ConfigID into the service's references (the daemon resolves nothing by name). */
async function resolveRefs(ctx: Ctx, spec: ServiceSpec): Promise<void> {
  const cs = spec.TaskTemplate.ContainerSpec;
  const secrets = cs?.Secrets as SecretRef[] | undefined;
  const configs = cs?.Configs as ConfigRef[] | undefined;
  if (secrets?.length) {
    const ids = await objectIds(ctx, 'secrets', secrets.map((r) => r.SecretName));
    for (const r of secrets) r.SecretID = ids.get(r.SecretName)!;
  }
  if (configs?.length) {
    const ids = await objectIds(ctx, 'configs', configs.map((r) => r.ConfigName));
    for (const r of configs) r.ConfigID = ids.get(r.ConfigName)!;
  }
}

export interface DeployOpts {
  composeFile?: string[];
  prune?: boolean;
  detach?: boolean;
  quiet?: boolean;
  dependsTimeout?: string;
}

/** Waits until every dependency of `svc` meets its condition; bounded, with progress lines. */
async function waitForDependencies(ctx: Ctx, plan: StackPlan, svc: StackService, ids: Map<string, string>, timeoutMs: number, quiet = false): Promise<void> {
  for (const dep of Object.keys(svc.dependsOn).sort()) {
    const condition = svc.dependsOn[dep]!;
    const depSvc = plan.services.find((s) => s.key === dep)!;
    const id = ids.get(dep);
    if (!id) continue;
    const hc = depSvc.spec.TaskTemplate.ContainerSpec?.HealthCheck?.Test;
    if (condition === 'service_healthy' && (!hc?.length || hc[0] === 'NONE'))
      ctx.err.write(`service ${dep} has no healthcheck in the file: service_healthy of ${svc.key} waits for its tasks to run (an image's own HEALTHCHECK still gates them)\n`);
    const deadline = ctx.now() + timeoutMs;
    let last = '';
    for (;;) {
      const state = dependencyState(condition, depSvc.spec, await listTasks(ctx, { service: [id] }));
      const line = `Waiting for ${depSvc.spec.Name} to be ${conditionWord(condition)} (depends_on of ${svc.spec.Name}): ${state.progress}\n`;
      if (state.failed) throw new CliError(`service ${depSvc.spec.Name} ${state.failed} (depends_on of ${svc.spec.Name})`);
      if (state.ready) break;
      if (line !== last && !quiet) ctx.out.write(line);
      last = line;
      if (ctx.now() >= deadline)
        throw new CliError(`timed out after ${formatGoDuration(timeoutMs * 1e6)} waiting for service ${depSvc.spec.Name} to be ${conditionWord(condition)} (depends_on of ${svc.spec.Name}): ${state.progress}`);
      await ctx.sleep(250);
    }
  }
}

export async function deploy(ctx: Ctx, ns: string, o: DeployOpts, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const plan = planFromFiles(ns, o.composeFile ?? [], env);
  await requireManager(ctx);
  for (const w of plan.warnings) ctx.err.write(w);

  const existing = new Map((await stackServices(ctx, ns)).map((s) => [s.Spec.Name, s]));
  if (o.prune) {
    const keep = new Set(plan.services.map((s) => s.spec.Name));
    for (const s of [...existing.values()].sort((a, b) => a.Spec.Name.localeCompare(b.Spec.Name))) {
      if (keep.has(s.Spec.Name)) continue;
      ctx.out.write(`Removing service ${s.Spec.Name}\n`);
      await ctx.api.request('DELETE', `/services/${encodeURIComponent(s.ID)}`);
      existing.delete(s.Spec.Name);
    }
  }
  await checkExternalNetworks(ctx, plan.externalNetworks);
  await createNetworks(ctx, ns, plan.networks);
  await createObjects(ctx, plan, env);

  let timeoutMs = 180_000;
  if (o.dependsTimeout !== undefined) {
    try {
      timeoutMs = parseGoDuration(o.dependsTimeout) / 1e6;
    } catch (e) {
      throw new CliError(`invalid argument "${o.dependsTimeout}" for "--depends-timeout" flag: ${(e as Error).message}`);
    }
  }
  const networkIds = new Map<string, string>();
  if (existing.size) for (const n of await ctx.api.get<NetworkSummary[]>('/networks')) networkIds.set(n.Name, n.Id);
  const ids = new Map<string, string>();
  const touched: string[] = [];
  for (const svc of creationOrder(plan.services)) {
    await resolveRefs(ctx, svc.spec);
    const cur = existing.get(svc.spec.Name);
    if (cur) {
      ids.set(svc.key, cur.ID);
      const next = specForUpdate(cur.Spec, svc.spec);
      if (sameSpec(cur.Spec, next, networkIds)) continue;
      ctx.out.write(`Updating service ${svc.spec.Name} (id: ${cur.ID})\n`);
      try {
        const r = await ctx.api.post<{ Warnings?: string[] | null }>(`/services/${encodeURIComponent(cur.ID)}/update`, next, { version: cur.Version.Index });
        for (const w of r?.Warnings ?? []) ctx.err.write(w + '\n');
      } catch (e) {
        if (e instanceof DaemonError) throw new DaemonError(`failed to update service ${svc.spec.Name}: ${e.message}`, e.status);
        throw e;
      }
      touched.push(cur.ID);
      continue;
    }
    await waitForDependencies(ctx, plan, svc, ids, timeoutMs, o.quiet);
    ctx.out.write(`Creating service ${svc.spec.Name}\n`);
    try {
      const r = await ctx.api.post<{ ID: string; Warnings?: string[] | null }>('/services/create', svc.spec);
      for (const w of r.Warnings ?? []) ctx.err.write(w + '\n');
      ids.set(svc.key, r.ID);
      touched.push(r.ID);
    } catch (e) {
      if (e instanceof DaemonError) throw new DaemonError(`failed to create service ${svc.spec.Name}: ${e.message}`, e.status);
      throw e;
    }
  }
  if (o.detach === false) for (const id of touched) await waitConverged(ctx, id, { quiet: o.quiet });
}

export async function ls(ctx: Ctx, o: { format?: string }): Promise<void> {
  const services = await ctx.api.get<ApiService[]>('/services', { filters: filters({ label: [LABEL_NAMESPACE] }) });
  const counts = new Map<string, number>();
  for (const s of services) {
    const ns = s.Spec.Labels?.[LABEL_NAMESPACE];
    if (ns === undefined) throw new CliError(`cannot get label ${LABEL_NAMESPACE} for service ${s.ID}`);
    counts.set(ns, (counts.get(ns) ?? 0) + 1);
  }
  writeList(ctx, stackRows(counts), o, STACK_TABLE, STACK_HEADER);
}

export async function services(ctx: Ctx, ns: string, o: { quiet?: boolean; format?: string; filter?: string[] }): Promise<void> {
  const list = await stackServices(ctx, ns, !o.quiet, parseFilters(o.filter));
  if (list.length === 0) {
    ctx.err.write(`Nothing found in stack: ${ns}\n`);
    return;
  }
  await writeServices(ctx, list, o);
}

/** `stack ps`: unlike `service ps`, `-q` keeps IDs short unless --no-trunc (the docker CLI's behaviour). */
export async function ps(ctx: Ctx, ns: string, o: TaskListOpts): Promise<void> {
  const f = parseFilters(o.filter);
  const tasks = await listTasks(ctx, { ...f, label: [...(f.label ?? []), nsFilter(ns)] });
  if (tasks.length === 0) throw new CliError(`nothing found in stack: ${ns}`, -1);
  await writeTasks(ctx, tasks, o, !o.noTrunc);
}

export async function rm(ctx: Ctx, names: string[]): Promise<void> {
  const failed: string[] = [];
  for (const ns of names) {
    const svcs = (await stackServices(ctx, ns)).sort((a, b) => a.Spec.Name.localeCompare(b.Spec.Name));
    const nets = await stackNetworks(ctx, ns);
    const secrets = await stackObjects(ctx, 'secrets', nsFilter(ns));
    const configs = await stackObjects(ctx, 'configs', nsFilter(ns));
    if (svcs.length + nets.length + secrets.length + configs.length === 0) {
      ctx.err.write(`Nothing found in stack: ${ns}\n`);
      continue;
    }
    let hasError = false;
    const remove = async (what: string, name: string, p: string, id: string) => {
      ctx.out.write(`Removing ${what} ${name}\n`);
      try {
        await ctx.api.request('DELETE', p);
      } catch (e) {
        hasError = true;
        ctx.err.write(`Failed to remove ${what} ${id}: ${e instanceof DaemonError ? `Error response from daemon: ${e.message}` : (e as Error).message}\n`);
      }
    };
    for (const s of svcs) await remove('service', s.Spec.Name, `/services/${s.ID}`, s.ID);
    for (const s of secrets) await remove('secret', s.Spec.Name, `/secrets/${s.ID}`, s.ID);
    for (const c of configs) await remove('config', c.Spec.Name, `/configs/${c.ID}`, c.ID);
    for (const n of nets) await remove('network', n.Name, `/networks/${n.Id}`, n.Id);
    if (hasError) failed.push(`failed to remove some resources from stack: ${ns}`);
  }
  if (failed.length) throw new CliError(failed.join('\n'));
}

export function register(program: Command, run: Runner): void {
  const stack = program.command('stack').description('Manage Swarm stacks').enablePositionalOptions();
  stack
    .command('deploy')
    .alias('up')
    .description('Deploy a new stack or update an existing stack')
    .argument('<stack>')
    .option('-c, --compose-file <file>', 'Path to a Compose file, or "-" to read from stdin', collect)
    .option('--prune', 'Prune services that are no longer referenced')
    .option('-d, --detach [bool]', 'Exit immediately instead of waiting for the stack services to converge', (v: string) => v !== 'false' && v !== '0', true)
    .option('-q, --quiet', 'Suppress progress output')
    .option('--depends-timeout <duration>', 'How long to wait for a depends_on condition before failing', '3m')
    .action(run((ctx, ns: string, o: DeployOpts) => deploy(ctx, ns, o)));
  stack
    .command('ls')
    .alias('list')
    .description('List stacks')
    .option('--format <format>', 'Format output using a custom template')
    .action(run((ctx, o: { format?: string }) => ls(ctx, o)));
  taskListOptions(stack.command('ps').description('List the tasks in the stack').argument('<stack>'), 'Format output using a custom template')
    .action(run((ctx, ns: string, o: TaskFlags) => ps(ctx, ns, taskOpts(o))));
  stack
    .command('services')
    .description('List the services in the stack')
    .argument('<stack>')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect)
    .option('--format <format>', 'Format output using a custom template')
    .option('-q, --quiet', 'Only display IDs')
    .action(run((ctx, ns: string, o: { quiet?: boolean; format?: string; filter?: string[] }) => services(ctx, ns, o)));
  stack
    .command('rm')
    .aliases(['remove', 'down'])
    .description('Remove one or more stacks')
    .argument('<stack...>')
    .action(run((ctx, names: string[]) => rm(ctx, names)));
}
