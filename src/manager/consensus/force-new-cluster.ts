// swarm init --force-new-cluster on the saved state: drop the uncommitted tail, then append and
// commit one removeNode per other voter at the saved term. Restarting from the result leaves this
// member the only voter with every committed entry; its campaign then opens a new term.
import { decodeConfChange, encodeConfChange, type Entry } from '../../raft';
import { failedPrecondition } from '../../lib/errors';
import type { DiskState } from './storage';

export interface ForcedState {
  state: DiskState;
  /** Entries to append after `truncateFrom - 1`. */
  appended: Entry[];
  truncateFrom: number;
}

export function forceNewClusterState(st: DiskState): ForcedState {
  const commit = st.hardState.commit;
  const kept = st.entries.filter((e) => e.index <= commit);
  const voters = new Set(st.snapshot?.metadata.confState.voters ?? []);
  for (const e of kept) {
    if (e.type !== 'conf') continue;
    const cc = decodeConfChange(e.data);
    if (cc.type === 'addNode') voters.add(cc.nodeId);
    else voters.delete(cc.nodeId);
  }
  if (!voters.has(st.raftId)) throw failedPrecondition(`raft: member ${st.raftId} is not a voter in its own committed state`);
  const term = st.hardState.term;
  const appended: Entry[] = [...voters]
    .filter((id) => id !== st.raftId)
    .sort((a, b) => a - b)
    .map((nodeId, i) => ({ term, index: commit + 1 + i, type: 'conf', data: encodeConfChange({ type: 'removeNode', nodeId }) }));
  const newCommit = commit + appended.length;
  return {
    state: { ...st, entries: [...kept, ...appended], hardState: { term, vote: st.hardState.vote, commit: newCommit } },
    appended,
    truncateFrom: commit + 1,
  };
}
