import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backendKey, forwardPolicy, kernelEligible, kernelPorts, KEEP_CONNTRACK, kernelTableName, meshRemoval, meshRuleset, meshUpdate, needsForwarding, parseKernelCounters, type KernelFacts } from './nft';
import type { MeshBackend, PublishedPortTable } from './types';

const b = (id: string, host: string, port: number): MeshBackend => ({ id, host, port });
const web: PublishedPortTable = { protocol: 'tcp', port: 8080, backends: [b('t2', '10.1.0.3', 31002), b('t1', '10.1.0.2', 31001)] };
const dns: PublishedPortTable = { protocol: 'udp', port: 53, backends: [b('u1', '10.1.0.2', 31053)] };
const all = (tables: PublishedPortTable[], extra: Partial<KernelFacts> = {}): KernelFacts => ({
  admitted: new Set(tables.flatMap((t) => t.backends.map(backendKey))),
  localAddrs: new Set(['10.1.0.1']),
  forwardOk: true,
  ...extra,
});

test('kernel ports: every port with ready, admitted IPv4 backends; backends sorted so the rule set is stable', () => {
  const ports = kernelPorts([web, dns], all([web, dns]));
  assert.deepEqual(ports, [
    { protocol: 'udp', port: 53, backends: [b('u1', '10.1.0.2', 31053)] },
    { protocol: 'tcp', port: 8080, backends: [b('t1', '10.1.0.2', 31001), b('t2', '10.1.0.3', 31002)] },
  ]);
  const reordered = { ...web, backends: [...web.backends].reverse() };
  assert.equal(meshRuleset(kernelPorts([reordered, dns], all([web, dns]))), meshRuleset(ports));
});

test('kernel ports: PROXY ports, loopback or non-IPv4 backends and empty ports stay with the user-space listener', () => {
  const proxy = { ...web, port: 81, proxyProtocol: 'v2' as const };
  const loop = { ...web, port: 82, backends: [b('l1', '127.0.0.1', 31000), b('x', '10.1.0.2', 1)] };
  const v6 = { ...web, port: 83, backends: [b('v6', 'fd00::2', 31000)] };
  const empty = { ...web, port: 84, backends: [] };
  const tables = [proxy, loop, v6, empty, dns];
  assert.deepEqual(kernelPorts(tables, all(tables)).map((p) => p.port), [53]);
});

test('kernel ports: a TCP backend joins only once it accepted a connection; UDP backends need no admission', () => {
  const facts = all([web, dns], { admitted: new Set([backendKey(web.backends[1]!)]) });
  assert.deepEqual(kernelPorts([web, dns], facts), [
    { protocol: 'udp', port: 53, backends: dns.backends },
    { protocol: 'tcp', port: 8080, backends: [b('t1', '10.1.0.2', 31001)] },
  ]);
  // none admitted yet: the port is the user-space proxy's, which retries the next backend on a refused connect
  assert.deepEqual(kernelPorts([web], all([web], { admitted: new Set() })), []);
  // the same task at another address is another backend
  assert.deepEqual(kernelPorts([{ ...web, backends: [b('t1', '10.1.0.2', 9)] }], facts), []);
});

test('kernel ports: when forwarding is dropped, only ports whose backends are all on this node', () => {
  const local = { protocol: 'tcp' as const, port: 9000, backends: [b('a', '10.1.0.1', 31000)] };
  const facts = all([web, local], { forwardOk: false });
  assert.deepEqual(kernelPorts([web, local], facts).map((p) => p.port), [9000]);
  assert.equal(needsForwarding(kernelPorts([local], facts), facts.localAddrs), false);
  assert.equal(needsForwarding(kernelPorts([web], all([web])), facts.localAddrs), true);
});

test('kernel ports: the last entry for a (protocol, port) wins, as in the user-space mesh', () => {
  const again = { ...web, backends: [b('t9', '10.1.0.9', 1)] };
  assert.deepEqual(kernelPorts([web, again], all([web, again])), [{ protocol: 'tcp', port: 8080, backends: again.backends }]);
  assert.deepEqual(kernelPorts([web, { ...web, proxyProtocol: 'v1' }], all([web])), []);
});

test('rule set: a whole-table replace in one transaction; with no port the NAT chains stay, empty; removal deletes', () => {
  assert.equal(meshRemoval(), 'table ip shoal-mesh {}\ndelete table ip shoal-mesh\n');
  assert.equal(meshRemoval('shoal-mesh-x'), 'table ip shoal-mesh-x {}\ndelete table ip shoal-mesh-x\n');
  // conntrack translates earlier NATed flows only while a NAT chain is hooked: an idle table keeps all three
  const idle = meshRuleset([], { table: 'shoal-mesh-x' });
  assert.ok(idle.startsWith('table ip shoal-mesh-x {}\ndelete table ip shoal-mesh-x\ntable ip shoal-mesh-x {\n'), idle);
  for (const hook of ['prerouting priority dstnat', 'output priority -100', 'postrouting priority srcnat']) assert.ok(idle.includes(`type nat hook ${hook}; policy accept;`), hook);
  assert.doesNotMatch(idle, /dnat ip to|vmap|masquerade|counter name/);
  // …and the rule that keeps conntrack on (without it the kernel stops tracking, and NATed flows are reset)
  assert.ok(idle.includes(`    type nat hook postrouting priority srcnat; policy accept;\n${KEEP_CONNTRACK}\n`), idle);
  const text = meshRuleset(kernelPorts([web, dns], all([web, dns])));
  assert.deepEqual(text.split('\n'), [
    'table ip shoal-mesh {}',
    'delete table ip shoal-mesh',
    'table ip shoal-mesh {',
    '  counter udp_53_conns {}',
    '  counter udp_53_in {}',
    '  counter udp_53_out {}',
    '  counter tcp_8080_conns {}',
    '  counter tcp_8080_in {}',
    '  counter tcp_8080_out {}',
    '  chain udp_53 {',
    '    meta l4proto udp counter name "udp_53_conns" dnat ip to 10.1.0.2:31053',
    '  }',
    '  chain tcp_8080 {',
    '    meta l4proto tcp counter name "tcp_8080_conns" dnat ip to numgen random mod 2 map { 0 : 10.1.0.2 . 31001, 1 : 10.1.0.3 . 31002 }',
    '  }',
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '    fib daddr type local meta l4proto . th dport vmap { udp . 53 : jump udp_53, tcp . 8080 : jump tcp_8080 }',
    '  }',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    '    ip daddr != 127.0.0.0/8 fib daddr type local meta l4proto . th dport vmap { udp . 53 : jump udp_53, tcp . 8080 : jump tcp_8080 }',
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    KEEP_CONNTRACK,
    '    oifname != "lo" ct status dnat meta l4proto tcp ct original proto-dst { 8080 } masquerade',
    '    oifname != "lo" ct status dnat meta l4proto udp ct original proto-dst { 53 } masquerade',
    '  }',
    '  chain count_forward {',
    '    type filter hook forward priority filter - 1; policy accept;',
    '    ct status dnat ct direction original meta l4proto tcp counter name ct original proto-dst map { 8080 : "tcp_8080_in" }',
    '    ct status dnat ct direction original meta l4proto udp counter name ct original proto-dst map { 53 : "udp_53_in" }',
    '    ct status dnat ct direction reply meta l4proto tcp counter name ct original proto-dst map { 8080 : "tcp_8080_out" }',
    '    ct status dnat ct direction reply meta l4proto udp counter name ct original proto-dst map { 53 : "udp_53_out" }',
    '  }',
    '  chain count_input {',
    '    type filter hook input priority filter - 1; policy accept;',
    '    iifname != "lo" ct status dnat ct direction original meta l4proto tcp counter name ct original proto-dst map { 8080 : "tcp_8080_in" }',
    '    iifname != "lo" ct status dnat ct direction original meta l4proto udp counter name ct original proto-dst map { 53 : "udp_53_in" }',
    '    iifname != "lo" ct status dnat ct direction reply meta l4proto tcp counter name ct original proto-dst map { 8080 : "tcp_8080_out" }',
    '    iifname != "lo" ct status dnat ct direction reply meta l4proto udp counter name ct original proto-dst map { 53 : "udp_53_out" }',
    '  }',
    '  chain count_output {',
    '    type filter hook output priority filter - 1; policy accept;',
    '    ct status dnat ct direction original meta l4proto tcp counter name ct original proto-dst map { 8080 : "tcp_8080_in" }',
    '    ct status dnat ct direction original meta l4proto udp counter name ct original proto-dst map { 53 : "udp_53_in" }',
    '    ct status dnat ct direction reply meta l4proto tcp counter name ct original proto-dst map { 8080 : "tcp_8080_out" }',
    '    ct status dnat ct direction reply meta l4proto udp counter name ct original proto-dst map { 53 : "udp_53_out" }',
    '  }',
    '}',
    '',
  ]);
});

test('rule set: a mesh bound to one address DNATs only packets to that address', () => {
  const text = meshRuleset(kernelPorts([dns], all([dns])), { bindHost: '10.1.0.1' });
  assert.match(text, /^ {4}ip daddr 10\.1\.0\.1 meta l4proto \. th dport vmap/m);
  assert.match(text, /^ {4}ip daddr != 127\.0\.0\.0\/8 ip daddr 10\.1\.0\.1 meta l4proto/m);
  assert.doesNotMatch(text, /fib daddr/);
});

test('counters: nft JSON → per port connections, packets and bytes each way; foreign counters ignored', () => {
  const json = JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6' } },
      { counter: { family: 'ip', name: 'tcp_8080_conns', table: 'shoal-mesh', packets: 3, bytes: 180 } },
      { counter: { family: 'ip', name: 'tcp_8080_in', table: 'shoal-mesh', packets: 12, bytes: 900 } },
      { counter: { family: 'ip', name: 'tcp_8080_out', table: 'shoal-mesh', packets: 10, bytes: 1500 } },
      { counter: { family: 'ip', name: 'udp_53_in', table: 'shoal-mesh', packets: 4, bytes: 400 } },
      { counter: { family: 'ip', name: 'other', table: 'shoal-mesh', packets: 1, bytes: 1 } },
    ],
  });
  assert.deepEqual(
    [...parseKernelCounters(json)],
    [
      ['tcp/8080', { conns: 3, packetsIn: 12, bytesIn: 900, packetsOut: 10, bytesOut: 1500 }],
      ['udp/53', { conns: 0, packetsIn: 4, bytesIn: 400, packetsOut: 0, bytesOut: 0 }],
    ],
  );
  assert.deepEqual([...parseKernelCounters('not json')], []);
});

test('forward policy: a drop-policy forward chain of another table is named; ours and accepting ones are not; an unreadable listing is unknown', () => {
  const doc = (chains: object[]) => JSON.stringify({ nftables: [{ metainfo: {} }, ...chains.map((chain) => ({ chain }))] });
  const dockerForward = { family: 'ip', table: 'filter', name: 'FORWARD', type: 'filter', hook: 'forward', prio: 0, policy: 'drop' };
  assert.deepEqual(forwardPolicy(doc([dockerForward])), { dropped: 'ip filter FORWARD' });
  assert.deepEqual(forwardPolicy(doc([{ ...dockerForward, policy: 'accept' }, { family: 'ip', table: 'filter', name: 'DOCKER-USER' }])), {});
  assert.deepEqual(forwardPolicy(doc([{ ...dockerForward, table: 'shoal-mesh' }])), {});
  // a failed nft run prints nothing: not a listing without drops
  assert.equal(forwardPolicy(''), undefined);
  assert.equal(forwardPolicy('garbage'), undefined);
  assert.equal(forwardPolicy('{}'), undefined);
});

test('update: backends changed on the same ports → the changed port chains refilled in one transaction; else a whole replace', () => {
  const before = kernelPorts([web, dns], all([web, dns]));
  const drained = { ...web, backends: [web.backends[0]!] };
  const after = kernelPorts([drained, dns], all([drained, dns]));
  assert.equal(
    meshUpdate(before, after),
    'flush chain ip shoal-mesh tcp_8080\nadd rule ip shoal-mesh tcp_8080 meta l4proto tcp counter name "tcp_8080_conns" dnat ip to 10.1.0.3:31002\n',
  );
  assert.equal(meshUpdate(before, before), '', 'nothing changed');
  assert.equal(meshUpdate([], after), undefined, 'nothing loaded yet: whole table');
  assert.equal(meshUpdate(before, kernelPorts([web], all([web]))), undefined, 'a port left: whole table');
  const moved = { ...dns, port: 54 };
  assert.equal(meshUpdate(before, kernelPorts([web, moved], all([web, moved]))), undefined, 'another port: whole table');
  // the refilled rule is the one the whole table has for that port
  assert.ok(meshRuleset(after).includes(`    ${meshUpdate(before, after)!.split('\n')[1]!.replace('add rule ip shoal-mesh tcp_8080 ', '')}\n`));
});

test('eligible: what the kernel could carry before any probe — no PROXY, every backend IPv4 and not loopback', () => {
  assert.equal(kernelEligible(web), true);
  assert.equal(kernelEligible({ ...web, proxyProtocol: 'v2' }), false);
  assert.equal(kernelEligible({ ...web, backends: [...web.backends, b('l', '127.0.0.2', 1)] }), false);
  assert.equal(kernelEligible({ ...web, backends: [b('h', 'localhost', 1)] }), false);
  assert.equal(kernelEligible({ ...web, backends: [b('v6', '::1', 1)] }), false);
});

test('kernelTableName: one table per listen address, so daemons sharing a namespace never write each other\'s', () => {
  assert.equal(kernelTableName('0.0.0.0'), 'shoal-mesh');
  assert.equal(kernelTableName('127.0.0.5'), 'shoal-mesh-127-0-0-5');
  assert.notEqual(kernelTableName('127.0.0.5'), kernelTableName('127.0.0.6'));
  assert.equal(meshRemoval(kernelTableName('10.1.0.2')), 'table ip shoal-mesh-10-1-0-2 {}\ndelete table ip shoal-mesh-10-1-0-2\n');
});
