// Chaos testing helpers for test/integration/chaos.test.ts: a record of every service write a client
// sent and how the API answered it, the check of the cluster's final state against that record, the
// task processes actually alive on each host (process runtime state files + /proc), and a seeded
// fault planner that never takes down more than a minority of the managers.
import fs from 'node:fs';
import path from 'node:path';
import { isAlive, readState } from '../../src/agent/executor/process/state';

/** How the API answered a write: 2xx, a definite refusal, or no way to tell whether it applied. */
export type Outcome = 'ack' | 'failed' | 'unknown';

export interface WriteRecord {
  kind: 'create' | 'update' | 'remove';
  /** The service's unique name (every create uses a fresh one). */
  name: string;
  /** The service ID (known for updates and removes, and for an acknowledged create). */
  id?: string;
  /** Unique per write: stored in the spec as label chaos.gen (creates and updates). */
  gen?: number;
  replicas?: number;
  /** Env GEN=<envGen> in the task template. */
  envGen?: number;
  /** The version an update was sent with (`?version=`). */
  baseVersion?: number;
  outcome: Outcome;
  status: number;
  message: string;
  /** When the request was sent and answered (ms, any common origin), if recorded. */
  sentAt?: number;
  doneAt?: number;
}

/**
 * Sorts an answer into an outcome. A 4xx is a refusal, as is "update out of sequence" (the
 * version check failed: this request wrote nothing). Every other failure (a timeout, a reset
 * connection, a 5xx such as a lost leadership or an expired proposal) may or may not have been
 * committed, so it proves nothing either way.
 */
export function outcomeOf(status: number, message: string): Outcome {
  if (status >= 200 && status < 300) return 'ack';
  if (status >= 400 && status < 500) return 'failed';
  if (/update out of sequence/.test(message)) return 'failed';
  return 'unknown';
}

export interface FinalService {
  ID: string;
  Version: { Index: number };
  Spec: {
    Name: string;
    Labels?: Record<string, string>;
    Mode?: { Replicated?: { Replicas?: number }; Global?: object };
    TaskTemplate: { ContainerSpec?: { Env?: string[] } };
  };
}

export const envGenOf = (env: string[] | undefined): number | undefined => {
  const e = (env ?? []).find((x) => x.startsWith('GEN='));
  return e === undefined ? undefined : Number(e.slice(4));
};

/**
 * What "every acknowledged write is present" means with concurrent clients and optimistic
 * versions, for the services as the leader lists them after the chaos:
 * - an acknowledged create exists (same ID) unless a remove of it was acknowledged or may have
 *   applied; an acknowledged remove leaves nothing; nothing exists that no create could have made;
 * - two acknowledged updates of one service never share a base version (one of them overwrote the
 *   other without the version check: a lost update);
 * - the spec a service holds is the one written by its last acknowledged update (the highest base
 *   version: updates of one object are serialised by its version), or by an update whose outcome is
 *   unknown and that was sent against a later version, or, with no acknowledged update, by its
 *   create or an unknown update; and every field of it is the one that write sent.
 * - an update or remove of an acknowledged service answered 404 only if some remove of it was sent
 *   before that answer (a service does not vanish by itself).
 * Returns the violations found (empty when the record holds).
 */
export function checkWrites(log: WriteRecord[], services: FinalService[]): string[] {
  const v: string[] = [];
  for (const w of log.filter((x) => x.kind !== 'create' && x.status === 404 && x.doneAt !== undefined)) {
    const removed = log.some((r) => r !== w && r.kind === 'remove' && r.id === w.id && r.sentAt !== undefined && r.sentAt < w.doneAt!);
    if (!removed) v.push(`service ${w.name}: ${w.kind} answered 404 (${w.message}) though no remove of it had been sent`);
  }
  const byName = new Map(services.map((s) => [s.Spec.Name, s]));
  const creates = new Map(log.filter((w) => w.kind === 'create').map((w) => [w.name, w]));
  for (const s of services) {
    const c = creates.get(s.Spec.Name);
    if (!c) v.push(`service ${s.Spec.Name} exists but no client created it`);
    else if (c.outcome === 'failed') v.push(`service ${s.Spec.Name} exists but its create was refused (${c.status} ${c.message})`);
    else if (c.outcome === 'ack' && c.id !== s.ID) v.push(`service ${s.Spec.Name} has ID ${s.ID}, its acknowledged create returned ${c.id}`);
  }
  for (const c of creates.values()) {
    const writes = log.filter((w) => w.name === c.name && w.kind !== 'create');
    const removes = writes.filter((w) => w.kind === 'remove');
    const s = byName.get(c.name);
    if (removes.some((r) => r.outcome === 'ack')) {
      if (s) v.push(`service ${c.name}: its remove was acknowledged, yet it exists`);
      continue;
    }
    if (c.outcome === 'ack' && !s && !removes.some((r) => r.outcome === 'unknown')) v.push(`service ${c.name}: acknowledged create (${c.id}) is missing`);
    const updates = writes.filter((w) => w.kind === 'update');
    const acked = updates.filter((w) => w.outcome === 'ack');
    const seen = new Map<number, WriteRecord>();
    for (const u of acked) {
      const other = seen.get(u.baseVersion!);
      if (other) v.push(`service ${c.name}: updates gen ${other.gen} and gen ${u.gen} were both acknowledged against version ${u.baseVersion} (lost update)`);
      seen.set(u.baseVersion!, u);
    }
    if (!s) continue;
    const gen = Number(s.Spec.Labels?.['chaos.gen']);
    const last = acked.reduce<WriteRecord | undefined>((a, u) => (!a || u.baseVersion! > a.baseVersion! ? u : a), undefined);
    const allowed = last
      ? [last, ...updates.filter((u) => u.outcome === 'unknown' && u.baseVersion! > last.baseVersion!)]
      : [c, ...updates.filter((u) => u.outcome === 'unknown')];
    const w = allowed.find((x) => x.gen === gen);
    if (!w) {
      v.push(`service ${c.name}: holds the spec of write gen ${gen}, expected ${last ? `the last acknowledged update gen ${last.gen} (version ${last.baseVersion})` : `its create gen ${c.gen}`} or a later unknown one (allowed: ${allowed.map((x) => x.gen).join(',')})`);
      continue;
    }
    const replicas = s.Spec.Mode?.Replicated?.Replicas;
    const envGen = envGenOf(s.Spec.TaskTemplate.ContainerSpec?.Env);
    if (replicas !== w.replicas || envGen !== w.envGen) v.push(`service ${c.name}: gen ${gen} holds replicas=${replicas} GEN=${envGen}, the write sent replicas=${w.replicas} GEN=${w.envGen}`);
  }
  return v;
}

export interface LiveProcess {
  node: string;
  taskId: string;
  pid: number;
}

/**
 * Task processes alive on a host right now: the process runtime's state files
 * (`<dataDir>/tasks/<taskId>/state.json`) whose recorded PID still runs and is the same process
 * (start time), whatever the daemon believes.
 */
export function liveTaskProcesses(node: string, dataDir: string): LiveProcess[] {
  const dir = path.join(dataDir, 'tasks');
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: LiveProcess[] = [];
  for (const taskId of names) {
    const st = readState(path.join(dir, taskId)); // sealed with the node's state key (sys/state-key)
    if (!st) continue;
    if (st.pid !== undefined && isAlive(st.pid, st.procStart)) out.push({ node, taskId, pid: st.pid });
  }
  return out;
}

/**
 * Every process on this machine whose environment holds `mark` (e.g. "CHAOS_RUN=42.1234"), with its
 * HOSTNAME (the process runtime sets it to the first 12 characters of the task's container ID): the
 * real task processes, including any no daemon recorded.
 */
export function markedProcesses(mark: string): { pid: number; hostname: string; gen?: number; cwd: string }[] {
  const out: { pid: number; hostname: string; gen?: number; cwd: string }[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let env: string[];
    try {
      env = fs.readFileSync(`/proc/${d}/environ`, 'latin1').split('\0');
    } catch {
      continue;
    }
    if (!env.includes(mark)) continue;
    if (!isAlive(Number(d))) continue;
    let cwd = '';
    try {
      cwd = fs.readlinkSync(`/proc/${d}/cwd`); // the task's directory (<dataDir>/tasks/<taskId>), when the spec sets no Dir
    } catch {
      /* gone meanwhile */
    }
    out.push({ pid: Number(d), hostname: env.find((e) => e.startsWith('HOSTNAME='))?.slice(9) ?? '', gen: envGenOf(env), cwd });
  }
  return out;
}

export type FaultKind = 'kill-manager' | 'kill-worker' | 'stop-manager' | 'stop-worker' | 'isolate-manager' | 'isolate-worker' | 'cut-link';

/** Faults that take a daemon down (kill -9, or a clean SIGTERM stop) until they are healed by a restart. */
export const isDown = (k: FaultKind): boolean => k.startsWith('kill-') || k.startsWith('stop-');

/** One fault in progress: what it did and when (ms since the chaos began) it is healed. */
export interface ActiveFault {
  kind: FaultKind;
  /** Node indices concerned (one, or two for a link). */
  nodes: number[];
  until: number;
}

/**
 * Decides the next fault from a seeded generator. Managers that are killed, isolated or at one end
 * of a cut link between two managers count against a budget of one: with three managers, two stay
 * connected and up, so writes can commit. Workers have no budget (a node already affected is not
 * picked twice).
 */
export function planFault(
  rnd: () => number,
  managers: number[],
  workers: number[],
  active: ActiveFault[],
  now: number,
): ActiveFault | undefined {
  const busy = new Set(active.flatMap((f) => f.nodes));
  const managerBudget = active.some((f) => f.nodes.some((n) => managers.includes(n)) && (f.kind !== 'cut-link' || f.nodes.every((n) => managers.includes(n)))) ? 0 : 1;
  const freeM = managers.filter((n) => !busy.has(n));
  const freeW = workers.filter((n) => !busy.has(n));
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  // A link between a worker and a manager leaves quorum alone; one between two managers spends the budget.
  const links: [number, number][] = freeW.flatMap((w) => freeM.map((m): [number, number] => [w, m]));
  if (managerBudget > 0) for (const a of freeM) for (const b of freeM) if (a < b) links.push([a, b]);
  const kinds: FaultKind[] = [];
  if (managerBudget > 0 && freeM.length > 0) kinds.push('kill-manager', 'kill-manager', 'stop-manager', 'isolate-manager');
  if (freeW.length > 0) kinds.push('kill-worker', 'kill-worker', 'stop-worker', 'isolate-worker');
  if (links.length > 0) kinds.push('cut-link');
  if (kinds.length === 0) return undefined;
  const kind = pick(kinds);
  // From a flap (the node is back before its peers notice) to longer than a heartbeat TTL and an election.
  const until = now + 500 + Math.floor(rnd() * 9500);
  if (kind === 'cut-link') return { kind, nodes: pick(links), until };
  return { kind, nodes: [pick(kind.endsWith('manager') ? freeM : freeW)], until };
}
