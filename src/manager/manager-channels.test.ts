// The channels a manager keeps to the other managers (manager-channels.ts): made and connected without a
// call, closed when a manager leaves, made again when this manager's certificate changes. The peers are
// plain TCP listeners that count the connections made to them (testing/counting-listener.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRootCA, issueNodeKeyAndCertificate } from './ca/pki';
import type { TlsMaterial } from '../rpc';
import { waitFor } from '../testing/wait';
import { countingListener as listener } from '../testing/counting-listener';
import { ManagerChannels } from './manager-channels';

async function material(id: string): Promise<TlsMaterial> {
  const ca = await createRootCA();
  const kc = await issueNodeKeyAndCertificate(ca, id, 'manager', 'cluster-test');
  return { ...kc, caPem: ca.certPem };
}

test('a channel to every other manager connects without a call; one to a manager that left is closed', async () => {
  const [a, b] = [await listener(), await listener()];
  let peers = [a.addr, b.addr];
  const m = await material('m1');
  const ch = new ManagerChannels({ tls: () => m, peers: () => peers, lookIntervalMs: 50 });
  try {
    ch.start();
    await waitFor('both managers reached', () => a.accepted() > 0 && b.accepted() > 0, 5000, 10);
    assert.deepEqual(ch.addresses().sort(), [a.addr, b.addr].sort());
    peers = [a.addr];
    await waitFor('the channel to the manager that left closed', () => ch.addresses().length === 1, 5000, 10);
    assert.deepEqual(ch.addresses(), [a.addr]);
  } finally {
    ch.close();
    await a.close();
    await b.close();
  }
});

test("the leader's channel is the one kept, until this manager's certificate is renewed", async () => {
  const peer = await listener();
  let tls = await material('m1');
  let reads = 0;
  const ch = new ManagerChannels({ tls: () => (reads++, tls), peers: () => [peer.addr], lookIntervalMs: 50 });
  try {
    ch.start();
    const first = ch.get(peer.addr);
    const readsBefore = reads;
    for (let i = 0; i < 100; i++) assert.equal(ch.get(peer.addr), first, 'the same channel while the certificate is the same');
    assert.ok(reads - readsBefore <= 2, `the credentials are not read on each call (${reads - readsBefore} reads for 100 calls)`);
    tls = await material('m1');
    await waitFor('a new channel with the renewed certificate', () => ch.get(peer.addr) !== first, 5000, 10);
    const renewed = ch.get(peer.addr);
    assert.equal(ch.get(peer.addr), renewed);
  } finally {
    ch.close();
    await peer.close();
  }
});
