import { invalidArgument } from '../../../lib/errors';
import type { Config, ConfigSpec, Labels, Secret, SecretSpec, Service, ServiceSpec } from '../../../types';
import { MAX_CONFIG_SIZE, MAX_SECRET_SIZE, referencedIds } from '../../../types';
import { labelMatches, type Filters } from './filters';
import { grpcText } from './validate';

// swarmkit's controlapi rules for secrets and configs, with its texts: names, sizes, the labels-only
// update, the references a service spec makes, and who still uses an object being removed.

export type SecretKind = 'secret' | 'config';
export type SecretLike = Secret | Config;

const invalid = (desc: string) => invalidArgument(grpcText('InvalidArgument', desc));

// swarmkit's isValidConfigOrSecretName: wider than service names ('.' allowed, 64 long).
const NAME_RE = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/;

export function validateSecretName(name: unknown): void {
  if (!name) throw invalid('name must be provided');
  if (typeof name !== 'string' || name.length > 64 || !NAME_RE.test(name)) {
    throw invalid('invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]');
  }
}

/** The data's byte length; base64 as on the wire (dockerd's JSON decoder refuses anything else for []byte). */
export function dataLength(data: string | undefined): number {
  if (!data) return 0;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 === 1) throw invalidArgument('illegal base64 data at input byte 0');
  const pad = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.floor((data.length * 3) / 4) - pad;
}

/** swarmkit's validateSecretSpec / validateConfigSpec. */
export function validateSpec(kind: SecretKind, spec: SecretSpec | ConfigSpec): void {
  validateSecretName(spec.Name);
  if (kind === 'secret' && (spec as SecretSpec).Driver) {
    // the data then comes from the driver at delivery time
    if (!(spec as SecretSpec).Driver!.Name) throw invalid('secret driver must have a name');
    return;
  }
  const max = kind === 'secret' ? MAX_SECRET_SIZE : MAX_CONFIG_SIZE;
  const n = dataLength(spec.Data);
  if (n >= max || n < 1) throw invalid(`${kind} data must be larger than 0 and less than ${max} bytes`);
}

/**
 * The labels-only update: the name and (when given) the data must stay as they are, the driver too.
 * Returns the labels to store.
 */
export function checkUpdate(current: SecretSpec | ConfigSpec, next: SecretSpec | ConfigSpec): Labels {
  const dataChanged = next.Data !== undefined && next.Data !== '' && next.Data !== current.Data;
  if (next.Name !== current.Name || dataChanged) throw invalid('only updates to Labels are allowed');
  return next.Labels ?? {};
}



/** moby+swarmkit: `names` exact, `name` prefix, `id` prefix (any of them), then every `label`. */
export function secretMatches(o: SecretLike, f: Filters): boolean {
  const byName = f.names ?? [];
  const byPrefix = f.name ?? [];
  const byId = f.id ?? [];
  if (byName.length + byPrefix.length + byId.length > 0) {
    const hit = byName.includes(o.Spec.Name) || byPrefix.some((p) => o.Spec.Name.startsWith(p)) || byId.some((p) => o.ID.startsWith(p));
    if (!hit) return false;
  }
  return (f.label ?? []).every((l) => labelMatches(o.Spec.Labels, l));
}

/** What a secret looks like outside the manager's store: everything but its data. */
export function withoutData<T extends SecretLike>(o: T): T {
  const { Data: _data, ...spec } = o.Spec;
  return { ...o, Spec: spec };
}

/**
 * swarmkit's checkSecretExistence / checkConfigExistence: every reference names an existing object
 * by ID, and its name matches. `lookup` finds a stored object by ID.
 */
export function checkReferences(spec: ServiceSpec, lookup: { secret: (id: string) => SecretLike | undefined; config: (id: string) => SecretLike | undefined }): void {
  const c = spec.TaskTemplate?.ContainerSpec;
  if (!c) return;
  validateRefs('secret', (c.Secrets ?? []).map((r) => ({ id: r.SecretID, name: r.SecretName, file: r.File, runtime: false })));
  validateRefs('config', (c.Configs ?? []).map((r) => ({ id: r.ConfigID, name: r.ConfigName, file: r.File, runtime: !!r.Runtime })));
  const failed = (refs: { id: string; name: string }[], get: (id: string) => SecretLike | undefined) =>
    refs.filter((r) => {
      const o = get(r.id);
      return !o || o.Spec.Name !== r.name;
    }).map((r) => r.name);
  const secrets = failed((c.Secrets ?? []).map((r) => ({ id: r.SecretID, name: r.SecretName })), lookup.secret);
  if (secrets.length) throw invalid(`${secrets.length === 1 ? 'secret' : 'secrets'} not found: ${secrets.join(', ')}`);
  const configs = failed((c.Configs ?? []).map((r) => ({ id: r.ConfigID, name: r.ConfigName })), lookup.config);
  if (configs.length) throw invalid(`${configs.length === 1 ? 'config' : 'configs'} not found: ${configs.join(', ')}`);
}

/** swarmkit's validateSecretRefsSpec / validateConfigRefsSpec: well-formed references, one per file target. */
function validateRefs(kind: SecretKind, refs: { id: string; name: string; file?: { Name?: string }; runtime: boolean }[]): void {
  const targets = new Map<string, string>();
  for (const r of refs) {
    if (!r.id || !r.name) throw invalid(`malformed ${kind} reference`);
    if (!r.file && !r.runtime) throw invalid(`malformed ${kind} reference, no target provided`);
    if (!r.file) continue;
    const target = r.file.Name ?? '';
    if (!target) throw invalid(`malformed file ${kind} reference, invalid target file name provided`);
    const prev = targets.get(target);
    if (prev !== undefined) throw invalid(`${kind} references '${prev}' and '${r.name}' have a conflicting target: '${target}'`);
    targets.set(target, r.name);
  }
}

/** swarmkit's RemoveSecret/RemoveConfig refusal while a service's spec refers to the object. */
export function checkRemovable(kind: SecretKind, o: SecretLike, services: Service[]): void {
  const users = services.filter((s) => referencedIds(s.Spec.TaskTemplate)[kind === 'secret' ? 'secrets' : 'configs'].includes(o.ID)).map((s) => s.Spec.Name);
  if (users.length) {
    throw invalid(`${kind} '${o.Spec.Name}' is in use by the following ${users.length === 1 ? 'service' : 'services'}: ${users.join(', ')}`);
  }
}
