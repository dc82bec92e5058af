import { nodeMatchesConstraints, reservationsOf, taskConstraints, type Platform, type Task } from '../../../types';
import { hostPortsOf, type NodeInfo } from './nodeinfo';

/**
 * One scheduling filter. The pipeline runs the enabled ones in order and stops at the first that
 * fails; `explain` is Docker's wording for "failed on n nodes".
 */
export interface Filter {
  name: string;
  /** Returns the per-task check, or null when the filter does not apply to the task. */
  prepare(t: Task): ((n: NodeInfo) => boolean) | null;
  explain(nodes: number): string;
}

const plural = (n: number, what: string): string => (n === 1 ? `1 node` : `${n} nodes`) + what;

export const readyFilter: Filter = {
  name: 'ready',
  prepare: () => (n) => n.node.Status.State === 'ready' && n.node.Spec.Availability === 'active',
  explain: (k) => plural(k, ' not available for new tasks'),
};

export const resourceFilter: Filter = {
  name: 'resources',
  prepare(t) {
    const r = reservationsOf(t.Spec);
    if (r.NanoCPUs === 0 && r.MemoryBytes === 0) return null;
    return (n) => {
      const cap = n.node.Description?.Resources ?? {};
      return n.reserved.NanoCPUs + r.NanoCPUs <= (cap.NanoCPUs ?? 0) && n.reserved.MemoryBytes + r.MemoryBytes <= (cap.MemoryBytes ?? 0);
    };
  },
  explain: (k) => `insufficient resources on ${k === 1 ? '1 node' : `${k} nodes`}`,
};

export const constraintFilter: Filter = {
  name: 'constraints',
  prepare(t) {
    const cs = taskConstraints(t.Spec);
    if (cs.length === 0) return null;
    return (n) => nodeMatchesConstraints(cs, n.node);
  },
  explain: (k) => `scheduling constraints not satisfied on ${k === 1 ? '1 node' : `${k} nodes`}`,
};

const normArch = (a: string | undefined): string => (a === 'x86_64' ? 'amd64' : a === 'aarch64' ? 'arm64' : (a ?? ''));

export function platformMatches(want: Platform, node: Platform | undefined): boolean {
  if (!node) return false;
  const wa = normArch(want.Architecture);
  const wo = want.OS ?? '';
  return (wa === '' || wa === normArch(node.Architecture)) && (wo === '' || wo === (node.OS ?? ''));
}

export const platformFilter: Filter = {
  name: 'platform',
  prepare(t) {
    const ps = t.Spec.Placement?.Platforms;
    if (!ps || ps.length === 0) return null;
    return (n) => ps.some((p) => platformMatches(p, n.node.Description?.Platform));
  },
  explain: (k) => `unsupported platform on ${k === 1 ? '1 node' : `${k} nodes`}`,
};

/** Host-mode published ports: two tasks binding the same port cannot share a node. */
export const hostPortFilter: Filter = {
  name: 'host-ports',
  prepare(t) {
    const ports = hostPortsOf(t);
    if (ports.length === 0) return null;
    return (n) => ports.every((p) => !n.hostPorts.has(p));
  },
  explain: (k) => `host-mode port already in use on ${k === 1 ? '1 node' : `${k} nodes`}`,
};

export const maxReplicasFilter: Filter = {
  name: 'max-replicas',
  prepare(t) {
    const max = t.Spec.Placement?.MaxReplicas ?? 0;
    if (max <= 0) return null;
    return (n) => (n.activeByService.get(t.ServiceID) ?? 0) < max;
  },
  explain: () => 'max replicas per node limit exceed',
};

/** Docker's filter order (it decides which reason a node is counted under). */
export const FILTERS: readonly Filter[] = [readyFilter, resourceFilter, constraintFilter, platformFilter, hostPortFilter, maxReplicasFilter];

/** Runs the pipeline for one task over some nodes; collects failures per filter for the explanation. */
export class Pipeline {
  private checks: { f: Filter; check: (n: NodeInfo) => boolean; failures: number }[] = [];

  constructor(t: Task, filters: readonly Filter[] = FILTERS) {
    for (const f of filters) {
      const check = f.prepare(t);
      if (check) this.checks.push({ f, check, failures: 0 });
    }
  }

  passes(n: NodeInfo): boolean {
    for (const c of this.checks) {
      if (!c.check(n)) {
        c.failures++;
        return false;
      }
    }
    return true;
  }

  /** "insufficient resources on 2 nodes; 1 node not available for new tasks": most failures first. */
  explain(): string {
    return this.checks
      .filter((c) => c.failures > 0)
      .map((c, i) => ({ c, i }))
      .sort((a, b) => b.c.failures - a.c.failures || a.i - b.i)
      .map(({ c }) => c.f.explain(c.failures))
      .join('; ');
  }
}

/** The text a task that fits nowhere carries in Status.Err. */
export const noSuitableNode = (explanation: string): string => (explanation ? `no suitable node (${explanation})` : 'no suitable node');
