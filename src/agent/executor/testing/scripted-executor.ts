import type { Task } from '../../../types';
import type { Executor, ExecutorDescription, ExitResult, LogLine, LogOptions, RuntimeStatus, TaskController } from '../types';

// TEST DOUBLE. A scripted in-memory executor for the agent's tests: no containers, no processes.
// Its "engine" (ScriptedEngine) outlives executors, so a test can restart the agent and check that
// running tasks are re-adopted. Behaviour comes from the task's image name:
//   "missing…"      prepare fails with Docker's "No such image: <image>"
//   "exit:N"        exits with code N shortly after start (exitAfterMs)
//   "healthy"       reports health starting → healthy after start
//   "unhealthy"     reports health starting → unhealthy after start
//   anything else   runs until stopped (shutdown → exit 143, terminate → exit 137)

export interface Script {
  prepareError?: string;
  startError?: string;
  exitCode?: number;
  health?: 'healthy' | 'unhealthy';
}

export function scriptFromImage(task: Task): Script {
  const image = task.Spec.ContainerSpec?.Image ?? '';
  if (image.startsWith('missing')) return { prepareError: `No such image: ${image}` };
  const m = /^exit:(\d+)/.exec(image);
  if (m) return { exitCode: Number(m[1]) };
  if (image === 'healthy' || image === 'unhealthy') return { health: image };
  if (image === 'badstart') return { startError: 'starting container failed: scripted' };
  return {};
}

interface RuntimeObject {
  taskId: string;
  containerId: string;
  pid: number;
  state: 'created' | 'running' | 'exited';
  exitCode?: number;
  health?: 'starting' | 'healthy' | 'unhealthy';
  waiters: ((r: ExitResult) => void)[];
  logs: LogLine[];
}

export type Op = 'prepare' | 'start' | 'wait' | 'shutdown' | 'terminate' | 'remove' | 'inspect';

/** The fake engine: runtime objects by task ID and a journal of controller calls. */
export class ScriptedEngine {
  readonly objects = new Map<string, RuntimeObject>();
  readonly calls: { taskId: string; op: Op }[] = [];
  readonly healthListeners = new Map<string, Set<(h: 'starting' | 'healthy' | 'unhealthy') => void>>();
  private seq = 0;
  constructor(
    readonly exitAfterMs = 20,
    /** How long a start takes (ms): a simulated node's "container start" (test/harness/sim-nodes.ts). */
    readonly startDelayMs = 0,
  ) {}

  count(taskId: string, op: Op): number {
    return this.calls.filter((c) => c.taskId === taskId && c.op === op).length;
  }

  create(taskId: string): RuntimeObject {
    const o: RuntimeObject = { taskId, containerId: `c${++this.seq}`.padEnd(12, '0'), pid: 1000 + this.seq, state: 'created', waiters: [], logs: [] };
    this.objects.set(taskId, o);
    return o;
  }

  /** The runtime object exits (behind the agent's back, or scripted). */
  exit(taskId: string, code: number): void {
    const o = this.objects.get(taskId);
    if (!o || o.state !== 'running') return;
    o.state = 'exited';
    o.exitCode = code;
    const ws = o.waiters.splice(0);
    for (const w of ws) w({ exitCode: code });
  }

  setHealth(taskId: string, h: 'starting' | 'healthy' | 'unhealthy'): void {
    const o = this.objects.get(taskId);
    if (!o) return;
    o.health = h;
    for (const l of this.healthListeners.get(taskId) ?? []) l(h);
  }
}

class ScriptedController implements TaskController {
  constructor(
    private readonly engine: ScriptedEngine,
    private readonly task: Task,
    private readonly script: Script,
  ) {}

  private get obj(): RuntimeObject | undefined {
    return this.engine.objects.get(this.task.ID);
  }

  private note(op: Op): void {
    this.engine.calls.push({ taskId: this.task.ID, op });
  }

  async prepare(): Promise<void> {
    this.note('prepare');
    if (this.script.prepareError) throw new Error(this.script.prepareError);
    if (!this.obj) this.engine.create(this.task.ID);
  }

  async start(): Promise<void> {
    this.note('start');
    if (this.script.startError) throw new Error(this.script.startError);
    if (this.engine.startDelayMs > 0) await new Promise((r) => setTimeout(r, this.engine.startDelayMs));
    const o = this.obj ?? this.engine.create(this.task.ID);
    if (o.state !== 'created') return;
    o.state = 'running';
    o.logs.push({ stream: 'stdout', time: Date.now(), data: Buffer.from(`hello from ${this.task.ID}\n`) });
    const id = this.task.ID;
    if (this.script.exitCode !== undefined) {
      const code = this.script.exitCode;
      setTimeout(() => this.engine.exit(id, code), this.engine.exitAfterMs);
    }
    if (this.script.health) {
      const h = this.script.health;
      this.engine.setHealth(id, 'starting');
      setTimeout(() => this.engine.setHealth(id, h), this.engine.exitAfterMs);
    }
  }

  wait(signal?: AbortSignal): Promise<ExitResult> {
    this.note('wait');
    const o = this.obj;
    if (!o) return Promise.reject(new Error('dockerexec: container destroyed'));
    if (o.state === 'exited') return Promise.resolve({ exitCode: o.exitCode ?? 0 });
    return new Promise((resolve) => {
      o.waiters.push(resolve);
      signal?.addEventListener('abort', () => {
        const i = o.waiters.indexOf(resolve);
        if (i >= 0) o.waiters.splice(i, 1);
      });
    });
  }

  async shutdown(_graceMs: number): Promise<void> {
    this.note('shutdown');
    this.engine.exit(this.task.ID, 143);
  }

  async terminate(): Promise<void> {
    this.note('terminate');
    this.engine.exit(this.task.ID, 137);
  }

  async remove(): Promise<void> {
    this.note('remove');
    this.engine.exit(this.task.ID, 137);
    this.engine.objects.delete(this.task.ID);
  }

  async inspect(): Promise<RuntimeStatus | undefined> {
    this.note('inspect');
    const o = this.obj;
    if (!o) return undefined;
    return { containerId: o.containerId, pid: o.state === 'running' ? o.pid : 0, exitCode: o.exitCode, running: o.state === 'running', health: o.health };
  }

  async *logs(_opts: LogOptions, _signal?: AbortSignal): AsyncIterable<LogLine> {
    for (const l of this.obj?.logs ?? []) yield l;
  }

  onHealth(listener: (h: 'starting' | 'healthy' | 'unhealthy') => void): () => void {
    let set = this.engine.healthListeners.get(this.task.ID);
    if (!set) this.engine.healthListeners.set(this.task.ID, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }
}

/** TEST DOUBLE: see the file comment. */
export class ScriptedExecutor implements Executor {
  readonly name = 'fake' as const;
  constructor(
    readonly engine: ScriptedEngine = new ScriptedEngine(),
    private readonly scriptOf: (task: Task) => Script = scriptFromImage,
  ) {}

  async describe(): Promise<ExecutorDescription> {
    return { hostname: 'scripted', os: 'linux', architecture: 'x86_64', nanoCPUs: 2e9, memoryBytes: 2 ** 31, engineVersion: 'scripted' };
  }

  controller(task: Task): TaskController {
    return new ScriptedController(this.engine, task, this.scriptOf(task));
  }

  async listTaskIds(): Promise<string[]> {
    return [...this.engine.objects.keys()];
  }

  async close(): Promise<void> {}
}
