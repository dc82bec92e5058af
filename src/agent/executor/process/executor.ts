// The embedded default runtime: a task is a child process (ContainerSpec.Command + Args, argv,
// no shell). Its image is recorded, never pulled. State and logs live under
// `<dataDir>/tasks/<taskId>/`, so a restarted daemon re-adopts processes that kept running.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Task } from '../../../types';
import { relativeTarget, removeTaskFiles, secretsRoot, taskFiles, writeTaskFiles } from '../task-files';
import type {
  Executor,
  TaskDependencies,
  ExecutorDescription,
  ExitResult,
  LogLine,
  LogOptions,
  RuntimeStatus,
  TaskController,
} from '../types';
import { ProcRuntime, taskDir, taskUser, type RuntimeEnv } from './runtime';
import { safeTaskId, stateFile } from './state';
import { assignTaskPorts } from './ports';

export interface ProcessExecutorOptions {
  /** The daemon's data dir; tasks live under `<dataDir>/tasks/`. */
  dataDir: string;
  /** The node's hostname (daemon config). */
  hostname: string;
  /** Shown as the engine version; default: Shoal's package version. */
  engineVersion?: string;
  /** PATH for tasks whose Env sets none; default the daemon's PATH. */
  path?: string;
  /** Liveness poll of re-adopted processes, ms (default 250). */
  pollMs?: number;
  now?: () => number;
  /** The node's DNS server (`host:port`, `--dns-listen-addr`), given to tasks as SHOAL_DNS. */
  dns?: string;
}

/** Node's platform/arch → Docker's words (`linux`, `x86_64`, `aarch64`, …). */
export function dockerOs(platform: string = process.platform): string {
  return platform === 'win32' ? 'windows' : platform;
}

export function dockerArch(arch: string = process.arch): string {
  const map: Record<string, string> = {
    x64: 'x86_64',
    arm64: 'aarch64',
    arm: 'armv7l',
    ia32: 'i386',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  return map[arch] ?? arch;
}

/** Shoal's version from its package.json (searched upwards from this file), or "0.0.0". */
export function shoalVersion(): string {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'shoal' && pkg.version) return pkg.version;
    } catch {
      /* keep looking */
    }
    dir = path.dirname(dir);
  }
  return '0.0.0';
}

export class ProcessExecutor implements Executor {
  readonly name = 'process' as const;
  private readonly runtimes = new Map<string, ProcRuntime>();
  private readonly env: RuntimeEnv;
  private readonly tasksDir: string;
  /** Where the tasks' secret and config files live (memory-backed; task-files.ts). */
  readonly secretsRoot: string;

  constructor(private readonly opts: ProcessExecutorOptions) {
    this.tasksDir = path.join(opts.dataDir, 'tasks');
    this.secretsRoot = secretsRoot(opts.dataDir);
    fs.mkdirSync(this.tasksDir, { recursive: true });
    this.env = {
      path: opts.path ?? process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      pollMs: opts.pollMs ?? 250,
      now: opts.now ?? Date.now,
      ...(opts.dns ? { dns: opts.dns } : {}),
    };
  }

  async describe(): Promise<ExecutorDescription> {
    return {
      hostname: this.opts.hostname,
      os: dockerOs(),
      architecture: dockerArch(),
      nanoCPUs: os.cpus().length * 1_000_000_000,
      memoryBytes: os.totalmem(),
      engineVersion: this.opts.engineVersion ?? shoalVersion(),
      engineLabels: {},
      plugins: [],
    };
  }

  /** The runtime object of a task (one per task, shared by its controllers); re-adopts from disk. */
  runtime(taskId: string): ProcRuntime {
    let rt = this.runtimes.get(taskId);
    if (!rt) {
      const dir = taskDir(this.opts.dataDir, safeTaskId(taskId));
      rt = new ProcRuntime(dir, taskId, this.env);
      this.runtimes.set(taskId, rt);
    }
    return rt;
  }

  controller(task: Task, deps?: TaskDependencies): TaskController {
    return new ProcessController(this, task, deps);
  }

  /** The task's private directory of secret and config files. */
  filesDir(taskId: string): string {
    return path.join(this.secretsRoot, safeTaskId(taskId));
  }

  async listTaskIds(): Promise<string[]> {
    let names: string[];
    try {
      names = fs.readdirSync(this.tasksDir);
    } catch {
      return [];
    }
    return names.filter((n) => fs.existsSync(stateFile(path.join(this.tasksDir, n))));
  }

  /** Forgets a removed task's runtime. */
  drop(taskId: string): void {
    this.runtimes.delete(taskId);
  }

  async close(): Promise<void> {
    await Promise.all([...this.runtimes.values()].map((rt) => rt.closeSettled()));
    this.runtimes.clear();
  }
}

export class ProcessController implements TaskController {
  constructor(
    private readonly exec: ProcessExecutor,
    private readonly task: Task,
    private readonly deps?: TaskDependencies,
  ) {
    this.rt().setHealthConfig(task);
  }

  private rt(): ProcRuntime {
    return this.exec.runtime(this.task.ID);
  }

  async prepare(): Promise<void> {
    const rt = this.rt();
    if (!rt.prepared) rt.prepare(this.task, await assignTaskPorts(this.task), await this.writeFiles());
    rt.setHealthConfig(this.task);
  }

  /**
   * Secrets at `$SHOAL_SECRETS_DIR/<target>`, configs at `$SHOAL_CONFIGS_DIR/<target>` (an absolute
   * target placed below that directory): the process runtime has no mount namespace to put them at
   * /run/secrets. The variables, not the files' bytes, are what the task's state records.
   */
  private async writeFiles(): Promise<string[]> {
    const c = this.task.Spec.ContainerSpec;
    if (!c?.Secrets?.length && !c?.Configs?.length) return [];
    const files = taskFiles(this.task, this.deps, await this.exec.describe());
    if (!files.length) return [];
    const dir = this.exec.filesDir(this.task.ID);
    writeTaskFiles(dir, files, (f) => path.join(f.kind === 'secret' ? 'secrets' : 'configs', relativeTarget(f.target)), taskUser(this.task.Spec.ContainerSpec ?? {}));
    const env = [];
    if (files.some((f) => f.kind === 'secret')) env.push(`SHOAL_SECRETS_DIR=${path.join(dir, 'secrets')}`);
    if (files.some((f) => f.kind === 'config')) env.push(`SHOAL_CONFIGS_DIR=${path.join(dir, 'configs')}`);
    return env;
  }

  async start(): Promise<void> {
    await this.rt().start();
  }

  async wait(signal?: AbortSignal): Promise<ExitResult> {
    const r = await this.rt().wait(signal);
    // The task has ended: its secrets go at once (a restart is a new task with its own files).
    removeTaskFiles(this.exec.filesDir(this.task.ID));
    return r;
  }

  async shutdown(graceMs: number): Promise<void> {
    await this.rt().shutdown(graceMs);
  }

  async terminate(): Promise<void> {
    await this.rt().terminate();
  }

  async remove(): Promise<void> {
    await this.rt().remove();
    removeTaskFiles(this.exec.filesDir(this.task.ID));
    this.exec.drop(this.task.ID);
  }

  async inspect(): Promise<RuntimeStatus | undefined> {
    return this.rt().inspect();
  }

  logs(opts: LogOptions, signal?: AbortSignal): AsyncIterable<LogLine> {
    return this.rt().logs(opts, signal);
  }

  onHealth(listener: (h: 'starting' | 'healthy' | 'unhealthy') => void): () => void {
    return this.rt().onHealth(listener);
  }
}
