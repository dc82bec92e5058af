import type { Labels, Meta, Platform, ResourceObject } from './common';

export type NodeRole = 'worker' | 'manager';
export type NodeAvailability = 'active' | 'pause' | 'drain';
export type NodeState = 'unknown' | 'down' | 'ready' | 'disconnected';
export type Reachability = 'unknown' | 'unreachable' | 'reachable';

export interface NodeSpec {
  Name?: string;
  Labels?: Labels;
  Role: NodeRole;
  Availability: NodeAvailability;
}

export interface TLSInfo {
  TrustRoot?: string;
  CertIssuerSubject?: string;
  CertIssuerPublicKey?: string;
}

export interface NodeDescription {
  Hostname: string;
  Platform: Platform;
  Resources: ResourceObject;
  Engine: { EngineVersion: string; Labels?: Labels; Plugins?: { Type: string; Name: string }[] };
  TLSInfo?: TLSInfo;
}

export interface NodeStatus {
  State: NodeState;
  Message?: string;
  Addr: string;
}

export interface ManagerStatus {
  Leader?: boolean;
  Reachability: Reachability;
  Addr: string;
}

export interface Node extends Meta {
  Spec: NodeSpec;
  Description: NodeDescription;
  Status: NodeStatus;
  ManagerStatus?: ManagerStatus;
  /** Internal, never shown by the API: the node's Raft member ID when it is a manager. */
  internal?: { raftId?: number };
}
