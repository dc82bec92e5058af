// A proposal's fate as the writer sees it, and whether the control path may run the write again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unavailable } from '../../lib/errors';
import { RpcError, fromGrpcError } from '../../rpc/errors';
import { LostLeadershipError, NotLeaderError, ProposalOverwrittenError, leadershipTransferInProgress, noLeader, retryableControlError } from './errors';
import { PendingProposals } from './pending-proposals';

test('applied in its term resolves; another term at its index is an overwrite, safe to retry', async () => {
  const p = new PendingProposals();
  const ok = p.wait(5, 2);
  const over = p.wait(6, 2);
  p.applied(5, 2);
  p.applied(6, 3);
  await ok;
  const e = await over.then(() => assert.fail('resolved'), (x: unknown) => x);
  assert.ok(e instanceof ProposalOverwrittenError);
  assert.equal(retryableControlError(e), true);
});

test('stepping down with proposals pending leaves their outcome unknown: never retried', async () => {
  const p = new PendingProposals();
  const w = p.wait(7, 2);
  p.rejectAll(new LostLeadershipError());
  const e = await w.then(() => assert.fail('resolved'), (x: unknown) => x);
  assert.equal(retryableControlError(e), false);
  // Forwarded: the leader's error arrives as an RPC error carrying its text and its reason code.
  assert.equal(retryableControlError(new RpcError(14, (e as Error).message, (e as LostLeadershipError).reason)), false);
});

test('refusals before the log are retried; dropped connections, deadlines and no leader are not', () => {
  assert.equal(retryableControlError(new NotLeaderError({ raftId: 2, addr: '127.0.0.2:2377', nodeId: 'n2' })), true);
  assert.equal(retryableControlError(new RpcError(14, 'raft: this manager is not the leader; the leader is 2 (node n2) at 127.0.0.2:2377', 'not-leader')), true);
  assert.equal(retryableControlError(leadershipTransferInProgress()), true);
  // grpc-js's own error for a call that found no connection: never sent.
  assert.equal(retryableControlError(fromGrpcError({ code: 14, details: 'No connection established. Last error: connect ECONNREFUSED 127.0.0.2:2377' })), true);
  assert.equal(retryableControlError(new RpcError(14, 'read ECONNRESET')), false);
  assert.equal(retryableControlError(new RpcError(14, 'Connection dropped')), false);
  assert.equal(retryableControlError(new RpcError(4, 'Deadline exceeded')), false);
  assert.equal(retryableControlError(noLeader()), false);
  assert.equal(retryableControlError(new Error('not the leader')), false);
  // The code decides, not the text.
  assert.equal(retryableControlError(unavailable('raft: this manager is not the leader')), false);
});
