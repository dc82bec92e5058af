import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONNTRACK_WATCH_MS, HANDSHAKE_GRACE_MS, conntrackDeletes, parseConntrack, publishedBackendKey, sweepProtocols, watchRemoved, type RemovedBackend } from './conntrack';
import type { KernelPort } from './nft';

const web = (hosts: string[]): KernelPort => ({ protocol: 'tcp', port: 8080, backends: hosts.map((h, i) => ({ id: `t${i}`, host: h, port: 80 })) });
const dns = (hosts: string[]): KernelPort => ({ protocol: 'udp', port: 53, backends: hosts.map((h, i) => ({ id: `u${i}`, host: h, port: 5353 })) });

// `conntrack -L -p tcp --dst-nat` / `-p udp` as the CLI prints them (v1.4.7)
const LISTING = [
  'tcp      6 431999 ESTABLISHED src=10.9.0.4 dst=10.9.0.1 sport=40001 dport=8080 src=10.0.0.5 dst=10.0.0.2 sport=80 dport=40001 [ASSURED] mark=0 use=1',
  'tcp      6 119 TIME_WAIT src=10.9.0.4 dst=10.9.0.1 sport=40002 dport=8080 src=10.0.0.5 dst=10.0.0.2 sport=80 dport=40002 [ASSURED] mark=0 use=1',
  'tcp      6 117 TIME_WAIT src=10.9.0.4 dst=10.9.0.1 sport=40003 dport=8080 src=10.0.0.5 dst=10.0.0.2 sport=80 dport=40003 [ASSURED] mark=0 use=1',
  'tcp      6 9 CLOSE src=10.9.0.4 dst=10.9.0.1 sport=40004 dport=8080 src=10.0.0.5 dst=10.0.0.2 sport=80 dport=40004 mark=0 use=1',
  'tcp      6 119 SYN_SENT src=10.9.0.4 dst=10.9.0.1 sport=40005 dport=8080 [UNREPLIED] src=10.0.0.5 dst=10.0.0.2 sport=80 dport=40005 mark=0 use=1',
  'tcp      6 60 CLOSE_WAIT src=10.9.0.4 dst=10.9.0.1 sport=40006 dport=8080 src=10.0.0.5 dst=10.0.0.2 sport=80 dport=40006 [ASSURED] mark=0 use=1',
  // the live backend's entries, and a flow straight to the removed task's address (not through the mesh port)
  'tcp      6 119 TIME_WAIT src=10.9.0.4 dst=10.9.0.1 sport=40007 dport=8080 src=10.0.0.6 dst=10.0.0.2 sport=80 dport=40007 [ASSURED] mark=0 use=1',
  'tcp      6 119 TIME_WAIT src=10.9.0.4 dst=10.0.0.5 sport=40008 dport=80 src=10.0.0.5 dst=10.9.0.4 sport=80 dport=40008 [ASSURED] mark=0 use=1',
  'udp      17 29 src=10.9.0.4 dst=10.9.0.1 sport=43357 dport=53 [UNREPLIED] src=10.0.0.5 dst=10.0.0.2 sport=5353 dport=43357 mark=0 use=1',
  'udp      17 118 src=10.9.0.4 dst=10.9.0.1 sport=43358 dport=53 src=10.0.0.5 dst=10.0.0.2 sport=5353 dport=43358 [ASSURED] mark=0 use=2',
  'conntrack v1.4.7 (conntrack-tools): 10 flow entries have been shown.',
].join('\n');

test('conntrack listing: TCP state, original tuple and reply source of each line; the summary line is skipped', () => {
  const e = parseConntrack(LISTING);
  assert.equal(e.length, 10);
  assert.deepEqual(e[4], { protocol: 'tcp', state: 'SYN_SENT', origSrc: '10.9.0.4', origDst: '10.9.0.1', origSport: 40005, origDport: 8080, replySrc: '10.0.0.5', replySport: 80 });
  assert.deepEqual(e[8], { protocol: 'udp', origSrc: '10.9.0.4', origDst: '10.9.0.1', origSport: 43357, origDport: 53, replySrc: '10.0.0.5', replySport: 5353 });
  assert.deepEqual(parseConntrack('garbage\n\nipv6 10 tcp'), []);
});

test('a backend that left the map: its UDP flows and its TCP entries without a live connection are dropped, once per kind', () => {
  const watched = watchRemoved([], [web(['10.0.0.5', '10.0.0.6']), dns(['10.0.0.5'])], [web(['10.0.0.6'])], new Set(), 1000);
  assert.deepEqual(watched.map((r) => `${r.protocol}/${r.port}>${r.host}:${r.backendPort}@${r.removedAt}`), ['tcp/8080>10.0.0.5:80@1000', 'udp/53>10.0.0.5:5353@1000']);
  const del = (state?: string) => ['-D', '-p', state ? 'tcp' : 'udp', '--orig-port-dst', state ? '8080' : '53', '--reply-src', '10.0.0.5', '--reply-port-src', state ? '80' : '5353', ...(state ? ['--state', state] : [])];
  // at the removal the backend is alive (the drain hold): a handshake under way is left to finish with it
  assert.deepEqual(conntrackDeletes(watched, parseConntrack(LISTING), 1000), [del('CLOSE'), del()]);
  // a handshake still there HANDSHAKE_GRACE_MS later is stuck (the backend is gone) or a reused 5-tuple
  assert.deepEqual(conntrackDeletes(watched, parseConntrack(LISTING), 1000 + HANDSHAKE_GRACE_MS), [del('CLOSE'), del('SYN_SENT'), del()]);
  // ESTABLISHED and CLOSE_WAIT are open connections the drain lets finish: never dropped; TIME_WAIT is the kernel's to
  // reopen, and it keeps the masquerade off the old source tuple
  const kept = parseConntrack(LISTING).filter((e) => e.state === 'ESTABLISHED' || e.state === 'CLOSE_WAIT' || e.state === 'TIME_WAIT');
  assert.deepEqual(conntrackDeletes(watched, kept, 60_000), []);
  assert.deepEqual(sweepProtocols(watched), ['tcp', 'udp']);
});

test('nothing is dropped while no backend left: same map, a new backend, or the port handed to the user-space listener with its backends', () => {
  assert.deepEqual(watchRemoved([], [web(['10.0.0.5'])], [web(['10.0.0.5'])], new Set(), 0), []);
  assert.deepEqual(watchRemoved([], [web(['10.0.0.5'])], [web(['10.0.0.5', '10.0.0.6'])], new Set(), 0), []);
  const still = new Set([publishedBackendKey('tcp', 8080, { host: '10.0.0.5', port: 80 })]);
  assert.deepEqual(watchRemoved([], [web(['10.0.0.5'])], [], still, 0), []);
  assert.deepEqual(conntrackDeletes([], parseConntrack(LISTING), 0), []);
  assert.deepEqual(sweepProtocols([]), []);
});

test('the watch: kept across map changes until CONNTRACK_WATCH_MS, dropped at once when the backend is back in the map', () => {
  const first = watchRemoved([], [web(['10.0.0.5', '10.0.0.6'])], [web(['10.0.0.6'])], new Set(), 0);
  // another change later keeps the first removal with its own time
  const second = watchRemoved(first, [web(['10.0.0.6'])], [web(['10.0.0.7'])], new Set(), 500);
  assert.deepEqual(second.map((r) => [r.host, r.removedAt]), [['10.0.0.5', 0], ['10.0.0.6', 500]]);
  const later: RemovedBackend[] = watchRemoved(second, [web(['10.0.0.7'])], [web(['10.0.0.7'])], new Set(), CONNTRACK_WATCH_MS);
  assert.deepEqual(later.map((r) => r.host), ['10.0.0.6']);
  // the same address back in the map (a restarted task at the same address and port): its new flows are live
  assert.deepEqual(watchRemoved(second, [web(['10.0.0.7'])], [web(['10.0.0.5', '10.0.0.6', '10.0.0.7'])], new Set(), 600), []);
});
