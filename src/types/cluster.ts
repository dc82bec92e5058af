import type { Labels, Meta } from './common';

/** SwarmSpec as the Engine API names it; durations are nanoseconds. */
export interface SwarmSpec {
  Name: string;
  Labels: Labels;
  Orchestration: { TaskHistoryRetentionLimit: number };
  Raft: {
    SnapshotInterval: number;
    KeepOldSnapshots: number;
    LogEntriesForSlowFollowers: number;
    ElectionTick: number;
    HeartbeatTick: number;
  };
  Dispatcher: { HeartbeatPeriod: number };
  CAConfig: { NodeCertExpiry: number; ExternalCAs?: unknown[]; SigningCACert?: string; SigningCAKey?: string; ForceRotate?: number };
  EncryptionConfig: { AutoLockManagers: boolean };
  TaskDefaults: { LogDriver?: { Name: string; Options?: Record<string, string> } };
}

export interface JoinTokens {
  Worker: string;
  Manager: string;
}

/** The cluster object (`/swarm`). Secrets never leave the store except through the join-token API. */
export interface Cluster extends Meta {
  Spec: SwarmSpec;
  JoinTokens: JoinTokens;
  TLSInfo: { TrustRoot: string; CertIssuerSubject: string; CertIssuerPublicKey: string };
  RootRotationInProgress: boolean;
  DefaultAddrPool: string[];
  SubnetSize: number;
  DataPathPort: number;
  /**
   * Internal: the CA's key (PEM) so any manager can sign, and the manager unlock key (base64 of 32
   * bytes; present exactly while autolock is on). Encrypted at rest with the rest of the Raft log.
   */
  internal: { rootCAKey: string; rootCACert: string; unlockKey?: string };
}

export const SECOND_NS = 1_000_000_000;

export function defaultSwarmSpec(): SwarmSpec {
  return {
    Name: 'default',
    Labels: {},
    Orchestration: { TaskHistoryRetentionLimit: 5 },
    Raft: { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 },
    Dispatcher: { HeartbeatPeriod: 5 * SECOND_NS },
    CAConfig: { NodeCertExpiry: 90 * 24 * 3600 * SECOND_NS },
    EncryptionConfig: { AutoLockManagers: false },
    TaskDefaults: {},
  };
}
