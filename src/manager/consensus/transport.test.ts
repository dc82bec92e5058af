// The Raft stream across releases: a manager speaks StreamRaftBatches (wire.ts framing) and falls back to
// StreamRaftMessages (the RPC layer's JSON) towards a peer of a release before it, and serves both; each
// peer's channel is kept connected.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRootCA, issueNodeKeyAndCertificate } from '../ca/pki';
import { MANAGERS, bidi, createRpcClient, createRpcServer, defineService, type RpcServer, type TlsMaterial } from '../../rpc';
import type { Message } from '../../raft';
import { waitFor } from '../../testing/wait';
import { countingListener } from '../../testing/counting-listener';
import { GrpcRaftTransport, RaftService, raftServiceHandlers } from './transport';
import { decodeBatch, encodeBatch, type RaftStreamAck, type RaftStreamBatch } from './wire';
import type { RaftServiceTarget, RaftTransportSink } from './transport-types';

/** shoal.Raft as a release before StreamRaftBatches served it: the stream in JSON only. */
const OldRaftService = defineService('shoal.Raft', {
  StreamRaftMessages: bidi<RaftStreamBatch, RaftStreamAck>(MANAGERS),
});

let tls: TlsMaterial;
const servers: RpcServer[] = [];

before(async () => {
  const ca = await createRootCA();
  const kc = await issueNodeKeyAndCertificate(ca, 'node-m1', 'manager', 'cluster-test');
  tls = { ...kc, caPem: ca.certPem };
});

after(async () => {
  for (const s of servers) await s.stop(100);
});

const app = (i: number): Message => ({ type: 'app', from: 1, to: 2, term: 1, index: i - 1, logTerm: 1, commit: 0, entries: [{ index: i, term: 1, type: 'normal', data: new Uint8Array([i]) }] });

function sink(): RaftTransportSink & { unreachable: number } {
  const s = { unreachable: 0, reportUnreachable: () => void s.unreachable++, reportSnapshot: () => undefined, reportRemoved: () => undefined, reportContact: () => undefined };
  return s;
}

async function serve(add: (s: RpcServer) => void): Promise<string> {
  const s = createRpcServer({ address: '127.0.0.1:0', ...tls });
  add(s);
  servers.push(s);
  return `127.0.0.1:${await s.start()}`;
}

/** A transport whose peer 2 is at `addr`, with the sink it reports to. */
function transportTo(addr: string): { t: GrpcRaftTransport; sk: ReturnType<typeof sink> } {
  const t = new GrpcRaftTransport({ tls, retryBackoffMs: 10 });
  const sk = sink();
  t.bind(sk);
  t.setPeer(2, addr);
  return { t, sk };
}

test('messages reach a current peer on StreamRaftBatches', async () => {
  const got: Message[] = [];
  const target: RaftServiceTarget = { receive: (ms) => void got.push(...ms), handleJoin: () => Promise.reject(new Error('no')), resolveAddress: () => undefined };
  const addr = await serve((s) => s.addService(RaftService, raftServiceHandlers(target)));
  const { t, sk } = transportTo(addr);
  try {
    t.send([app(1)]);
    await waitFor('the append delivered', () => got.length === 1, 10_000, 10);
    assert.deepEqual(got[0]!.entries![0]!.data, new Uint8Array([1]));
    assert.equal(sk.unreachable, 0);
  } finally {
    await t.close();
  }
});

test("each peer's channel connects without a message: a follower's first vote to another follower needs no handshake first", async () => {
  const peer = await countingListener();
  const { t } = transportTo(peer.addr);
  try {
    await waitFor('a connection to the peer, no message sent', () => peer.accepted() > 0, 5000, 10);
  } finally {
    await t.close();
    await peer.close();
  }
});

test('towards a peer of the previous release the transport falls back to StreamRaftMessages', async () => {
  const got: number[] = [];
  const addr = await serve((s) =>
    s.addService(OldRaftService, {
      StreamRaftMessages: async function* (reqs: AsyncIterable<RaftStreamBatch>) {
        for await (const r of reqs) {
          for (const m of decodeBatch(r.b)) got.push(m.entries![0]!.index);
          yield { n: r.n };
        }
      },
    }),
  );
  const { t, sk } = transportTo(addr);
  try {
    // the first batch goes to StreamRaftBatches, which that peer does not know: lost, as Raft expects of a failed send
    t.send([app(1)]);
    await waitFor('the failed stream reported', () => sk.unreachable > 0, 10_000, 10);
    assert.deepEqual(got, []);
    await new Promise((r) => setTimeout(r, 20)); // past the retry backoff
    t.send([app(2)]);
    await waitFor('the append delivered on the old method', () => got.length > 0, 10_000, 10);
    assert.deepEqual(got, [2]);
  } finally {
    await t.close();
  }
});

test('a current manager still serves StreamRaftMessages to a peer of the previous release', async () => {
  const got: Message[] = [];
  const target: RaftServiceTarget = { receive: (ms) => void got.push(...ms), handleJoin: () => Promise.reject(new Error('no')), resolveAddress: () => undefined };
  const addr = await serve((s) => s.addService(RaftService, raftServiceHandlers(target)));
  const c = createRpcClient(addr, { ...tls, serverRole: 'swarm-manager' });
  try {
    const s = c.bidi(OldRaftService, 'StreamRaftMessages');
    const it = s.responses[Symbol.asyncIterator]();
    await s.send({ n: 1, b: encodeBatch([app(7)]) });
    const ack = await it.next();
    assert.deepEqual(ack.value, { n: 1 });
    assert.equal(got[0]!.entries![0]!.index, 7);
    s.cancel();
  } finally {
    c.close();
  }
});
