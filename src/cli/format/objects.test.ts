import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONFIG_HEADER, CONFIG_TABLE, configRows, goTimeString, naturalCompare, NETWORK_HEADER, NETWORK_TABLE, networkRows, prettyConfig, prettySecret, SECRET_HEADER, SECRET_TABLE, secretRows, type ApiSecretOrConfig } from './objects';
import { formatList } from './template';

const NOW = Date.parse('2026-12-02T10:30:00Z');

function obj(id: string, name: string, createdAgoMs: number, extra: Partial<ApiSecretOrConfig['Spec']> = {}): ApiSecretOrConfig {
  const t = new Date(NOW - createdAgoMs).toISOString();
  return { ID: id, CreatedAt: t, UpdatedAt: t, Spec: { Name: name, ...extra } };
}

test('natural order: digit runs compare as numbers', () => {
  assert.deepEqual(['a10', 'a9', 'b', 'a09x', 'A'].sort(naturalCompare), ['A', 'a9', 'a09x', 'a10', 'b']);
});

test('Go time String of an RFC 3339 timestamp keeps every fraction digit', () => {
  assert.equal(goTimeString('2026-12-02T10:33:41.965000Z'), '2026-12-02 10:33:41.965 +0000 UTC');
  assert.equal(goTimeString('2026-12-02T10:33:41.123456789Z'), '2026-12-02 10:33:41.123456789 +0000 UTC');
  assert.equal(goTimeString('2026-12-02T10:33:41Z'), '2026-12-02 10:33:41 +0000 UTC');
});

test('network ls: truncated IDs sorted by name; --no-trunc keeps them whole', () => {
  const nets = [
    { Id: 'f'.repeat(25), Name: 'ingress', Driver: 'overlay', Scope: 'swarm' },
    { Id: 'a'.repeat(25), Name: 'front', Driver: 'overlay', Scope: 'swarm', Labels: { env: 'dev' } },
  ];
  assert.equal(
    formatList(NETWORK_TABLE, networkRows(nets, {}), NETWORK_HEADER),
    'NETWORK ID     NAME      DRIVER    SCOPE\naaaaaaaaaaaa   front     overlay   swarm\nffffffffffff   ingress   overlay   swarm\n',
  );
  assert.equal(formatList('{{.ID}} {{.Labels}} {{.Internal}}', networkRows(nets, { noTrunc: true }), NETWORK_HEADER), `${'a'.repeat(25)} env=dev false\n${'f'.repeat(25)}  false\n`);
});

test('secret ls and config ls: full IDs, humanized ages', () => {
  const secrets = [obj('s'.repeat(25), 'db', 5_000, { Driver: { Name: 'vault' } }), obj('t'.repeat(25), 'api', 90_000)];
  assert.equal(
    formatList(SECRET_TABLE, secretRows(secrets, NOW), SECRET_HEADER),
    `ID                          NAME      DRIVER    CREATED              UPDATED\n${'t'.repeat(25)}   api                 About a minute ago   About a minute ago\n${'s'.repeat(25)}   db        vault     5 seconds ago        5 seconds ago\n`,
  );
  assert.equal(formatList(CONFIG_TABLE, configRows([obj('c'.repeat(25), 'conf', 500)], NOW), CONFIG_HEADER), `ID                          NAME      CREATED                  UPDATED\n${'c'.repeat(25)}   conf      Less than a second ago   Less than a second ago\n`);
});

test('secret and config inspect --pretty', () => {
  const s = { ...obj('x'.repeat(25), 'db', 0, { Labels: { b: '', a: '1' } }), CreatedAt: '2026-12-02T10:33:41.965Z', UpdatedAt: '2026-12-02T10:33:42Z' };
  assert.equal(
    prettySecret(s),
    `ID:              ${'x'.repeat(25)}\nName:              db\nLabels:\n - a=1\n - b\nDriver:            \nCreated at:        2026-12-02 10:33:41.965 +0000 utc\nUpdated at:        2026-12-02 10:33:42 +0000 utc`,
  );
  const c = { ...s, Spec: { Name: 'conf', Data: Buffer.from('line 1\nline 2\n').toString('base64') } };
  assert.equal(prettyConfig(c), `ID:\t\t\t${'x'.repeat(25)}\nName:\t\t\tconf\nCreated at:            \t2026-12-02 10:33:41.965 +0000 utc\nUpdated at:            \t2026-12-02 10:33:42 +0000 utc\nData:\nline 1\nline 2\n`);
});
