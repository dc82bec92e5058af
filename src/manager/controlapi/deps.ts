// What the control API is built from: its own file, so the parts of the control API (controlapi.ts,
// networks.ts, secrets.ts) depend on it and not on each other.
import type { Clock, Rng } from '../../lib/ports';
import type { MemoryStore } from '../../store';

export interface ControlApiDeps {
  store: MemoryStore;
  clock: Clock;
  rng: Rng;
  /** Makes a fresh join token for a role (the CA knows the root digest). */
  newJoinToken: (role: 'worker' | 'manager') => string;
  /** How many managers are Raft members (the "last manager" check counts these, as swarmkit does). */
  raftMembers?: () => number;
  /** Whether the managers left after this one leaves Raft still make a quorum (swarmkit's CanRemoveMember). */
  canRemoveManager?: (nodeId: string) => boolean;
}
