import type { MemoryStore, Watch } from '../../store';
import type { IngressEntry, NetworkNames, NodeNetworkView } from '../../types';
import { ingressTable } from './core/ingress';
import { namesTable } from './core/names';

/**
 * The routing mesh's table and the name table, computed once for every session stream: recomputed (at most once per
 * `batchMs`) when services, tasks or nodes change, and published with a version so each stream sends
 * it to its node only when it changed.
 */
export class IngressFeed {
  private watch: Watch | null = null;
  private table: IngressEntry[] = [];
  private names: NetworkNames[] = [];
  private text = '[[],[]]';
  private version = 0;
  private waiters = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: MemoryStore,
    private readonly batchMs: number,
    private readonly log?: { warn(obj: object, msg: string): void },
  ) {}

  start(): void {
    if (this.watch) return;
    const w = this.store.watch({ kinds: ['service', 'task', 'node', 'network'] });
    this.watch = w;
    this.recompute();
    void (async () => {
      for (;;) {
        const r = await w.next();
        if (r.done) return;
        w.drain();
        if (!this.timer) {
          this.timer = setTimeout(() => {
            this.timer = null;
            try {
              this.recompute();
            } catch (err) {
              // The last table stays in force; the next change computes it again.
              this.log?.warn({ err }, 'dispatcher: computing the routing mesh table failed');
            }
          }, this.batchMs);
        }
      }
    })();
  }

  stop(): void {
    this.watch?.close();
    this.watch = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.wake();
  }

  current(): { version: number; view: NodeNetworkView } {
    return { version: this.version, view: { ingress: this.table, names: this.names } };
  }

  /** Resolves once the table's version is past `version`, or `signal` aborts. */
  changed(version: number, signal: AbortSignal): Promise<void> {
    if (this.version !== version || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private recompute(): void {
    const { table, names } = this.store.read((tx) => {
      const nodes = new Map(tx.find('node').map((n) => [n.ID, n]));
      const services = tx.find('service');
      return {
        table: ingressTable(services, (id) => tx.tasksByService(id), nodes),
        names: namesTable(tx.find('network'), services, tx.find('task'), nodes),
      };
    });
    const text = JSON.stringify([table, names]);
    if (text === this.text) return;
    this.table = table;
    this.names = names;
    this.text = text;
    this.version++;
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
