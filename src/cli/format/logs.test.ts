import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Demuxer, LineSplitter, logPrefix, parseLogLine } from './logs';

const frame = (stream: number, text: string) => {
  const body = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(body.length, 4);
  return Buffer.concat([h, body]);
};

test('demuxer reassembles frames split across chunks', () => {
  const all = Buffer.concat([frame(1, 'hello\n'), frame(2, 'oops\n')]);
  const d = new Demuxer();
  const got = [...d.push(all.subarray(0, 5)), ...d.push(all.subarray(5, 17)), ...d.push(all.subarray(17))];
  assert.deepEqual(
    got.map((f) => [f.stream, f.data.toString()]),
    [
      [1, 'hello\n'],
      [2, 'oops\n'],
    ],
  );
  assert.equal(d.pending, 0);
});

test('line splitter keeps partial lines until complete', () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push('a\nb'), ['a\n']);
  assert.deepEqual(s.push('c\nd'), ['bc\n']);
  assert.deepEqual(s.flush(), ['d']);
});

test('log lines: details and optional timestamp', () => {
  const d = 'com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1';
  assert.deepEqual(parseLogLine(`${d} hello world\n`, false), {
    details: { 'com.docker.swarm.node.id': 'n1', 'com.docker.swarm.service.id': 's1', 'com.docker.swarm.task.id': 't1' },
    message: 'hello world\n',
  });
  const p = parseLogLine(`2024-01-01T00:00:00.000000000Z ${d} hi\n`, true);
  assert.equal(p?.timestamp, '2024-01-01T00:00:00.000000000Z');
  assert.equal(p?.message, 'hi\n');
  assert.equal(parseLogLine('garbage', false), null);
});

test('log prefix pads short slots to the widest slot', () => {
  assert.equal(logPrefix({ serviceName: 'web', slot: 1, taskId: 'abcdefghijklmnopqrstuvwxy', nodeName: 'node1', maxSlotDigits: 2 }), 'web.1.abcdefghijkl@node1     | ');
  assert.equal(logPrefix({ serviceName: 'web', slot: 10, taskId: 'abcdefghijklmnopqrstuvwxy', nodeName: 'node1', maxSlotDigits: 2 }), 'web.10.abcdefghijkl@node1    | ');
  assert.equal(logPrefix({ serviceName: 'web', slot: 1, taskId: 't', nodeName: 'n', maxSlotDigits: 1, noTaskIds: true }), 'web.1@n    | ');
});
