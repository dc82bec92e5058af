import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalidArgument } from '../../lib/errors';
import type { Config, FileTarget, Secret, Task } from '../../types';
import { GOLANG_TEMPLATING } from '../../types';
import { renderTemplate, type TemplateContext } from './core/template';
import type { TaskDependencies } from './types';

// The secret and config files of one task, as both runtimes deliver them (docs/design/secrets.md):
// built from the data the dispatcher sent (memory only), templates rendered for the task, written
// into a private per-task directory on memory-backed storage (/dev/shm) that is removed when the
// task ends. Never under the data dir, never in a log line.

export interface TaskFile {
  kind: 'secret' | 'config';
  /** The reference's target (`File.Name`): relative for secrets, absolute or relative for configs. */
  target: string;
  data: Buffer;
  uid: number;
  gid: number;
  mode: number;
}

const DEFAULT_MODE = 0o444;

function intOr(v: string | undefined, d: number): number {
  const n = Number(v);
  return v !== undefined && v !== '' && Number.isInteger(n) && n >= 0 ? n : d;
}

/** The context of `{{ .Service.Name }}` and friends, as swarmkit's template package builds it. */
export function templateContext(task: Task, node: { hostname: string; os: string; architecture: string }): TemplateContext {
  const svc = task.internal?.serviceName ?? '';
  const slot = task.Slot !== undefined && task.Slot !== 0 ? String(task.Slot) : (task.NodeID ?? '');
  return {
    Service: { ID: task.ServiceID, Name: svc, Labels: {} },
    Node: { ID: task.NodeID ?? '', Hostname: node.hostname, Platform: { Architecture: node.architecture, OS: node.os } },
    Task: { ID: task.ID, Name: `${svc}.${slot}.${task.ID}`, Slot: String(task.Slot ?? 0) },
  };
}

/**
 * Every file the task's references ask for, with its bytes. A reference whose object this node was
 * not sent, or a template that cannot be rendered, fails (the task is then rejected).
 */
export function taskFiles(task: Task, deps: TaskDependencies | undefined, node: { hostname: string; os: string; architecture: string }): TaskFile[] {
  const c = task.Spec.ContainerSpec;
  const secretRefs = c?.Secrets ?? [];
  const configRefs = c?.Configs ?? [];
  if (!secretRefs.length && !configRefs.length) return [];
  const get = <T extends Secret | Config>(kind: 'secret' | 'config', id: string, name: string): T => {
    const o = (kind === 'secret' ? deps?.secret(id) : deps?.config(id)) as T | undefined;
    if (!o) throw invalidArgument(`${kind} ${name} (${id}) is not available on this node`);
    return o;
  };
  const env = new Map<string, string>();
  for (const e of c?.Env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) env.set(e.slice(0, i), e.slice(i + 1));
  }
  const raw = (o: Secret | Config) => Buffer.from(o.Spec.Data ?? '', 'base64');
  const byTarget = (kind: 'secret' | 'config', target: string) => {
    const ref = kind === 'secret' ? secretRefs.find((r) => r.File?.Name === target) : configRefs.find((r) => r.File?.Name === target);
    if (!ref) throw invalidArgument(`template: expansion: ${kind} target ${target} not found`);
    const id = 'SecretID' in ref ? ref.SecretID : ref.ConfigID;
    const name = 'SecretName' in ref ? ref.SecretName : ref.ConfigName;
    return raw(get(kind, id, name)).toString('utf8');
  };
  const ctx = templateContext(task, node);
  const fns = { env: (k: string) => env.get(k) ?? '', secret: (t: string) => byTarget('secret', t), config: (t: string) => byTarget('config', t) };
  const data = (kind: 'secret' | 'config', o: Secret | Config): Buffer => {
    const driver = (o as Secret).Spec.Driver?.Name;
    // the value of a driver secret comes from its plugin, which this daemon cannot run
    if (driver && !o.Spec.Data) throw invalidArgument(`secret ${o.Spec.Name}: secret driver ${driver} is not supported by this daemon`);
    const tpl = o.Spec.Templating?.Name;
    if (!tpl) return raw(o);
    if (tpl !== GOLANG_TEMPLATING) throw invalidArgument(`unrecognized template type ${tpl}`);
    return Buffer.from(renderTemplate(raw(o).toString('utf8'), ctx, fns, { quote: kind === 'config' }), 'utf8');
  };
  const file = (kind: 'secret' | 'config', f: FileTarget, o: Secret | Config): TaskFile => ({
    kind,
    target: f.Name,
    data: data(kind, o),
    uid: intOr(f.UID, 0),
    gid: intOr(f.GID, 0),
    mode: (f.Mode ?? DEFAULT_MODE) & 0o7777,
  });
  const out: TaskFile[] = [];
  for (const r of secretRefs) if (r.File) out.push(file('secret', r.File, get('secret', r.SecretID, r.SecretName)));
  for (const r of configRefs) if (r.File) out.push(file('config', r.File, get('config', r.ConfigID, r.ConfigName)));
  return out;
}

/** A target as a path below a directory: no leading '/', no '..' (a target must not leave its directory). */
export function relativeTarget(target: string): string {
  const rel = path.posix.normalize(target.replace(/^\/+/, ''));
  if (!rel || rel === '.' || rel.startsWith('..')) throw invalidArgument(`invalid file target ${JSON.stringify(target)}`);
  return rel;
}

/**
 * Where a daemon keeps its tasks' secret directories: on /dev/shm (a tmpfs: the bytes never reach a
 * disk), one directory per daemon (named after its data dir) so daemons on one host never share.
 * Without /dev/shm, below the data dir, still 0700 with 0400-style files.
 */
export function secretsRoot(dataDir: string): string {
  const tag = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16);
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return path.join('/dev/shm', `shoal-${tag}`);
  } catch {
    return path.join(dataDir, 'secrets');
  }
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Writes the files below `dir` (created 0700, emptied first) at `placeOf(file)` (relative), each with
 * its mode and, when the daemon is root, its owner. `owner`: who must be able to enter `dir` (the
 * task's user), when the daemon is root. Returns the absolute path of each file, in order.
 */
export function writeTaskFiles(dir: string, files: TaskFile[], placeOf: (f: TaskFile, index: number) => string, owner?: { uid: number; gid: number }): string[] {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const root = isRoot();
  if (root && owner) {
    fs.chownSync(dir, owner.uid, owner.gid);
    // the task's user must pass through the daemon's directory (never list it) to reach its own
    fs.chmodSync(path.dirname(dir), 0o711);
  }
  return files.map((f, i) => {
    const p = path.join(dir, placeOf(f, i));
    if (path.dirname(p) !== dir) {
      fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o700 });
      if (root && owner) for (let d = path.dirname(p); d !== dir && d.startsWith(dir); d = path.dirname(d)) fs.chownSync(d, owner.uid, owner.gid);
    }
    // created owner-only, then given its mode: never readable by others while being written
    fs.writeFileSync(p, f.data, { mode: 0o600, flag: 'wx' });
    if (root) fs.chownSync(p, f.uid, f.gid);
    fs.chmodSync(p, f.mode);
    return p;
  });
}

/** Removes a task's directory, and the daemon's directory with it once no task has one there. */
export function removeTaskFiles(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.rmdirSync(path.dirname(dir));
  } catch {
    // other tasks' directories are still there (ENOTEMPTY), or it is gone already
  }
}
