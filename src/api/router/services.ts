import type { ServiceSpec } from '../../types';
import type { LogRequest, ServiceLogLine } from '../backend';
import { invalidArgument } from '../../lib/errors';
import {
  ACCEPTED_FILTERS,
  boolValue,
  canonicalizeFields,
  checkFilters,
  compareVersions,
  formatLogLine,
  frame,
  parseFilters,
  parseObjectVersion,
  parseTail,
  parseTimestamp,
  serviceOnWire,
  stripAll,
  stripInternal,
  taskOnWire,
  withRegistryAuth,
} from '../convert';
import { readJsonObject, sendEmpty, sendJson } from '../http-util';
import { checkBody } from '../validate/body';
import { writeChunk } from './stream';
import { route, type Ctx, type Route } from './types';

// /services and /tasks, including their log streams.

async function listServices(ctx: Ctx): Promise<void> {
  const list = await ctx.deps.backend.listServices(checkFilters(parseFilters(ctx.query.get('filters')), ACCEPTED_FILTERS.services), boolValue(ctx.query.get('status')));
  sendJson(ctx.res, 200, stripAll(list).map(serviceOnWire));
}

async function createService(ctx: Ctx): Promise<void> {
  const spec = canonicalizeFields(await readJsonObject<ServiceSpec>(ctx.req));
  checkBody('ServiceSpec', spec);
  // `--with-registry-auth`: kept with the spec for the nodes' pulls, never shown back
  withRegistryAuth(spec, ctx.req.headers['x-registry-auth']);
  const r = await ctx.deps.backend.createService(spec);
  // Docker's ServiceCreateResponse has no omitempty on Warnings: `null` when there are none.
  sendJson(ctx.res, 201, { ID: r.ID, Warnings: r.Warnings && r.Warnings.length ? r.Warnings : null });
}

async function getService(ctx: Ctx): Promise<void> {
  const s = await ctx.deps.backend.getService(ctx.params[0], boolValue(ctx.query.get('insertDefaults')));
  sendJson(ctx.res, 200, serviceOnWire(stripInternal(s)));
}

async function removeService(ctx: Ctx): Promise<void> {
  await ctx.deps.backend.removeService(ctx.params[0]);
  sendEmpty(ctx.res);
}

async function updateService(ctx: Ctx): Promise<void> {
  const version = parseObjectVersion(ctx.query.get('version'), 'service');
  const rollbackParam = ctx.query.get('rollback');
  if (rollbackParam && rollbackParam !== 'previous') throw invalidArgument(`invalid rollback parameter '${rollbackParam}'`);
  const rollback = rollbackParam === 'previous';
  const spec = canonicalizeFields(await readJsonObject<ServiceSpec>(ctx.req, !rollback));
  checkBody('ServiceSpec', spec);
  // without the header, the backend keeps the credentials the service has (moby: registryAuthFrom=spec)
  withRegistryAuth(spec, ctx.req.headers['x-registry-auth']);
  const r = await ctx.deps.backend.updateService(ctx.params[0], version, spec, { rollback });
  // moby's ServiceUpdateResponse has no omitempty: without warnings Docker sends {"Warnings":null}.
  sendJson(ctx.res, 200, { Warnings: r.Warnings && r.Warnings.length ? r.Warnings : null });
}

async function listTasks(ctx: Ctx): Promise<void> {
  sendJson(ctx.res, 200, stripAll(await ctx.deps.backend.listTasks(checkFilters(parseFilters(ctx.query.get('filters')), ACCEPTED_FILTERS.tasks))).map(taskOnWire));
}

async function getTask(ctx: Ctx): Promise<void> {
  sendJson(ctx.res, 200, taskOnWire(stripInternal(await ctx.deps.backend.getTask(ctx.params[0]))));
}

function logRequest(q: URLSearchParams): LogRequest {
  const req: LogRequest = {
    follow: boolValue(q.get('follow')),
    tail: parseTail(q.get('tail')),
    timestamps: boolValue(q.get('timestamps')),
    stdout: boolValue(q.get('stdout')),
    stderr: boolValue(q.get('stderr')),
    details: boolValue(q.get('details')),
  };
  const since = parseTimestamp(q.get('since'), 'since');
  if (since !== undefined) req.since = since;
  if (!req.stdout && !req.stderr) throw invalidArgument('Bad parameters: you must choose at least one stream');
  return req;
}

/**
 * Service and task logs. Non-TTY: Docker's multiplexed frames; TTY: raw bytes. Each message is
 * `[RFC3339NanoFixed ][details ]line`, details being `com.docker.swarm.node.id=…,com.docker.swarm.service.id=…,com.docker.swarm.task.id=…`
 * — the docker CLI splits on the first spaces to find them.
 */
async function logs(ctx: Ctx, kind: 'service' | 'task'): Promise<void> {
  const { deps, res } = ctx;
  const ref = ctx.params[0];
  const lr = logRequest(ctx.query);
  let tty: boolean;
  let lines: AsyncIterable<ServiceLogLine>;
  if (kind === 'service') {
    const s = await deps.backend.getService(ref, false);
    tty = !!s.Spec.TaskTemplate.ContainerSpec?.TTY;
    lines = deps.backend.serviceLogs(ref, lr, ctx.signal);
  } else {
    const t = await deps.backend.getTask(ref);
    tty = !!t.Spec.ContainerSpec?.TTY;
    lines = deps.backend.taskLogs(ref, lr, ctx.signal);
  }
  const muxType = compareVersions(ctx.version, '1.42') >= 0 ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream';
  res.statusCode = 200;
  res.setHeader('Content-Type', tty ? 'application/vnd.docker.raw-stream' : muxType);
  res.flushHeaders();
  try {
    for await (const line of lines) {
      if (ctx.signal.aborted) break;
      if (line.stream === 'stdout' && !lr.stdout) continue;
      if (line.stream === 'stderr' && !lr.stderr) continue;
      const payload = formatLogLine(line, lr);
      await writeChunk(res, tty ? payload : frame(line.stream, payload), ctx.signal);
    }
  } catch (e) {
    if (!ctx.signal.aborted) {
      deps.logger.warn({ err: (e as Error).message, ref }, 'log stream failed');
      const msg = Buffer.from(`Error grabbing logs: ${(e as Error).message}\n`);
      await writeChunk(res, tty ? msg : frame('stderr', msg), ctx.signal);
    }
  }
  if (!res.destroyed) res.end();
}

export const serviceRoutes: Route[] = [
  route('GET', /^\/services$/, listServices),
  route('POST', /^\/services\/create$/, createService),
  route('GET', /^\/services\/([^/]+)$/, getService),
  route('DELETE', /^\/services\/([^/]+)$/, removeService),
  route('POST', /^\/services\/([^/]+)\/update$/, updateService),
  route('GET', /^\/services\/([^/]+)\/logs$/, (ctx) => logs(ctx, 'service')),
  route('GET', /^\/tasks$/, listTasks),
  route('GET', /^\/tasks\/([^/]+)$/, getTask),
  route('GET', /^\/tasks\/([^/]+)\/logs$/, (ctx) => logs(ctx, 'task')),
];
