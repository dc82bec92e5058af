// Public surface of the pure Raft core (see docs/design/raft.md).
export * from './types';
export { MemoryStorage } from './storage';
export type { Storage, LogBacking, LogRetention } from './storage';
export { RawNode, newMemoryStorage } from './rawnode';
export type { RawNodeConfig } from './rawnode';
export { Raft } from './raft';
export type { RaftConfig } from './raft';
export { RaftLog } from './log';
export { Progress, Inflights, quorum, committedIndex } from './progress';
