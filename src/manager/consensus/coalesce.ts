// Fewer, larger messages per batch on the wire (the transport applies it to each peer's queue). The
// core emits one append per proposal and per commit advance, and a follower one acknowledgement per
// append; that is thousands of tiny messages per batch under load, and with one write at a time a
// commit advance followed by the next proposal's entries. Per destination, in order, this merges
//  - an append that continues the previous append to the same peer (same term, its prevIndex/prevTerm
//    is that append's last entry) into it, keeping the larger commit index: the follower does the same
//    work and answers once, for the last index (the leader's acknowledgements are cumulative);
//  - successive successful appendResps of one term into the last one (acknowledgements are cumulative).
// Everything else is left as it is and in its place.
import type { Message } from '../../raft';

export function coalesceMessages(msgs: Message[], maxEntries = 4096): Message[] {
  if (msgs.length < 2) return msgs;
  const out: Message[] = [];
  /** Index in `out` of the last message kept for each destination. */
  const last = new Map<number, number>();
  for (const m of msgs) {
    const i = last.get(m.to);
    const prev = i === undefined ? undefined : out[i]!;
    if (prev && prev.term === m.term) {
      if (prev.type === 'app' && m.type === 'app' && continues(prev, m) && (prev.entries?.length ?? 0) + (m.entries?.length ?? 0) <= maxEntries) {
        const entries = m.entries && m.entries.length > 0 ? [...(prev.entries ?? []), ...m.entries] : prev.entries;
        out[i!] = { ...prev, entries, commit: Math.max(prev.commit ?? 0, m.commit ?? 0) };
        continue;
      }
      if (prev.type === 'appResp' && m.type === 'appResp' && !prev.reject && !m.reject && (m.index ?? 0) >= (prev.index ?? 0)) {
        out[i!] = m;
        continue;
      }
    }
    last.set(m.to, out.length);
    out.push(m);
  }
  return out;
}

function continues(prev: Message, m: Message): boolean {
  const ents = prev.entries ?? [];
  const endIndex = (prev.index ?? 0) + ents.length;
  const endTerm = ents.length > 0 ? ents[ents.length - 1]!.term : (prev.logTerm ?? 0);
  return (m.index ?? 0) === endIndex && (m.logTerm ?? 0) === endTerm;
}
