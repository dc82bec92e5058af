// Options and ports of the consensus driver.
import { randomBytes } from 'node:crypto';
import type { Clock, Rng } from '../../lib/ports';
import type { MemoryStore } from '../../store';
import type { RaftTransport } from './transport-types';
import type { RaftKeys } from './dek';

export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ConsensusLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface RaftConsensusOptions {
  /** Directory for the log (wal/) and snapshots/ (e.g. <data-dir>/manager/raft). */
  dir: string;
  /** Required for bootstrap/join; on restart it is read from disk (and checked if given). */
  raftId?: number;
  store: MemoryStore;
  transport: RaftTransport;
  clock?: Clock;
  timers?: Timers;
  rng?: Rng;
  /** Milliseconds per Raft tick (Docker: 1 s). */
  tickMs?: number;
  /** Ticks without a leader before an election (Docker: 10). */
  electionTick?: number;
  heartbeatTick?: number;
  /** Applied entries between snapshots (Docker: 10000). */
  snapshotInterval?: number;
  /** Entries kept behind a snapshot for slow followers (Docker: 500). */
  keepEntries?: number;
  /** Snapshot files kept besides the latest (Docker's KeepOldSnapshots: 0). */
  keepOldSnapshots?: number;
  maxEntriesPerMsg?: number;
  /**
   * The manager's DEK, sealing the log and snapshots at rest (dek.ts; a manager keeps it beside its TLS
   * key). Default: a DEK file beside the log. `null`: plain text, only the benchmark's baseline.
   */
  keys?: RaftKeys | null;
  /**
   * false: the log is written without fdatasync. Only for the benchmark, which shows beside the real figures what
   * the disk costs (bench/raft.ts --no-fsync); a crash may then lose acknowledged entries.
   */
  fsync?: boolean;
  logger?: ConsensusLogger;
  /**
   * Told when the member stopped itself because its log could not be written (disk full, I/O error):
   * the daemon stops cleanly rather than serve as a manager whose Raft is gone.
   */
  onFatal?: (err: Error) => void;
  /** Told how long proposals and snapshots took (the daemon's metrics); absent: nothing is timed. */
  observer?: ConsensusObserver;
}

/** Latencies the driver reports as they happen (swarm_raft_transaction/snapshot_latency_seconds). */
export interface ConsensusObserver {
  /** A proposal of this member's was committed and applied here, `seconds` after it was proposed. */
  proposalApplied(seconds: number): void;
  /** A snapshot was written and the log compacted, `seconds` after it was started. */
  snapshotWritten(seconds: number): void;
}

export const silentLogger: ConsensusLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
export const defaultRng: Rng = { next: () => Math.random(), bytes: (n) => new Uint8Array(randomBytes(n)) };
export const defaultTimers: Timers = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};
