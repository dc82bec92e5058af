import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeV1, encodeV2, parseProxyHeader, V2_SIGNATURE } from './proxy-protocol';

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

test('v1: TCP4 and TCP6 lines as the spec writes them; mixed families are UNKNOWN', () => {
  assert.equal(text(encodeV1({ protocol: 'tcp', srcAddress: '192.168.0.1', srcPort: 56324, dstAddress: '192.168.0.11', dstPort: 443 })), 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n');
  assert.equal(text(encodeV1({ protocol: 'tcp', srcAddress: '::ffff:10.0.0.2', srcPort: 1, dstAddress: '10.0.0.3', dstPort: 2 })), 'PROXY TCP4 10.0.0.2 10.0.0.3 1 2\r\n');
  assert.equal(text(encodeV1({ protocol: 'tcp', srcAddress: 'fe80::1', srcPort: 1, dstAddress: '::1', dstPort: 2 })), 'PROXY TCP6 fe80::1 ::1 1 2\r\n');
  assert.equal(text(encodeV1({ protocol: 'tcp', srcAddress: 'garbage', srcPort: 1, dstAddress: '::1', dstPort: 2 })), 'PROXY UNKNOWN\r\n');
});

test('v2: signature, version/command, family, length and addresses in network order', () => {
  const h = encodeV2({ protocol: 'udp', srcAddress: '10.1.2.3', srcPort: 0x1234, dstAddress: '10.0.0.1', dstPort: 53 });
  assert.deepEqual([...h.subarray(0, 12)], [...V2_SIGNATURE]);
  assert.equal(h[12], 0x21);
  assert.equal(h[13], 0x12); // AF_INET, DGRAM
  assert.equal((h[14] << 8) | h[15], 12);
  assert.deepEqual([...h.subarray(16)], [10, 1, 2, 3, 10, 0, 0, 1, 0x12, 0x34, 0, 53]);
  const h6 = encodeV2({ protocol: 'tcp', srcAddress: '2001:db8::1', srcPort: 1, dstAddress: '::1', dstPort: 2 });
  assert.equal(h6[13], 0x21);
  assert.equal(h6.length, 16 + 36);
  const unspec = encodeV2({ protocol: 'tcp', srcAddress: '', srcPort: 0, dstAddress: '', dstPort: 0 });
  assert.deepEqual([unspec[13], unspec.length], [0, 16]);
});

test('parse: incomplete is undefined, garbage throws', () => {
  assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4')), undefined);
  assert.equal(parseProxyHeader(encodeV2({ protocol: 'tcp', srcAddress: '1.2.3.4', srcPort: 1, dstAddress: '1.2.3.4', dstPort: 2 }).subarray(0, 20)), undefined);
  assert.throws(() => parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')));
});

const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
const port = fc.integer({ min: 0, max: 65535 });

test('property: encode then parse gives the addresses back (v1 and v2, IPv4), payload starts at length', () => {
  fc.assert(
    fc.property(v4, port, v4, port, fc.constantFrom<'tcp' | 'udp'>('tcp', 'udp'), fc.uint8Array({ maxLength: 8 }), (s, sp, d, dp, protocol, payload) => {
      const a = { protocol, srcAddress: s, srcPort: sp, dstAddress: d, dstPort: dp };
      for (const enc of protocol === 'tcp' ? [encodeV1, encodeV2] : [encodeV2]) {
        const h = enc(a);
        const all = new Uint8Array([...h, ...payload]);
        const p = parseProxyHeader(all)!;
        assert.equal(p.length, h.length);
        assert.deepEqual({ protocol: p.protocol, srcAddress: p.srcAddress, srcPort: p.srcPort, dstAddress: p.dstAddress, dstPort: p.dstPort }, a);
      }
    }),
  );
});

test('v2 IPv6 parses back to the same address (uncompressed form)', () => {
  const p = parseProxyHeader(encodeV2({ protocol: 'tcp', srcAddress: '2001:db8::1', srcPort: 9, dstAddress: '::ffff:10.0.0.1', dstPort: 10 }));
  // mixed v6/v4 dst becomes v6 with the v4 mapped
  assert.equal(p?.srcAddress, '2001:db8:0:0:0:0:0:1');
  assert.equal(p?.dstAddress, '0:0:0:0:0:ffff:a00:1');
});
