import type { Labels, Meta } from './common';

// Swarm secrets and configs as the Engine API shapes them (`swarm.Secret`, `swarm.Config`): what the
// store holds and the dispatcher sends to the nodes whose tasks use them. `Spec.Data` is base64 as on
// the wire; the API never shows a secret's Data (docs/design/secrets.md).

export interface Driver {
  Name: string;
  Options?: Record<string, string>;
}

export interface SecretSpec {
  Name: string;
  Labels?: Labels;
  /** Base64 of the secret's bytes. */
  Data?: string;
  Driver?: Driver;
  /** `{Name: "golang"}`: the data is a template rendered per task on the node. */
  Templating?: Driver;
}

export interface ConfigSpec {
  Name: string;
  Labels?: Labels;
  /** Base64 of the config's bytes. */
  Data?: string;
  Templating?: Driver;
}

export interface Secret extends Meta {
  Spec: SecretSpec;
}

export interface Config extends Meta {
  Spec: ConfigSpec;
}

/** Where a secret or config file lands in the task (`SecretReferenceFileTarget`). */
export interface FileTarget {
  Name: string;
  UID?: string;
  GID?: string;
  /** File mode (decimal on the wire: 292 = 0444). */
  Mode?: number;
}

export interface SecretReference {
  File?: FileTarget;
  SecretID: string;
  SecretName: string;
}

export interface ConfigReference {
  File?: FileTarget;
  /** A config used by the runtime itself (credential specs), not as a file. */
  Runtime?: Record<string, never>;
  ConfigID: string;
  ConfigName: string;
}

/** swarmkit's limits (controlapi MaxSecretSize, MaxConfigSize): data must be shorter than these. */
export const MAX_SECRET_SIZE = 500 * 1024;
export const MAX_CONFIG_SIZE = 1000 * 1024;

/** The one template driver swarmkit knows. */
export const GOLANG_TEMPLATING = 'golang';
