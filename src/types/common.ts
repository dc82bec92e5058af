// Shapes shared by every cluster object, as the Engine API shows them.

export type Labels = Record<string, string>;

export interface ObjectVersion {
  Index: number;
}

/** ID, version and timestamps: every stored object has these. */
export interface Meta {
  ID: string;
  Version: ObjectVersion;
  CreatedAt: string;
  UpdatedAt: string;
}

export interface Platform {
  Architecture?: string;
  OS?: string;
}

export interface ResourceObject {
  NanoCPUs?: number;
  MemoryBytes?: number;
  GenericResources?: unknown[];
}
