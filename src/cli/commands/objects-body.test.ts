// The request bodies of `shoal network create` and `shoal secret|config create` (pure parts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CliError } from '../client';
import { networkCreateBody } from './network';
import { createBody } from './secret';
import { parseFilters } from './list-opts';

test('network create body: IPAM pools pair with subnets; labels and options as maps', () => {
  const body = networkCreateBody('front', { driver: 'overlay', ipamDriver: 'default', subnet: ['10.1.0.0/24', '10.2.0.0/24'], gateway: ['10.1.0.1'], ipRange: ['10.1.0.128/25'], attachable: true, label: ['a=1', 'b'], opt: ['x=y'] });
  assert.deepEqual(body, {
    Name: 'front',
    Driver: 'overlay',
    Scope: '',
    EnableIPv6: false,
    IPAM: { Driver: 'default', Config: [{ Subnet: '10.1.0.0/24', IPRange: '10.1.0.128/25', Gateway: '10.1.0.1' }, { Subnet: '10.2.0.0/24' }], Options: {} },
    Internal: false,
    Attachable: true,
    Ingress: false,
    Options: { x: 'y' },
    Labels: { a: '1', b: '' },
  });
  assert.throws(() => networkCreateBody('n', { driver: 'overlay', ipamDriver: 'default', gateway: ['10.1.0.1'] }), /every ip-range or gateway must have a corresponding subnet/);
});

test('secret/config create body: data from stdin as base64; driver excludes data; empty data refused', () => {
  assert.deepEqual(createBody('secrets', 's', '-', { label: ['k=v'], templateDriver: 'golang' }, () => Buffer.from('hi')), { Name: 's', Labels: { k: 'v' }, Data: 'aGk=', Templating: { Name: 'golang' } });
  assert.deepEqual(createBody('secrets', 's', undefined, { driver: 'vault' }), { Name: 's', Labels: {}, Driver: { Name: 'vault' } });
  assert.throws(() => createBody('secrets', 's', 'file', { driver: 'vault' }), /When using secret driver secret data must be empty/);
  assert.throws(() => createBody('configs', 'c', '-', {}, () => Buffer.alloc(0)), (e: unknown) => e instanceof CliError && e.message === 'error reading from STDIN: data is empty');
  assert.throws(() => createBody('secrets', 's', undefined, {}), /secret file is required/);
});

test('--filter key=value parsing', () => {
  assert.deepEqual(parseFilters(['name=a', 'label=x=y', 'name=b']), { name: ['a', 'b'], label: ['x=y'] });
  assert.throws(() => parseFilters(['oops']), /bad format of filter \(expected name=value\)/);
});
