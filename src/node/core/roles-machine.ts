// The role a node plays in its swarm, as one state machine: which role runs, how a node moves between
// them (swarm init / join / leave / unlock, promotion, demotion) and what it remembers on disk.
//
//            init / join                        promotion
//   inactive ────────────▶ joining ──▶ worker ────────────▶ joining ──▶ manager
//      ▲  ▲                   │          ▲                               │  ▲
//      │  └── (failure) ──────┘          └──────── demoting ◀── (Raft let │  │ restart, unlock,
//      │                                                  us go) ────────┘  │ --force-new-cluster
//      └──────────────── leaving ◀── swarm leave (worker, manager, locked)  starting
//   resume with a sealed key: locked ── unlock ──▶ starting ──▶ manager
//
// Pure: events in, the next machine state plus effects out. The driver (node/membership.ts) performs
// the effects in order and feeds back `done` (the last effect's value) or `failed`; it writes
// swarm.json at one point, when a transition says `persist`. No timers, no sockets, no files here.
import { conflict, permissionDenied, unavailable, NOT_A_MANAGER_WORKER_MESSAGE, type ShoalError } from '../../lib/errors';

/** What a node remembers about its swarm membership across restarts (swarm.json). */
export interface SwarmState {
  nodeId: string;
  clusterId: string;
  role: 'manager' | 'worker';
  advertiseAddr: string;
  listenAddr: string;
  /** Workers: the managers to connect to (refreshed from every dispatcher session). */
  managers?: { nodeId: string; addr: string }[];
}

export const ALREADY_IN_SWARM = 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';
/** Docker's answer to `swarm leave` (and `swarm inspect`) off any swarm (moby's errNoSwarm, 503). */
export const NOT_IN_SWARM = 'This node is not part of a swarm';
/** moby's errSwarmLocked (503): every swarm call on a locked manager. */
export const SWARM_LOCKED = 'Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.';
/** moby's refusal of `swarm leave` without --force on a locked manager. */
export const LEAVE_LOCKED = 'Swarm is encrypted and locked. Please unlock it first or use `--force` to ignore this message.';
/** moby's invalidUnlockKey (401 Unauthorized). */
export const INVALID_UNLOCK_KEY = 'swarm could not be unlocked: invalid key provided';
/** moby's notLockedError (409). */
export const NOT_LOCKED = 'swarm is not locked';

/** moby's invalidUnlockKey error: PermissionDenied shown as 401. */
export function invalidUnlockKey(): ShoalError {
  return Object.assign(permissionDenied(INVALID_UNLOCK_KEY), { httpStatus: 401 });
}

/** How the managers stand as `docker swarm leave` on one of them sees it (moby's managerStats). */
export interface ManagerStats {
  /** This manager is among the reachable ones. */
  current: boolean;
  reachable: number;
  unreachable: number;
}

/** Counts the managers by MANAGER STATUS (the nodes as the leader lists them). */
export function managerStats(nodes: { ID: string; ManagerStatus?: { Reachability?: string } }[], self: string): ManagerStats {
  const stats: ManagerStats = { current: false, reachable: 0, unreachable: 0 };
  for (const n of nodes) {
    if (n.ManagerStatus?.Reachability === 'reachable') {
      stats.reachable++;
      if (n.ID === self) stats.current = true;
    } else if (n.ManagerStatus?.Reachability === 'unreachable') stats.unreachable++;
  }
  return stats;
}

/**
 * moby's refusal of `docker swarm leave` without `--force` on a manager (daemon/cluster Leave): the
 * last-manager and quorum-loss warnings, or the general one when the managers cannot be counted.
 */
export function leaveManagerRefusal(stats: ManagerStats | undefined): string {
  let msg = 'You are attempting to leave the swarm on a node that is participating as a manager. ';
  if (stats?.current && stats.reachable - 2 <= stats.unreachable) {
    if (stats.reachable === 1 && stats.unreachable === 0) {
      return msg + 'Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. ';
    }
    msg += `Removing this node leaves ${stats.reachable - 1} managers out of ${stats.reachable + stats.unreachable}. Without a Raft quorum your swarm will be inaccessible. `;
  }
  return msg + 'The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.';
}

/** Stable phases take commands; the others are a flow under way (the driver serializes flows). */
export type RolePhase = 'inactive' | 'locked' | 'worker' | 'manager' | 'starting' | 'joining' | 'demoting' | 'leaving';

/** What `swarm init` prepared: the state to remember, and the driver's material (root CA, first objects) the machine only carries. */
export interface InitPlan {
  state: SwarmState;
  material: unknown;
}

/** How a manager's Raft member comes up (the driver maps it to the manager's open mode). */
export type RaftStart =
  | { kind: 'restart' }
  | { kind: 'init'; plan: InitPlan }
  | { kind: 'join'; remote: string }
  | { kind: 'force-new-cluster'; appliedIndex: number };

/** What the driver does for the machine. The value of the last one of a batch comes back as `done`. */
export type RoleEffect =
  /** Validate `swarm init`, make the root CA and the first objects → InitPlan. */
  | { do: 'prepareInit'; req: unknown }
  /** Write the node key and certificate (sealed first under the plan's unlock key, if any). */
  | { do: 'installCredentials'; plan: InitPlan }
  /** Validate `swarm join`, trade a CSR and the token for a certificate, write it → { state, remote }. */
  | { do: 'enroll'; req: unknown }
  /** Open the sealed node key with `swarm unlock`'s key (fails with invalidUnlockKey). */
  | { do: 'openKey'; key: string }
  /** Start the roles `swarm` names; `lockedMeansBadKey`: a DEK still sealed means the key was not this node's. */
  | { do: 'startRoles'; swarm: SwarmState; raft?: RaftStart; lockedMeansBadKey?: true }
  | { do: 'stopRoles' }
  /** Bounded wait for the agent's first session (init and join answer once the node is ready). */
  | { do: 'firstSession' }
  /** The nodes as the leader lists them → ManagerStats, or undefined (no manager, no leader). */
  | { do: 'managerStats' }
  /** The running manager's applied index → number. */
  | { do: 'appliedIndex' }
  /** This node's tasks, from its manager's store or its agent → opaque list. */
  | { do: 'tasksHere' }
  /** Best effort: the dispatcher holding our session marks the node down now. */
  | { do: 'leaveDispatcher' }
  | { do: 'removeTasks'; tasks: unknown }
  | { do: 'removeOverlays' }
  /** The managers this manager's store knows, without this node → ManagerRef list. */
  | { do: 'otherManagers' }
  /** The managers a worker can reach now (its sessions' list, else swarm.json's) → addresses. */
  | { do: 'knownRemotes' }
  /** Drop the manager's data (durable log, Raft settings). */
  | { do: 'clearManagerData' }
  /** The node key back to plain: workers are never locked. */
  | { do: 'plainKey' }
  | { do: 'log'; level: 'info' | 'warn'; msg: string; fields: Record<string, unknown> };

export type RoleEvent =
  /** Daemon start: what swarm.json holds, and whether the node key is sealed with no key given. */
  | { on: 'resume'; saved: SwarmState | undefined; sealed: boolean }
  | { on: 'init'; forceNewCluster: boolean; req: unknown }
  | { on: 'join'; req: unknown }
  | { on: 'leave'; force: boolean }
  | { on: 'unlock'; key: string }
  /** Raft let this manager go (demotion). */
  | { on: 'removedFromRaft' }
  /** This node's certificate changed; it now says this role. */
  | { on: 'certificate'; role: 'worker' | 'manager' }
  /** A worker's session named the managers it knows. */
  | { on: 'managersSeen'; managers: { nodeId: string; addr: string }[] }
  /** The effects ran; `value` is the last one's. */
  | { on: 'done'; value?: unknown }
  | { on: 'failed'; error: unknown };

/** The step of the flow under way, with what it carries to the next step. */
export type Flow =
  | { step: 'resume' }
  | { step: 'unlock-key' }
  | { step: 'unlock-start' }
  | { step: 'unlock-undo'; error: unknown }
  | { step: 'force-new-index'; from: RolePhase }
  | { step: 'force-new-start'; from: RolePhase }
  | { step: 'init-prepare' }
  | { step: 'init-credentials'; plan: InitPlan }
  | { step: 'init-start'; plan: InitPlan }
  | { step: 'init-undo'; error: unknown }
  | { step: 'join-enroll' }
  | { step: 'join-worker-start' }
  | { step: 'join-raft' }
  | { step: 'join-undo'; error: unknown }
  | { step: 'leave-stats'; from: RolePhase }
  | { step: 'leave-tasks'; from: RolePhase }
  | { step: 'leave-run'; from: RolePhase }
  | { step: 'demote-managers' }
  | { step: 'demote-stop'; managers: { nodeId: string; addr: string }[] }
  | { step: 'demote-start' }
  | { step: 'promote-remotes' }
  | { step: 'promote-stop'; remotes: string[] }
  | { step: 'promote-raft'; worker: SwarmState; remotes: string[]; at: number }
  | { step: 'promote-undo'; worker: SwarmState; remotes: string[]; at: number; error: unknown }
  | { step: 'promote-fallback' };

export interface RoleMachine {
  phase: RolePhase;
  /** This node's place in its swarm as the node sees it now; undefined while it is in none. */
  swarm?: SwarmState;
  /** The flow under way (transitional phases only). */
  flow?: Flow;
}

export interface RoleTransition {
  machine: RoleMachine;
  /** swarm.json after this transition: `write` the machine's swarm, or `erase` everything the swarm left (leave, failed init/join). */
  persist?: 'write' | 'erase';
  /** Performed in order by the driver. */
  effects: RoleEffect[];
  /** The flow ends once the effects ran: its caller gets this. */
  settle?: { ok: unknown } | { error: unknown };
}

export function initialRoleMachine(): RoleMachine {
  return { phase: 'inactive' };
}

/** The stable phase a node with this state runs in once its roles are up. */
const running = (s: SwarmState | undefined): RolePhase => s?.role ?? 'inactive';

/** A manager's state from a worker's: only workers keep a manager list (a manager learns the others from its store). */
export function asManager(s: SwarmState): SwarmState {
  const { managers: _workerOnly, ...rest } = s;
  return { ...rest, role: 'manager' };
}

const ok = (machine: RoleMachine, value?: unknown, effects: RoleEffect[] = []): RoleTransition => ({ machine, effects, settle: { ok: value } });
const fail = (machine: RoleMachine, error: unknown, effects: RoleEffect[] = []): RoleTransition => ({ machine, effects, settle: { error } });
const next = (machine: RoleMachine, effects: RoleEffect[], persist?: 'write' | 'erase'): RoleTransition => ({ machine, effects, ...(persist ? { persist } : {}) });
const stable = (m: RoleMachine, phase: RolePhase = m.phase): RoleMachine => ({ phase, ...(m.swarm ? { swarm: m.swarm } : {}) });

/** The machine's step: one event in, the next state and what to do out. */
export function transition(m: RoleMachine, e: RoleEvent): RoleTransition {
  if (m.flow) {
    if (e.on !== 'done' && e.on !== 'failed') return fail(m, new Error(`role machine: ${e.on} during ${m.flow.step}`));
    return continueFlow(m, m.flow, e);
  }
  return command(m, e);
}

/** A command in a stable phase. */
function command(m: RoleMachine, e: RoleEvent): RoleTransition {
  const st = m.swarm;
  switch (e.on) {
    case 'resume':
      if (!e.saved) return ok({ phase: 'inactive' });
      // As in Docker, a sealed node key holds the whole node until `swarm unlock`.
      if (e.sealed) return ok({ phase: 'locked', swarm: e.saved }, undefined, [{ do: 'log', level: 'info', msg: 'swarm is locked: waiting for docker swarm unlock', fields: {} }]);
      return next({ phase: 'starting', swarm: e.saved, flow: { step: 'resume' } }, [{ do: 'startRoles', swarm: e.saved }]);
    case 'unlock':
      if (!st) return fail(m, unavailable(NOT_IN_SWARM));
      if (m.phase !== 'locked') return fail(m, m.phase === 'manager' ? conflict(NOT_LOCKED) : unavailable(NOT_A_MANAGER_WORKER_MESSAGE));
      return next({ phase: 'locked', swarm: st, flow: { step: 'unlock-key' } }, [{ do: 'openKey', key: e.key }]);
    case 'init':
      if (st && e.forceNewCluster && st.role === 'manager') {
        return next({ phase: 'starting', swarm: st, flow: { step: 'force-new-index', from: m.phase } }, [{ do: 'appliedIndex' }]);
      }
      if (st) return fail(m, unavailable(ALREADY_IN_SWARM));
      return next({ phase: 'joining', flow: { step: 'init-prepare' } }, [{ do: 'prepareInit', req: e.req }]);
    case 'join':
      if (st) return fail(m, unavailable(ALREADY_IN_SWARM));
      return next({ phase: 'joining', flow: { step: 'join-enroll' } }, [{ do: 'enroll', req: e.req }]);
    case 'leave':
      if (!st) return fail(m, unavailable(NOT_IN_SWARM));
      if (m.phase === 'locked' && !e.force) return fail(m, unavailable(LEAVE_LOCKED));
      if (st.role === 'manager' && !e.force) return next({ phase: 'leaving', swarm: st, flow: { step: 'leave-stats', from: m.phase } }, [{ do: 'managerStats' }]);
      return next({ phase: 'leaving', swarm: st, flow: { step: 'leave-tasks', from: m.phase } }, [{ do: 'tasksHere' }]);
    case 'removedFromRaft':
      if (m.phase !== 'manager' || st?.role !== 'manager') return ok(m);
      return next({ phase: 'demoting', swarm: st, flow: { step: 'demote-managers' } }, [{ do: 'otherManagers' }]);
    case 'certificate':
      if (m.phase !== 'worker' || st?.role !== 'worker' || e.role !== 'manager') return ok(m);
      return next({ phase: 'joining', swarm: st, flow: { step: 'promote-remotes' } }, [{ do: 'knownRemotes' }]);
    case 'managersSeen':
      if (st?.role !== 'worker' || JSON.stringify(st.managers) === JSON.stringify(e.managers)) return ok(m);
      return { machine: { phase: m.phase, swarm: { ...st, managers: e.managers } }, persist: 'write', effects: [], settle: { ok: undefined } };
    case 'done':
    case 'failed':
      return fail(m, new Error(`role machine: ${e.on} with no flow under way`));
  }
}

/** The next step of the flow under way, on its effects' outcome. */
function continueFlow(m: RoleMachine, f: Flow, e: { on: 'done'; value?: unknown } | { on: 'failed'; error: unknown }): RoleTransition {
  const st = m.swarm;
  const failed = e.on === 'failed' ? e.error : undefined;
  const value = e.on === 'done' ? e.value : undefined;
  const isFailure = e.on === 'failed';
  switch (f.step) {
    case 'resume':
      // A manager that cannot come back up stops the daemon (its caller); the state stays as saved.
      return isFailure ? fail(stable(m, running(st)), failed) : ok(stable(m, running(st)));

    case 'unlock-key':
      if (isFailure) return fail(stable(m, 'locked'), failed);
      return next({ phase: 'starting', swarm: st, flow: { step: 'unlock-start' } }, [{ do: 'startRoles', swarm: st!, lockedMeansBadKey: true }]);
    case 'unlock-start':
      if (isFailure) return next({ phase: 'starting', swarm: st, flow: { step: 'unlock-undo', error: failed } }, [{ do: 'stopRoles' }]);
      return ok(stable(m, running(st)), undefined, [{ do: 'log', level: 'info', msg: 'swarm unlocked', fields: {} }]);
    case 'unlock-undo':
      return fail(stable(m, 'locked'), f.error);

    case 'force-new-index':
      if (isFailure) return fail(stable(m, f.from), failed);
      return next({ ...m, flow: { step: 'force-new-start', from: f.from } }, [
        { do: 'stopRoles' },
        { do: 'startRoles', swarm: st!, raft: { kind: 'force-new-cluster', appliedIndex: typeof value === 'number' ? value : 0 } },
      ]);
    case 'force-new-start':
      return isFailure ? fail(stable(m, f.from), failed) : ok(stable(m, 'manager'), st!.nodeId);

    case 'init-prepare': {
      if (isFailure) return fail({ phase: 'inactive' }, failed);
      const plan = value as InitPlan;
      return next({ phase: 'joining', flow: { step: 'init-credentials', plan } }, [{ do: 'installCredentials', plan }]);
    }
    case 'init-credentials':
      if (isFailure) return fail({ phase: 'inactive' }, failed);
      return next({ phase: 'joining', flow: { step: 'init-start', plan: f.plan } }, [{ do: 'startRoles', swarm: f.plan.state, raft: { kind: 'init', plan: f.plan } }]);
    case 'init-start':
      if (isFailure) return next({ phase: 'joining', flow: { step: 'init-undo', error: failed } }, [{ do: 'stopRoles' }]);
      // Saved only once the roles run: a failed init leaves no swarm behind.
      return { machine: { phase: 'manager', swarm: f.plan.state }, persist: 'write', effects: [{ do: 'firstSession' }], settle: { ok: f.plan.state.nodeId } };
    case 'init-undo':
      return { machine: { phase: 'inactive' }, persist: 'erase', effects: [], settle: { error: f.error } };

    case 'join-enroll': {
      if (isFailure) return fail({ phase: 'inactive' }, failed);
      const { state, remote } = value as { state: SwarmState; remote: string };
      if (state.role === 'manager') {
        // Raft takes the node in through the manager it joined; the state is saved once it has.
        const mgr = asManager(state);
        return next({ phase: 'joining', swarm: mgr, flow: { step: 'join-raft' } }, [{ do: 'startRoles', swarm: mgr, raft: { kind: 'join', remote } }]);
      }
      return next({ phase: 'joining', swarm: state, flow: { step: 'join-worker-start' } }, [{ do: 'startRoles', swarm: state }], 'write');
    }
    case 'join-worker-start':
      // A worker's state is saved before its roles start: a restart retries them.
      return isFailure ? fail(stable(m, 'worker'), failed) : ok(stable(m, 'worker'), undefined, [{ do: 'firstSession' }]);
    case 'join-raft':
      if (isFailure) return next({ phase: 'joining', swarm: st, flow: { step: 'join-undo', error: failed } }, [{ do: 'stopRoles' }]);
      return { machine: { phase: 'manager', swarm: st }, persist: 'write', effects: [], settle: { ok: undefined } };
    case 'join-undo':
      return { machine: { phase: 'inactive' }, persist: 'erase', effects: [], settle: { error: f.error } };

    case 'leave-stats':
      return fail(stable(m, f.from), unavailable(leaveManagerRefusal(isFailure ? undefined : (value as ManagerStats | undefined))));
    case 'leave-tasks':
      if (isFailure) return fail(stable(m, f.from), failed);
      return next({ ...m, flow: { step: 'leave-run', from: f.from } }, [{ do: 'leaveDispatcher' }, { do: 'stopRoles' }, { do: 'removeTasks', tasks: value }, { do: 'removeOverlays' }]);
    case 'leave-run':
      if (isFailure) return fail(stable(m, f.from), failed);
      return { machine: { phase: 'inactive' }, persist: 'erase', effects: [], settle: { ok: undefined } };

    case 'demote-managers': {
      if (isFailure) return fail(stable(m, running(st)), failed);
      const managers = value as { nodeId: string; addr: string }[];
      return next({ ...m, flow: { step: 'demote-stop', managers } }, [
        { do: 'log', level: 'info', msg: 'removed from raft: continuing as a worker', fields: { managers } },
        { do: 'stopRoles' },
        { do: 'clearManagerData' },
        { do: 'plainKey' },
      ]);
    }
    case 'demote-stop': {
      if (isFailure) return fail(stable(m, running(st)), failed);
      const worker: SwarmState = { ...st!, role: 'worker', managers: f.managers };
      return next({ phase: 'demoting', swarm: worker, flow: { step: 'demote-start' } }, [{ do: 'startRoles', swarm: worker }], 'write');
    }
    case 'demote-start':
      return isFailure ? fail(stable(m, 'worker'), failed) : ok(stable(m, 'worker'));

    case 'promote-remotes':
      if (isFailure) return fail(stable(m, 'worker'), failed);
      return next({ ...m, flow: { step: 'promote-stop', remotes: value as string[] } }, [
        { do: 'log', level: 'info', msg: 'promoted: joining raft as a manager', fields: { remotes: value } },
        { do: 'stopRoles' },
      ]);
    case 'promote-stop':
      if (isFailure) return fail(stable(m, 'worker'), failed);
      return promoteThrough(st!, f.remotes, 0, undefined);
    case 'promote-raft':
      if (isFailure) return next({ ...m, flow: { ...f, step: 'promote-undo', error: failed } }, [{ do: 'stopRoles' }]);
      return { machine: { phase: 'manager', swarm: st }, persist: 'write', effects: [], settle: { ok: undefined } };
    case 'promote-undo':
      return promoteThrough(f.worker, f.remotes, f.at + 1, f.error);
    case 'promote-fallback':
      return isFailure ? fail(stable(m, 'worker'), failed) : ok(stable(m, 'worker'));
  }
}

/** Promotion: join Raft through the next known manager; when none is left, run as a worker again. */
function promoteThrough(worker: SwarmState, remotes: string[], at: number, last: unknown): RoleTransition {
  if (at < remotes.length) {
    const mgr = asManager(worker);
    return next({ phase: 'joining', swarm: mgr, flow: { step: 'promote-raft', worker, remotes, at } }, [{ do: 'startRoles', swarm: mgr, raft: { kind: 'join', remote: remotes[at]! } }]);
  }
  return next({ phase: 'joining', swarm: worker, flow: { step: 'promote-fallback' } }, [
    { do: 'log', level: 'warn', msg: 'promotion failed: staying a worker', fields: { err: last } },
    { do: 'startRoles', swarm: worker },
  ]);
}
