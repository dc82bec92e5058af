import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIp, splitHostPort, validateInitRequest, validateJoinRequest } from './swarm-request';

const ifaces = (name: string) => name === 'eth0' || name === 'lo';

test('IP literals and host:port split as Go does', () => {
  assert.deepEqual(parseIp('10.1.2.3'), { family: 'v4', zero: false });
  assert.deepEqual(parseIp('0.0.0.0'), { family: 'v4', zero: true });
  assert.deepEqual(parseIp('::'), { family: 'v6', zero: true });
  assert.deepEqual(parseIp('fe80::1'), { family: 'v6', zero: false });
  assert.deepEqual(parseIp('::ffff:10.0.0.1'), { family: 'v6', zero: false });
  for (const bad of ['::::', '1.2.3.256', '1::2::3', 'eth0', '', '1:2:3:4:5:6:7:8:9']) assert.equal(parseIp(bad), null, bad);
  assert.deepEqual(splitHostPort('1.2.3.4:2377'), { host: '1.2.3.4', port: '2377' });
  assert.deepEqual(splitHostPort('[::1]:80'), { host: '::1', port: '80' });
  assert.equal(splitHostPort('::1'), null);
  assert.equal(splitHostPort('eth0'), null);
});

test('init: addresses, data path port, address pools, spec name with dockerd texts', () => {
  for (const ok of [{ ListenAddr: '0.0.0.0:2377', AdvertiseAddr: '127.0.0.1' }, { ListenAddr: 'eth0:2377', AdvertiseAddr: 'eth0' }, { ListenAddr: '[::]:2377', AdvertiseAddr: '[fe80::1]:2377' }, {}]) {
    assert.doesNotThrow(() => validateInitRequest(ok, ifaces), JSON.stringify(ok));
  }
  const cases: [object, RegExp][] = [
    [{ ListenAddr: 'garbage:2377' }, /listen address must be an IP address or network interface \(with optional port number\)$/],
    [{ ListenAddr: '1.2.3.4:99999' }, /could not parse listen address 1\.2\.3\.4:99999/],
    [{ AdvertiseAddr: '::::' }, /advertise address must be a non-zero IP address or network interface/],
    [{ AdvertiseAddr: '0.0.0.0:2377' }, /advertise address must be a non-zero IP address/],
    [{ DataPathAddr: '1.2.3.4:5' }, /data path address must be a non-zero IP address or network interface \(without a port number\)$/],
    [{ DataPathPort: 70000 }, /Datapath port number is not in valid range \(1024-49151\) : 70000$/],
    [{ DataPathPort: 80 }, /not in valid range/],
    [{ DefaultAddrPool: ['bogus'] }, /invalid CIDR address: bogus/],
    [{ DefaultAddrPool: ['10.0.0.0/8'], SubnetSize: 30 }, /subnet size is out of range: 30$/],
    [{ DefaultAddrPool: ['10.0.0.0/26'] }, /invalid CIDR: "10\.0\.0\.0\/26"\. Subnet size is too small for pool: 24$/],
    [{ Spec: { Name: 'other' } }, /swarm spec must be named "default"$/],
  ];
  for (const [req, re] of cases) assert.throws(() => validateInitRequest(req, ifaces), re, JSON.stringify(req));
});

test('join: remote addresses required, own addresses checked', () => {
  assert.doesNotThrow(() => validateJoinRequest({ RemoteAddrs: ['manager.example:2377'], ListenAddr: '0.0.0.0:2377' }, ifaces));
  assert.throws(() => validateJoinRequest({ RemoteAddrs: [] }, ifaces), /Error: at least 1 RemoteAddr is required to join$|at least 1 RemoteAddr is required to join/);
  assert.throws(() => validateJoinRequest({ RemoteAddrs: [''] }, ifaces), /invalid empty address/);
  assert.throws(() => validateJoinRequest({ RemoteAddrs: ['1.2.3.4'], AdvertiseAddr: 'nope' }, ifaces), /advertise address must be/);
});
