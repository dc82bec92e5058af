// Wires the daemon's metrics (src/metrics) to what they read: the manager role's store, Raft and
// dispatcher, the node's routing mesh, the daemon's facts. Only wiring: what is counted and how is
// decided in src/metrics.
import type { Manager } from '../manager/manager';
import type { NodeNetwork } from '../network/node-network';
import type { DaemonFacts } from '../api/backend';
import { daemonIdOf } from '../api/server';
import { NodeMetrics, type ManagerView } from '../metrics';
import type { Task } from '../types';

export function createNodeMetrics(o: { facts: DaemonFacts; manager: () => Manager | undefined; network: () => NodeNetwork | undefined }): NodeMetrics {
  const f = o.facts;
  const views = new WeakMap<Manager, ManagerView>();
  return new NodeMetrics({
    engine: {
      version: f.version,
      commit: 'shoal',
      architecture: f.arch,
      kernel: f.kernelVersion,
      os: f.os,
      osType: f.os,
      daemonId: daemonIdOf(f),
      ncpu: f.ncpu,
      memTotal: f.memTotal,
    },
    manager: () => {
      const m = o.manager();
      if (!m) return undefined;
      let v = views.get(m);
      if (!v) views.set(m, (v = managerView(m)));
      return v;
    },
    mesh: () => o.network()?.meshStatus() ?? [],
  });
}

function managerView(m: Manager): ManagerView {
  return {
    isLeader: () => m.isLeader(),
    read: (fn) => m.store.read((tx) => fn(tx as never)),
    taskStates: () => m.store.taskCountsByState(),
    services: () => m.controlapi.listServices({}, true),
    raft: () => (m.consensus ? m.consensus.status() : undefined),
    // the dispatcher holds sessions only while this manager leads
    dispatcherSessions: () => (m.isLeader() ? m.dispatcher.connectedNodes().length : 0),
  };
}

/**
 * Tasks of the same slot (replicated) or node (global) of a task's service, as the store holds them:
 * from the slot and node indexes, for every task created (reading all the service's tasks each time was
 * quadratic: 10 % of a leader's CPU creating 100,000 replicas).
 */
function slotPeers(m: Manager, t: Task): Task[] {
  return m.store.read((tx) => {
    if (t.Slot) return tx.tasksBySlot(t.ServiceID, t.Slot);
    const global = (p: Task) => p.ServiceID === t.ServiceID && !p.Slot && p.NodeID === t.NodeID;
    return t.NodeID ? tx.tasksByNode(t.NodeID, global) : tx.tasksByService(t.ServiceID, global);
  });
}

/** A manager role started: its store events and leader changes feed the metrics' counters. */
export function followManager(metrics: NodeMetrics, m: Manager): void {
  m.store.setTimer(metrics.storeTimer);
  metrics.followEvents(m.store.watch({ kinds: ['task', 'node', 'service'] }), (t) => slotPeers(m, t));
  m.consensus.onLeadershipChange((_isLeader, leaderRaftId) => metrics.leaderSeen(leaderRaftId));
  // the role starts after its member's first election: the leader it found counts as the first change
  metrics.leaderSeen(m.consensus.status().leader);
}
