// A SimFleet (sim-nodes.ts) in a child process, so that the simulated nodes of a large run are spread
// over a few processes (and both cores) and their CPU is not the bench's or the test's. The parent
// talks to it over the fork IPC channel: one request, one answer, matched by a sequence number.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { SimFleet, type FleetStats, type SimFleetOptions } from './sim-nodes';

type Op = { op: 'start'; opts: SimFleetOptions } | { op: 'stats' } | { op: 'runningByNode' } | { op: 'kill'; count: number } | { op: 'stop' };
type Request = Op & { seq: number };
type Reply = { seq: number; ok: true; value: unknown } | { seq: number; ok: false; error: string };

/** The parent's handle on a fleet running in a child process. */
export class SimFleetProcess {
  private readonly child: ChildProcess;
  private seq = 0;
  private waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;

  constructor(nodeArgs: string[] = []) {
    this.child = fork(__filename, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: nodeArgs });
    this.child.on('message', (m: Reply) => {
      const w = this.waiting.get(m.seq);
      if (!w) return;
      this.waiting.delete(m.seq);
      if (m.ok) w.resolve(m.value);
      else w.reject(new Error(m.error));
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      for (const w of this.waiting.values()) w.reject(new Error(`simulated fleet exited (${code ?? signal})`));
      this.waiting.clear();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private call<T>(req: Op, timeoutMs: number): Promise<T> {
    if (this.exited) return Promise.reject(new Error('simulated fleet has exited'));
    const seq = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting.delete(seq);
        reject(new Error(`simulated fleet: ${req.op} took over ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(seq, {
        resolve: (v) => (clearTimeout(t), resolve(v as T)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
      this.child.send({ ...req, seq });
    });
  }

  /** Joins and starts the fleet's nodes; resolves with their node IDs. */
  start(opts: SimFleetOptions, timeoutMs = 300_000): Promise<string[]> {
    return this.call({ op: 'start', opts }, timeoutMs);
  }
  stats(): Promise<FleetStats> {
    return this.call({ op: 'stats' }, 30_000);
  }
  runningByNode(): Promise<Record<string, string[]>> {
    return this.call({ op: 'runningByNode' }, 30_000);
  }
  kill(count: number): Promise<string[]> {
    return this.call({ op: 'kill', count }, 60_000);
  }

  /** Stops the fleet's agents and ends the process (killed if it does not end in time). */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    await this.call({ op: 'stop' }, timeoutMs).catch(() => undefined);
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  }
}

function serve(): void {
  let fleet: SimFleet | null = null;
  const reply = (r: Reply) => process.send?.(r);
  process.on('message', (req: Request) => {
    const run = async (): Promise<unknown> => {
      switch (req.op) {
        case 'start':
          fleet = new SimFleet(req.opts);
          await fleet.start();
          return fleet.nodes.map((n) => n.nodeId);
        case 'stats':
          return fleet?.stats();
        case 'runningByNode':
          return fleet?.runningByNode();
        case 'kill':
          return fleet ? await fleet.kill(req.count) : [];
        case 'stop':
          await fleet?.stop();
          setImmediate(() => process.exit(0));
          return null;
      }
    };
    run().then(
      (value) => reply({ seq: req.seq, ok: true, value }),
      (e: unknown) => reply({ seq: req.seq, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
    );
  });
  // the parent went away: nothing may outlive it
  process.on('disconnect', () => {
    if (fleet) fs.rmSync(fleet.dataDir, { recursive: true, force: true });
    process.exit(0);
  });
}

if (require.main === module) serve();
