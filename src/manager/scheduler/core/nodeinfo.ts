import { accountTask, copyLoad, emptyLoad, type NodeLoad } from '../../../store/node-loads';
import type { Node, Task } from '../../../types';

export { hostPortsOf } from '../../../store/node-loads';

/** What the scheduler knows about one node: the node and the load its tasks that have not stopped put on it. */
export interface NodeInfo extends NodeLoad {
  node: Node;
}

export function emptyInfo(node: Node): NodeInfo {
  return { node, ...emptyLoad() };
}

/** Accounts a task on its node (a task placed by the scheduler is accounted the same way). */
export function addTask(info: NodeInfo, t: Task): void {
  accountTask(info, t, 1);
}

/**
 * The node table from every node and the load the store keeps for each (MemoryStore.nodeLoad), copied:
 * the scheduler adds what it places while it plans.
 */
export function nodeInfosFromLoads(nodes: readonly Node[], loadOf: (nodeId: string) => Readonly<NodeLoad> | undefined): Map<string, NodeInfo> {
  const m = new Map<string, NodeInfo>();
  for (const n of nodes) {
    const load = loadOf(n.ID);
    m.set(n.ID, load ? { node: n, ...copyLoad(load) } : emptyInfo(n));
  }
  return m;
}

/** Builds the node table from every node and every task that has a node. */
export function buildNodeInfos(nodes: readonly Node[], tasks: readonly Task[]): Map<string, NodeInfo> {
  const m = new Map<string, NodeInfo>();
  for (const n of nodes) m.set(n.ID, emptyInfo(n));
  for (const t of tasks) {
    const info = t.NodeID ? m.get(t.NodeID) : undefined;
    if (info) addTask(info, t);
  }
  return m;
}
