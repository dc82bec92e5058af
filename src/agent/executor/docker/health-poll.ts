// A task container's health, polled from the engine while someone listens (the task manager does, from
// before prepare): what the engine's health checks conclude reaches Shoal only through an inspect.
import type { ContainerInspect } from '../../../engine';
import { sleepUnlessAborted } from '../../../sys/sleep';

export type Health = 'starting' | 'healthy' | 'unhealthy';

/** The health the engine reports for a container, if it runs a health check. */
export function healthOf(c: ContainerInspect): Health | undefined {
  const h = c.State.Health?.Status;
  return h === 'starting' || h === 'healthy' || h === 'unhealthy' ? h : undefined;
}

/** While the container is not started, the poll looks at it this many periods apart. */
const NOT_STARTED_POLL_FACTOR = 10;

export interface HealthPollDeps {
  /** The container as the engine has it now (the controller's look-up, shared with its own), or undefined. */
  look(): Promise<ContainerInspect | undefined>;
  /**
   * True while the controller makes the container run (from its prepare until its start answered): nothing
   * runs there yet, and a look would only wait in the engine behind the start. `started()` ends the wait.
   */
  launching(): boolean;
  periodMs: number;
}

/** Polls while listeners exist and tells them each change; the controller calls `started()` after its start. */
export class HealthPoll {
  private readonly listeners = new Set<(h: Health) => void>();
  private abort?: AbortController;
  private readonly startWaiters = new Set<() => void>();

  constructor(private readonly deps: HealthPollDeps) {}

  subscribe(listener: (h: Health) => void): () => void {
    this.listeners.add(listener);
    if (!this.abort) this.run();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** The controller started the container: a poll waiting for that looks now. */
  started(): void {
    for (const w of [...this.startWaiters]) w();
  }

  stop(): void {
    this.abort?.abort();
    this.abort = undefined;
  }

  /** Resolves when the controller started the container, after `ms`, or on abort. */
  private startedOrAfter(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.startWaiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.startWaiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private run(): void {
    const ac = new AbortController();
    this.abort = ac;
    const { periodMs } = this.deps;
    let last: Health | undefined;
    void (async () => {
      // The first look waits one period (or for the controller's start): a task manager subscribes
      // before prepare, when there is nothing to see yet, and one that adopts a running container
      // inspects it itself.
      await this.startedOrAfter(periodMs, ac.signal);
      while (!ac.signal.aborted) {
        if (this.deps.launching()) {
          await this.startedOrAfter(NOT_STARTED_POLL_FACTOR * periodMs, ac.signal);
          continue;
        }
        try {
          // A listener may subscribe before the container exists or runs: then wait for the
          // controller's start (or look again now and then, should something else start it).
          const c = await this.deps.look();
          if (!c || c.State.Status === 'created') {
            await this.startedOrAfter(NOT_STARTED_POLL_FACTOR * periodMs, ac.signal);
            continue;
          }
          const h = healthOf(c);
          if (h && h !== last) {
            last = h;
            for (const l of [...this.listeners]) l(h);
          }
          // ended, or started without a health check (neither spec nor image has one): nothing
          // more will change, so stop asking the engine
          if (!c.State.Running || !h) break;
        } catch {
          /* engine unreachable: try again */
        }
        await sleepUnlessAborted(periodMs, ac.signal);
      }
    })();
  }
}
