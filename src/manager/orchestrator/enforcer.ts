import type { Node } from '../../types';
import type { StoreEvent, WatchFilter } from '../../store';
import { StoreLoop } from '../store-loop';
import { applyMutations, type LoopDeps } from './loop';
import { enforceNode } from './core/enforcer';

const shape = (n: Node) => JSON.stringify([n.Spec.Labels ?? {}, n.Spec.Role, n.Description?.Resources ?? {}, n.Description?.Platform ?? {}, n.Description?.Engine?.Labels ?? {}, n.Description?.Hostname, n.Status.Addr]);

/** The constraint enforcer: rejects tasks whose node changed so that they no longer fit it. */
export class ConstraintEnforcer extends StoreLoop<LoopDeps> {
  protected readonly filter: WatchFilter = { kinds: ['node'], actions: ['create', 'update'] };
  private dirty = new Set<string>();

  constructor(deps: LoopDeps) {
    super(deps);
  }

  protected onEvent(e: StoreEvent): boolean {
    const n = e.object as Node;
    const old = e.old as Node | undefined;
    if (old && shape(old) === shape(n)) return false;
    this.dirty.add(n.ID);
    return true;
  }

  protected async flush(): Promise<undefined> {
    const { store, clock } = this.deps;
    const ids = this.take(this.dirty, () => store.read((tx) => tx.find('node').map((n) => n.ID)));
    for (const nid of ids) {
      await store.update((tx) => {
        const node = tx.get('node', nid);
        if (!node) return;
        applyMutations(tx, enforceNode(node, tx.shared.tasksByNode(nid), clock.now()));
      });
    }
    return undefined;
  }
}
