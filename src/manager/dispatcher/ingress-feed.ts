import type { MemoryStore, StoreEvent, Watch } from '../../store';
import type { IngressEntry, NetworkNames, Node, NodeNetworkView, Task } from '../../types';
import { ingressTable, nodeChangeMatters } from './core/ingress';
import { namesTable } from './core/names';
import { nodeNetworkViews, type NodeNetworks } from './core/netview';
import { MeshDrainBook } from './core/mesh-drain';

/**
 * The network views, computed once for every session stream: the routing mesh's table (the same for
 * every node) and each node's networks and VIPs, recomputed (at most once per `batchMs`) when
 * networks, services, tasks or nodes change, and published with a version so each stream sends its
 * node's view only when it changed. The DNS name table is the same for every node too (each node's
 * DNS listeners answer only their network's names).
 */
export class IngressFeed {
  private watch: Watch | null = null;
  private table: IngressEntry[] = [];
  private perNode = new Map<string, NodeNetworks>();
  private text = '';
  private ingressText = '';
  private names: NetworkNames[] = [];
  private version = 0;
  private waiters = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  /** Each version's mesh backends and what each node's mesh applied: when a stopping task is drained everywhere. */
  readonly drain = new MeshDrainBook();

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
    // Waits on `ready` and looks at a round's events in a call of its own, as the store loops do: a suspended async
    // function keeps the dead locals of its last round (node 20), here the last store write's events with every old
    // version they carry, until the next write (store-loop.ts).
    const anyMatters = (): boolean => w.drain().some((e) => this.matters(e));
    void (async () => {
      for (;;) {
        if (!(await w.ready())) return;
        if (!anyMatters()) continue;
        if (!this.timer) {
          this.timer = setTimeout(() => {
            this.timer = null;
            try {
              this.recompute();
            } catch (err) {
              // The last views stay in force; the next change computes them again.
              this.log?.warn({ err }, 'dispatcher: computing the network views failed');
            }
          }, this.batchMs);
        }
      }
    })();
  }

  /**
   * Whether an event can change a view. A node counts only when what the views read of it changed. A task that is on no network and whose service publishes no
   * port is in none of them, so the status reports of 100,000 such tasks recompute nothing (a
   * recompute reads every task and node: at 1,000 nodes it is far from free).
   */
  private matters(e: StoreEvent): boolean {
    if (e.kind === 'node') return e.action !== 'update' || nodeChangeMatters(e.old as Node | undefined, e.object as Node);
    if (e.kind !== 'task') return true;
    const t = e.object as Task;
    const old = e.old as Task | undefined;
    if (t.NetworksAttachments?.length || old?.NetworksAttachments?.length) return true;
    const s = this.store.read((tx) => tx.get('service', t.ServiceID));
    return !s || !!s.Endpoint?.Ports?.length || !!s.Spec.EndpointSpec?.Ports?.length;
  }

  stop(): void {
    this.watch?.close();
    this.watch = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.wake();
  }

  /** The current view for one node, and a text of it to compare with the last one sent. */
  current(nodeId: string): { version: number; view: NodeNetworkView; text: string } {
    const mine = this.perNode.get(nodeId) ?? { networks: [], vips: [] };
    const view: NodeNetworkView = { ingress: this.table, networks: mine.networks, vips: mine.vips, names: this.names };
    return { version: this.version, view, text: `${this.ingressText}\n${JSON.stringify(mine)}` };
  }

  /**
   * Calls `listener` whenever the table's version moves, until the returned function is called. A
   * stream subscribes once, not once per round: at 1,000 streams a waiter per round (an abort
   * signal each, and the DOMException of every abort) was a visible part of the leader's CPU.
   */
  subscribe(listener: () => void): () => void {
    this.waiters.add(listener);
    return () => this.waiters.delete(listener);
  }

  get currentVersion(): number {
    return this.version;
  }

  private recompute(): void {
    const { table, perNode, names } = this.store.read((tx) => {
      const nodes = new Map(tx.find('node').map((n) => [n.ID, n]));
      const services = tx.find('service');
      // Only a task on a network is in a node's view or a name table: a new leader with 100,000 tasks on
      // none of them no longer checks each one twice (0.5 s of its first second).
      const attached = tx.find('task', (t) => !!t.NetworksAttachments?.length);
      return {
        table: ingressTable(services, (id) => tx.tasksByService(id), nodes),
        perNode: nodeNetworkViews({ networks: tx.find('network'), services, tasks: attached, nodes }),
        names: namesTable(tx.find('network'), services, attached, nodes),
      };
    });
    const text = JSON.stringify([table, [...perNode], names]);
    if (text === this.text) return;
    this.table = table;
    this.perNode = perNode;
    this.names = names;
    this.text = text;
    this.ingressText = JSON.stringify([table, names]);
    this.version++;
    this.drain.record(this.version, table.flatMap((e) => e.backends.map((b) => b.taskId)));
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
