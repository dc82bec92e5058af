import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShoalError } from '../../lib/errors';
import {
  boolValue,
  capPathVersion,
  checkClientVersion,
  compareVersions,
  deframe,
  formatDetails,
  formatLogLine,
  frame,
  infoBody,
  INACTIVE_SWARM,
  parseFilters,
  parseObjectVersion,
  parseTail,
  parseRequestTarget,
  cleanPath,
  parseTimestamp,
  pingSwarmHeader,
  queryEscape,
  splitVersion,
  stripInternal,
  versionBody,
} from '.';

test('filters: both encodings normalize to name -> values', () => {
  assert.deepEqual(parseFilters('{"name":{"web":true}}'), { name: ['web'] });
  assert.deepEqual(parseFilters('{"name":["web","db"],"role":{"manager":true}}'), { name: ['web', 'db'], role: ['manager'] });
  assert.deepEqual(parseFilters(''), {});
  assert.deepEqual(parseFilters(null), {});
  assert.deepEqual(parseFilters('null'), {});
});

test('filters: bad input is InvalidArgument', () => {
  for (const bad of ['{', '[1]', '"x"', '{"a":1}', '{"a":[1]}']) {
    assert.throws(() => parseFilters(bad), (e: unknown) => e instanceof ShoalError && e.kind === 'InvalidArgument', bad);
  }
});

test('query values follow Docker semantics', () => {
  for (const f of [null, '', '0', 'no', 'false', 'FALSE', 'none']) assert.equal(boolValue(f), false, String(f));
  for (const t of ['1', 'true', 'True', 'yes', 'x']) assert.equal(boolValue(t), true, t);
  assert.equal(parseObjectVersion('42', 'service'), 42);
  assert.throws(() => parseObjectVersion('abc', 'service'), /invalid service version 'abc'/);
  assert.throws(() => parseObjectVersion(null, 'node'), /invalid node version ''/);
  assert.equal(parseTail('all'), 'all');
  assert.equal(parseTail('10'), 10);
  assert.throws(() => parseTail('-5'), /negative tail values not supported/);
  assert.throws(() => parseTail('x'), /tail value must be a positive integer or "all"/);
  assert.equal(parseTimestamp('1629574695.515050031', 'since'), 1629574695.515050031);
  assert.equal(parseTimestamp('0', 'since'), undefined);
  assert.throws(() => parseTimestamp('yesterday', 'since'), /invalid value for since/);
});

test('versions: split, compare, check, cap', () => {
  assert.deepEqual(splitVersion('/v1.47/info'), { version: '1.47', path: '/info' });
  assert.deepEqual(splitVersion('/info'), { path: '/info' });
  assert.deepEqual(splitVersion('/v1.47'), { version: '1.47', path: '/' });
  assert.deepEqual(splitVersion('/volumes'), { path: '/volumes' });
  assert.equal(compareVersions('1.9', '1.10'), -1);
  assert.equal(compareVersions('1.47', '1.47'), 0);
  assert.throws(() => checkClientVersion('1.99', '1.24', '1.47'), { message: 'client version 1.99 is too new. Maximum supported API version is 1.47' });
  assert.throws(() => checkClientVersion('1.12', '1.24', '1.47'), /client version 1.12 is too old. Minimum supported API version is 1.24/);
  checkClientVersion(undefined, '1.24', '1.47');
  checkClientVersion('1.24', '1.24', '1.47');
  assert.equal(capPathVersion('/v1.50/containers/json?all=1', '1.45'), '/v1.45/containers/json?all=1');
  assert.equal(capPathVersion('/v1.41/containers/json', '1.45'), '/v1.41/containers/json');
  assert.equal(capPathVersion('/containers/json', '1.45'), '/containers/json');
});

test('log frames: 8-byte header, stream type, big-endian length', () => {
  const f = frame('stderr', Buffer.from('hello\n'));
  assert.deepEqual([...f.subarray(0, 8)], [2, 0, 0, 0, 0, 0, 0, 6]);
  assert.equal(f.subarray(8).toString(), 'hello\n');
  const both = Buffer.concat([frame('stdout', Buffer.from('a')), f, Buffer.from([1, 0])]);
  const { frames, rest } = deframe(both);
  assert.deepEqual(
    frames.map((x) => [x.stream, x.data.toString()]),
    [
      [1, 'a'],
      [2, 'hello\n'],
    ],
  );
  assert.equal(rest.length, 2);
});

test('log lines: timestamp, details and newline as the docker CLI parses them', () => {
  const line = { stream: 'stdout' as const, time: Date.UTC(2024, 0, 2, 3, 4, 5, 678), data: Buffer.from('hi'), taskId: 't1', nodeId: 'n1', serviceId: 's1' };
  assert.equal(formatLogLine(line, { timestamps: false, details: false }).toString(), 'hi\n');
  assert.equal(
    formatLogLine(line, { timestamps: true, details: true }).toString(),
    '2024-01-02T03:04:05.678000000Z com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1 hi\n',
  );
  assert.equal(formatLogLine({ ...line, data: Buffer.from('x\n') }, { timestamps: false, details: false }).toString(), 'x\n');
  assert.equal(queryEscape("a b/c!'"), 'a+b%2Fc%21%27');
  assert.equal(formatDetails({ z: '1', a: 'x=y' }), 'a=x%3Dy,z=1');
});

test('strip internal fields and ping header', () => {
  assert.deepEqual(stripInternal({ ID: 'x', internal: { a: 1 } }), { ID: 'x' });
  assert.equal(pingSwarmHeader({ LocalNodeState: 'active', ControlAvailable: true }), 'active/manager');
  assert.equal(pingSwarmHeader({ LocalNodeState: 'active', ControlAvailable: false }), 'active/worker');
  assert.equal(pingSwarmHeader({ LocalNodeState: 'inactive', ControlAvailable: false }), 'inactive');
  assert.equal(pingSwarmHeader({ LocalNodeState: 'locked', ControlAvailable: false }), 'locked');
});

const facts = {
  version: '28.2.2',
  apiVersion: '1.47',
  minApiVersion: '1.24',
  hostname: 'h1',
  os: 'linux',
  arch: 'x64',
  kernelVersion: '6.1.0',
  ncpu: 4,
  memTotal: 1 << 30,
  dataDir: '/tmp/d',
  runtime: 'process' as const,
};

test('version and info bodies', () => {
  const v = versionBody(facts, { gitCommit: 'abc', runtimeVersion: 'node20', buildTime: '' });
  assert.equal(v.ApiVersion, '1.47');
  assert.equal(v.Arch, 'amd64');
  assert.equal((v.Components as { Name: string }[])[0].Name, 'Engine');
  const i = infoBody({ facts, swarm: INACTIVE_SWARM, daemonId: 'id', now: 0, engineInfo: { Containers: 3, Name: 'not-copied' } });
  assert.equal(i.Containers, 3);
  assert.equal(i.Name, 'h1');
  assert.equal(i.Architecture, 'x86_64');
  assert.equal(i.SystemTime, '1970-01-01T00:00:00.000000000Z');
  assert.equal(i.DefaultRuntime, 'process');
});

test('request targets: unclean paths redirect as gorilla/mux does; absolute form reads its path', () => {
  assert.deepEqual(parseRequestTarget('//v1.47//services?x=1').redirect, '/v1.47/services?x=1');
  assert.deepEqual(parseRequestTarget('/v1.47/a/../b/./c/').redirect, '/v1.47/b/c/');
  const plain = parseRequestTarget('/v1.47/services?filters=%7B%7D');
  assert.equal(plain.redirect, undefined);
  assert.equal(plain.pathname, '/v1.47/services');
  assert.equal(plain.query.get('filters'), '{}');
  assert.equal(parseRequestTarget('http://docker/_ping').pathname, '/_ping');
  assert.equal(parseRequestTarget('http://docker').pathname, '/');
  assert.equal(cleanPath(''), '/');
  assert.equal(cleanPath('/..'), '/');
});
