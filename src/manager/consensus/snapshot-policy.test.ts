import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compactionPoint, KEEP_BYTES, LOG_BYTES_FLOOR, snapshotDue } from './snapshot-policy';

const MiB = 1024 * 1024;

test('a snapshot is due after SnapshotInterval entries, whatever their size', () => {
  assert.equal(snapshotDue({ entries: 9_999, bytes: 1_000, lastSnapshotBytes: 0 }, 10_000), false);
  assert.equal(snapshotDue({ entries: 10_000, bytes: 1_000, lastSnapshotBytes: 0 }, 10_000), true);
});

test('a snapshot is due once the log since the last one outgrows the floor and the last snapshot', () => {
  // small state: the floor bounds the log
  assert.equal(snapshotDue({ entries: 100, bytes: LOG_BYTES_FLOOR - 1, lastSnapshotBytes: MiB }, 10_000), false);
  assert.equal(snapshotDue({ entries: 100, bytes: LOG_BYTES_FLOOR, lastSnapshotBytes: MiB }, 10_000), true);
  // big state (100,000 tasks): the log may grow to the state's size before a snapshot repays its cost
  assert.equal(snapshotDue({ entries: 300, bytes: 100 * MiB, lastSnapshotBytes: 150 * MiB }, 10_000), false);
  assert.equal(snapshotDue({ entries: 300, bytes: 150 * MiB, lastSnapshotBytes: 150 * MiB }, 10_000), true);
});

test('compaction keeps LogEntriesForSlowFollowers entries when they are small', () => {
  assert.equal(
    compactionPoint(10_000, 500, () => 400),
    9_500,
  );
  // a young log keeps what it has
  assert.equal(
    compactionPoint(300, 500, (i) => (i >= 1 ? 400 : undefined)),
    0,
  );
});

test('compaction keeps no more than KEEP_BYTES of big entries (a slow follower further behind gets the snapshot)', () => {
  const size = 1 * MiB;
  const at = compactionPoint(10_000, 500, () => size);
  assert.equal(10_000 - at, Math.floor(KEEP_BYTES / size));
  // an entry bigger than the budget on its own: nothing kept
  assert.equal(compactionPoint(10_000, 500, () => KEEP_BYTES + 1), 10_000);
  // entries already compacted away end the walk
  assert.equal(compactionPoint(10_000, 500, (i) => (i > 9_990 ? 10 : undefined)), 9_990);
});

test('a snapshot payload made in pieces is the text encoded at once, a piece per slice of 2,000 objects', async () => {
  const { encodeSnapshotPayload, snapshotPayloadText, decodeSnapshotPayload } = await import('./codec');
  const tasks = Array.from({ length: 4_500 }, (_, i) => ({ ID: `t${i}`, Spec: { ContainerSpec: { Image: 'busybox', Env: i % 2 ? undefined : ['A=1'] } }, Slot: i }));
  const payload = {
    store: { index: 42, tables: { cluster: [], node: [{ ID: 'n1' }], service: [], task: tasks, network: [], secret: [], config: [] } } as never,
    members: [{ raftId: 1, addr: '127.0.0.1:4242', nodeId: 'm1' }],
    removed: [7],
  };
  const makers = snapshotPayloadText(payload);
  // the node, three slices of tasks, and the tail: empty tables make no piece of their own
  assert.equal(makers.length, 5);
  const text = makers.map((m) => m()).join('');
  assert.equal(text, Buffer.from(encodeSnapshotPayload(payload)).toString());
  assert.deepEqual(decodeSnapshotPayload(Buffer.from(text)), decodeSnapshotPayload(encodeSnapshotPayload(payload)));
  const empty = { ...payload, store: { index: 1, tables: { cluster: [], node: [] } } as never };
  assert.equal(snapshotPayloadText(empty).map((m) => m()).join(''), Buffer.from(encodeSnapshotPayload(empty)).toString());
});
