import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Secret, Service, ServiceSpec } from '../../../types';
import { MAX_CONFIG_SIZE, MAX_SECRET_SIZE } from '../../../types';
import { checkReferences, checkRemovable, checkUpdate, dataLength, secretMatches, validateSecretName, validateSpec, withoutData } from './secrets';

const b64 = (n: number) => Buffer.alloc(n, 'a').toString('base64');
const secret = (id: string, name: string, labels: Record<string, string> = {}): Secret => ({ ID: id, Version: { Index: 1 }, CreatedAt: 't', UpdatedAt: 't', Spec: { Name: name, Labels: labels, Data: b64(3) } });

test('secret and config names as swarmkit checks them', () => {
  for (const ok of ['a', 'my_secret', 'db.password', 'A-1.b_2', 'x'.repeat(64)]) assert.doesNotThrow(() => validateSecretName(ok), ok);
  assert.throws(() => validateSecretName(''), /^Error: rpc error: code = InvalidArgument desc = name must be provided$|name must be provided/);
  for (const bad of ['-a', 'a-', '.a', 'a b', 'a/b', 'x'.repeat(65), 'é']) {
    assert.throws(() => validateSecretName(bad), /invalid name, only 64 \[a-zA-Z0-9-_.\] characters allowed, and the start and end character must be \[a-zA-Z0-9\]/, bad);
  }
});

test('size limits: secret < 500 KiB, config < 1000 KiB, never empty', () => {
  assert.equal(dataLength(b64(MAX_SECRET_SIZE - 1)), MAX_SECRET_SIZE - 1);
  assert.equal(dataLength(b64(1)), 1);
  assert.doesNotThrow(() => validateSpec('secret', { Name: 's', Data: b64(MAX_SECRET_SIZE - 1) }));
  assert.throws(() => validateSpec('secret', { Name: 's', Data: b64(MAX_SECRET_SIZE) }), /desc = secret data must be larger than 0 and less than 512000 bytes$/);
  assert.throws(() => validateSpec('secret', { Name: 's' }), /secret data must be larger than 0 and less than 512000 bytes/);
  assert.doesNotThrow(() => validateSpec('config', { Name: 'c', Data: b64(MAX_SECRET_SIZE + 10) }));
  assert.throws(() => validateSpec('config', { Name: 'c', Data: b64(MAX_CONFIG_SIZE) }), /desc = config data must be larger than 0 and less than 1024000 bytes$/);
  assert.doesNotThrow(() => validateSpec('secret', { Name: 's', Driver: { Name: 'vault' } }), 'a driver secret has no data here');
  assert.throws(() => validateSpec('secret', { Name: 's', Driver: { Name: '' } }), /secret driver must have a name/);
  assert.throws(() => dataLength('not base64!'), /illegal base64/);
});

test('update: labels only', () => {
  const cur = { Name: 's', Labels: { a: '1' }, Data: b64(3) };
  assert.deepEqual(checkUpdate(cur, { Name: 's', Labels: { b: '2' } }), { b: '2' });
  assert.deepEqual(checkUpdate(cur, { Name: 's', Data: b64(3) }), {}, 'same data may be sent back');
  assert.throws(() => checkUpdate(cur, { Name: 's', Data: b64(4) }), /desc = only updates to Labels are allowed$/);
  assert.throws(() => checkUpdate(cur, { Name: 't' }), /only updates to Labels are allowed/);
});

test('list filters: names exact, name prefix, id prefix (any), labels (all)', () => {
  const s = secret('abc123', 'db_password', { env: 'prod', team: '' });
  assert.equal(secretMatches(s, {}), true);
  assert.equal(secretMatches(s, { names: ['db_password'] }), true);
  assert.equal(secretMatches(s, { names: ['db'] }), false);
  assert.equal(secretMatches(s, { name: ['db'] }), true);
  assert.equal(secretMatches(s, { id: ['abc'] }), true);
  assert.equal(secretMatches(s, { id: ['zzz'], name: ['db'] }), true, 'any of the name/id filters');
  assert.equal(secretMatches(s, { label: ['env=prod', 'team'] }), true);
  assert.equal(secretMatches(s, { label: ['env=dev'] }), false);
  assert.equal(withoutData(s).Spec.Data, undefined);
  assert.equal(s.Spec.Data, b64(3), 'the stored object is untouched');
});

const svc = (name: string, spec: Partial<ServiceSpec['TaskTemplate']['ContainerSpec']>): Service => ({
  ID: `id-${name}`,
  Version: { Index: 1 },
  CreatedAt: 't',
  UpdatedAt: 't',
  Spec: { Name: name, Mode: { Replicated: { Replicas: 1 } }, TaskTemplate: { ContainerSpec: { Image: 'busybox', ...spec } } },
  Endpoint: { Spec: { Mode: 'vip' } },
  internal: { specVersion: 1 },
});

test('service references: missing or renamed objects refused with swarmkit text', () => {
  const store = new Map([['s1', secret('s1', 'one')]]);
  const lookup = { secret: (id: string) => store.get(id), config: () => undefined };
  const ref = (id: string, name: string) => ({ SecretID: id, SecretName: name, File: { Name: name } });
  assert.doesNotThrow(() => checkReferences(svc('a', { Secrets: [ref('s1', 'one')] }).Spec, lookup));
  assert.throws(() => checkReferences(svc('a', { Secrets: [ref('nope', 'nope')] }).Spec, lookup), /desc = secret not found: nope$/);
  assert.throws(() => checkReferences(svc('a', { Secrets: [ref('s1', 'other'), ref('x', 'y')] }).Spec, lookup), /desc = secrets not found: other, y$/);
  assert.throws(() => checkReferences(svc('a', { Configs: [{ ConfigID: 'c', ConfigName: 'cfg', File: { Name: '/cfg' } }] }).Spec, lookup), /desc = config not found: cfg$/);
});

test('remove refused while a service refers to it', () => {
  const s = secret('s1', 'one');
  const users = [svc('web', { Secrets: [{ SecretID: 's1', SecretName: 'one' }] }), svc('api', { Secrets: [{ SecretID: 's1', SecretName: 'one' }] }), svc('other', {})];
  assert.doesNotThrow(() => checkRemovable('secret', s, [users[2]!]));
  assert.throws(() => checkRemovable('secret', s, [users[0]!]), /desc = secret 'one' is in use by the following service: web$/);
  assert.throws(() => checkRemovable('secret', s, users), /desc = secret 'one' is in use by the following services: web, api$/);
  assert.doesNotThrow(() => checkRemovable('config', s, users), 'a config of the same ID is another object');
});

test('reference shapes: IDs, names and targets required, one reference per target', () => {
  const lookup = { secret: (id: string) => secret(id, id), config: (id: string) => secret(id, id) };
  const check = (c: Partial<ServiceSpec['TaskTemplate']['ContainerSpec']>) => () => checkReferences(svc('a', c).Spec, lookup);
  assert.throws(check({ Secrets: [{ SecretID: '', SecretName: 'x', File: { Name: 'x' } }] }), /desc = malformed secret reference$/);
  assert.throws(check({ Secrets: [{ SecretID: 'x', SecretName: 'x' }] }), /desc = malformed secret reference, no target provided$/);
  assert.throws(check({ Secrets: [{ SecretID: 'x', SecretName: 'x', File: { Name: '' } }] }), /desc = malformed file secret reference, invalid target file name provided$/);
  assert.throws(
    check({ Secrets: [{ SecretID: 'a', SecretName: 'a', File: { Name: 't' } }, { SecretID: 'b', SecretName: 'b', File: { Name: 't' } }] }),
    /desc = secret references 'a' and 'b' have a conflicting target: 't'$/,
  );
  assert.throws(check({ Configs: [{ ConfigID: 'c', ConfigName: 'c' }] }), /desc = malformed config reference, no target provided$/);
  assert.doesNotThrow(check({ Configs: [{ ConfigID: 'c', ConfigName: 'c', Runtime: {} }] }), 'a runtime target has no file');
  assert.doesNotThrow(check({ Secrets: [{ SecretID: 'a', SecretName: 'a', File: { Name: 't' } }], Configs: [{ ConfigID: 'c', ConfigName: 'c', File: { Name: 't' } }] }), 'secrets and configs are separate');
});
