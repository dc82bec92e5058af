import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { NetworkNames } from '../../../types';
import { DNS_TTL, NameIndex, decide, ptrAddress, shuffled } from './answer';
import { parseHostPort, parseResolvConf } from './resolv-conf';

const backend: NetworkNames = {
  networkId: 'nb',
  networkName: 'backend',
  ingress: false,
  records: { web: ['10.0.1.2'], 'tasks.web': ['10.0.1.4', '10.0.1.5'], 'web.1.t1': ['10.0.1.5'], db: ['10.0.1.9'] },
  ptr: { '10.0.1.5': 'web.1.t1' },
};
const ingress: NetworkNames = {
  networkId: 'ni',
  networkName: 'ingress',
  ingress: true,
  records: { web: ['10.0.0.2'], only: ['10.0.0.7'] },
  ptr: {},
};
const front: NetworkNames = { networkId: 'nf', networkName: 'front', ingress: false, records: { db: ['10.0.2.3'] }, ptr: {} };
const index = new NameIndex([ingress, front, backend]);
const first = () => 0;

const a = (name: string, ...addrs: string[]) => ({ kind: 'answer', answers: addrs.map((data) => ({ name, type: 'A', ttl: DNS_TTL, data })) });

test('dns core: A for a service name, case-insensitive, answered with the name as asked', () => {
  assert.deepEqual(decide(index, ['nb'], { name: 'WeB', type: 'A' }, first), a('WeB', '10.0.1.2'));
  assert.deepEqual(decide(index, ['nb'], { name: 'web.', type: 'A' }, first), a('web.', '10.0.1.2'));
});

test('dns core: tasks.<service> gives every task address, shuffled with the given randomness', () => {
  const d = decide(index, ['nb'], { name: 'tasks.web', type: 'A' }, first);
  assert.equal(d.kind, 'answer');
  assert.deepEqual(d.kind === 'answer' && d.answers.map((r) => r.data).sort(), ['10.0.1.4', '10.0.1.5']);
  assert.notDeepEqual(
    decide(index, ['nb'], { name: 'tasks.web', type: 'A' }, () => 0),
    decide(index, ['nb'], { name: 'tasks.web', type: 'A' }, () => 0.99),
  );
});

test('dns core: user networks answer before ingress; the scope limits what is visible', () => {
  assert.deepEqual(decide(index, ['ni', 'nb'], { name: 'web', type: 'A' }, first), a('web', '10.0.1.2'));
  assert.deepEqual(decide(index, 'all', { name: 'web', type: 'A' }, first), a('web', '10.0.1.2'));
  assert.deepEqual(decide(index, ['nf'], { name: 'web', type: 'A' }, first), { kind: 'forward' });
  assert.deepEqual(decide(index, ['ni'], { name: 'only', type: 'A' }, first), a('only', '10.0.0.7'));
});

test('dns core: <name>.<network> picks the network', () => {
  assert.deepEqual(decide(index, 'all', { name: 'db.front', type: 'A' }, first), a('db.front', '10.0.2.3'));
  assert.deepEqual(decide(index, 'all', { name: 'db.backend', type: 'A' }, first), a('db.backend', '10.0.1.9'));
  assert.deepEqual(decide(index, 'all', { name: 'web.1.t1.backend', type: 'A' }, first), a('web.1.t1.backend', '10.0.1.5'));
  assert.deepEqual(decide(index, ['nf'], { name: 'db.backend', type: 'A' }, first), { kind: 'forward' });
});

test('dns core: AAAA and MX for a known name are empty NOERROR answers; unknown names and other types are forwarded', () => {
  assert.deepEqual(decide(index, 'all', { name: 'web', type: 'AAAA' }, first), { kind: 'answer', answers: [] });
  assert.deepEqual(decide(index, 'all', { name: 'web', type: 'MX' }, first), { kind: 'answer', answers: [] });
  assert.deepEqual(decide(index, 'all', { name: 'example.com', type: 'A' }, first), { kind: 'forward' });
  assert.deepEqual(decide(index, 'all', { name: 'example.com', type: 'AAAA' }, first), { kind: 'forward' });
  assert.deepEqual(decide(index, 'all', { name: 'web', type: 'TXT' }, first), { kind: 'forward' });
  assert.deepEqual(decide(index, 'all', { name: '_http._tcp.web', type: 'SRV' }, first), { kind: 'forward' });
});

test('dns core: PTR for a task address names its container on its network', () => {
  assert.deepEqual(decide(index, 'all', { name: '5.1.0.10.in-addr.arpa', type: 'PTR' }, first), {
    kind: 'answer',
    answers: [{ name: '5.1.0.10.in-addr.arpa', type: 'PTR', ttl: DNS_TTL, data: 'web.1.t1.backend' }],
  });
  assert.deepEqual(decide(index, 'all', { name: '9.9.9.9.in-addr.arpa', type: 'PTR' }, first), { kind: 'forward' });
  assert.equal(ptrAddress('4.3.2.1.IN-ADDR.ARPA.'), '1.2.3.4');
  assert.equal(ptrAddress('3.2.1.in-addr.arpa'), undefined);
  assert.equal(ptrAddress('300.2.1.1.in-addr.arpa'), undefined);
});

test('dns core: shuffled is a permutation for any randomness', () => {
  fc.assert(
    fc.property(fc.array(fc.integer()), fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1 }), (xs, rs) => {
      let i = 0;
      const out = shuffled(xs, () => rs[i++ % rs.length]!);
      assert.deepEqual([...out].sort(), [...xs].sort());
    }),
  );
});

test('dns core: any case of a known name resolves to the same addresses', () => {
  const names = Object.keys(backend.records);
  fc.assert(
    fc.property(fc.constantFrom(...names), fc.array(fc.boolean(), { minLength: 32, maxLength: 32 }), (name, ups) => {
      const mixed = [...name].map((c, i) => (ups[i] ? c.toUpperCase() : c)).join('');
      assert.deepEqual(index.resolveName(mixed, ['nb']), backend.records[name]);
    }),
  );
});

test('resolv.conf: nameservers in order, at most three, comments ignored', () => {
  const text = '# generated\nsearch example.com\nnameserver 10.0.0.53\nnameserver  fe80::1%eth0 # v6\n;nameserver 1.1.1.1\noptions ndots:2\nnameserver 8.8.8.8\nnameserver 9.9.9.9\n';
  assert.deepEqual(parseResolvConf(text), [
    { host: '10.0.0.53', port: 53 },
    { host: 'fe80::1%eth0', port: 53 },
    { host: '8.8.8.8', port: 53 },
  ]);
  assert.deepEqual(parseHostPort('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353 });
  assert.deepEqual(parseHostPort('[::1]:54'), { host: '::1', port: 54 });
  assert.deepEqual(parseHostPort('::1'), { host: '::1', port: 53 });
  assert.deepEqual(parseHostPort('10.0.0.1'), { host: '10.0.0.1', port: 53 });
  assert.throws(() => parseHostPort('10.0.0.1:x'));
});
