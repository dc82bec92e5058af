// Opt-in timeline of Raft commits (issue 16): named marks keyed by log index, taken at each step a
// commit passes (proposed, Ready, sent, received, durable, acknowledged, applied). Off unless a bench
// turns it on (bench/raft.ts --trace), so the hot path pays one boolean test per mark. Marks carry
// wall-clock microseconds (timeOrigin + now) so that marks from the three manager processes of the
// bench line up on one axis.
import type { Message } from '../../raft';

export type CommitMark =
  | 'start'
  | 'ready'
  | 'send-app'
  | 'flush-app'
  | 'recv-app'
  | 'persisted'
  | 'send-ack'
  | 'flush-ack'
  | 'recv-ack'
  | 'commit-ready'
  | 'applied'
  | 'resolved'
  /** The idle save of a commit index no write carried (ready-loop.ts saveCommitNow), at that index. */
  | 'commit-saved';

export interface CommitTrace {
  on: boolean;
  /** [mark, index, µs] in the order taken. */
  marks: [CommitMark, number, number][];
}

export const commitTrace: CommitTrace = { on: false, marks: [] };

export function markCommit(mark: CommitMark, index: number): void {
  if (commitTrace.on) commitTrace.marks.push([mark, index, (performance.timeOrigin + performance.now()) * 1000]);
}

/** Marks `<step>-app` for each append carrying entries (at its last index) and `<step>-ack` for each accepted append response. */
export function markCommitMessages(step: 'send' | 'flush' | 'recv', messages: readonly Message[]): void {
  for (const m of messages) {
    if (m.type === 'app' && m.entries && m.entries.length > 0) markCommit(`${step}-app`, m.entries[m.entries.length - 1]!.index);
    else if (m.type === 'appResp' && !m.reject && m.index !== undefined) markCommit(`${step}-ack`, m.index);
  }
}
