import { conflict, internal } from '../../lib/errors';
import { newId } from '../../lib/ids';
import { isoTime } from '../../lib/time';
import type { ReadTx } from '../../store';
import type { Config, ConfigSpec, Secret, SecretSpec, ServiceSpec } from '../../types';
import type { ControlApiDeps } from './deps';
import type { Filters } from './core/filters';
import { resolveRef } from './core/resolve';
import { checkReferences, checkRemovable, checkUpdate, secretMatches, validateSpec, withoutData, type SecretKind, type SecretLike } from './core/secrets';
import { grpcText } from './core/validate';

/**
 * Secrets and configs through the control API: create, list, get, labels-only update, remove
 * (refused while a service refers to the object). A secret's data never leaves here: list, get and
 * update answer without it. The dispatcher reads the store to deliver data to the nodes.
 */
export class SecretControl {
  constructor(private deps: Pick<ControlApiDeps, 'store' | 'clock' | 'rng'>) {}

  createSecret(spec: SecretSpec): Promise<string> {
    return this.create('secret', spec);
  }
  listSecrets(f: Filters): Secret[] {
    return this.list('secret', f).map(withoutData);
  }
  getSecret(ref: string): Secret {
    return withoutData(this.deps.store.read((tx) => resolveSecretLike(tx, 'secret', ref)));
  }
  updateSecret(ref: string, version: number, spec: SecretSpec): Promise<void> {
    return this.update('secret', ref, version, spec);
  }
  removeSecret(ref: string): Promise<void> {
    return this.remove('secret', ref);
  }

  createConfig(spec: ConfigSpec): Promise<string> {
    return this.create('config', spec);
  }
  listConfigs(f: Filters): Config[] {
    return this.list('config', f);
  }
  getConfig(ref: string): Config {
    return this.deps.store.read((tx) => resolveSecretLike(tx, 'config', ref));
  }
  updateConfig(ref: string, version: number, spec: ConfigSpec): Promise<void> {
    return this.update('config', ref, version, spec);
  }
  removeConfig(ref: string): Promise<void> {
    return this.remove('config', ref);
  }

  private async create(kind: SecretKind, spec: SecretSpec | ConfigSpec): Promise<string> {
    validateSpec(kind, spec);
    const id = newId(this.deps.rng);
    const now = isoTime(this.deps.clock.now());
    const stored: SecretSpec | ConfigSpec = { ...spec, Labels: spec.Labels ?? {} };
    await this.deps.store.update((tx) => {
      if (tx.find(kind, (o) => o.Spec.Name === spec.Name).length) throw conflict(grpcText('AlreadyExists', `${kind} ${spec.Name} already exists`));
      tx.create(kind, { ID: id, Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now, Spec: stored });
    });
    return id;
  }

  private list(kind: SecretKind, f: Filters): SecretLike[] {
    return this.deps.store.read((tx) => (tx.find(kind) as SecretLike[]).filter((o) => secretMatches(o, f)));
  }

  private async update(kind: SecretKind, ref: string, version: number, spec: SecretSpec | ConfigSpec): Promise<void> {
    await this.deps.store.update((tx) => {
      const o = structuredClone(resolveSecretLike(tx, kind, ref));
      if (o.Version.Index !== version) throw internal(grpcText('Unknown', 'update out of sequence'));
      o.Spec = { ...o.Spec, Labels: checkUpdate(o.Spec, spec) };
      o.UpdatedAt = isoTime(this.deps.clock.now());
      tx.update(kind, o as never);
    });
  }

  private async remove(kind: SecretKind, ref: string): Promise<void> {
    await this.deps.store.update((tx) => {
      const o = resolveSecretLike(tx, kind, ref);
      checkRemovable(kind, o, tx.find('service'));
      tx.delete(kind, o.ID);
    });
  }
}

/** dockerd's look-up: full ID, then exact name, then unique ID prefix; "secret x not found" (404). */
export function resolveSecretLike(tx: ReadTx, kind: SecretKind, ref: string): SecretLike {
  return resolveRef(tx.find(kind) as SecretLike[], ref, (o) => o.Spec.Name, kind);
}

/** The control API's check of a service spec's secret and config references (inside its transaction). */
export function checkServiceReferences(tx: ReadTx, spec: ServiceSpec): void {
  checkReferences(spec, { secret: (id) => tx.get('secret', id), config: (id) => tx.get('config', id) });
}
