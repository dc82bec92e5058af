import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogBroker } from '../manager/dispatcher/logbroker';
import type { Manager } from '../manager/manager';
import type { LogLine } from '../agent/executor/types';
import { isKind, unavailable, NO_LEADER_MESSAGE } from '../lib/errors';
import { TaskLogs } from './task-logs';

const FOLLOW = { follow: true, tail: 'all' as const, timestamps: false };

/** A manager stand-in: leadership is a flag; its listeners are told when it changes. */
function fakeManager(leading: boolean) {
  const listeners = new Set<(l: boolean) => void>();
  let channelAsks = 0;
  const m = {
    isLeader: () => leading,
    leaderChannel: () => {
      channelAsks++;
      throw unavailable(NO_LEADER_MESSAGE);
    },
    onLeaderComponents: (cb: (l: boolean) => void) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
  };
  return {
    manager: m as unknown as Manager,
    setLeading(l: boolean) {
      leading = l;
      for (const cb of listeners) cb(l);
    },
    listeners,
    channelAsks: () => channelAsks,
  };
}

function setup(leading: boolean) {
  const fm = fakeManager(leading);
  const broker = new LogBroker();
  const localAsked: string[] = [];
  const logs = new TaskLogs({
    manager: fm.manager,
    broker,
    nodeId: 'self',
    local: (taskId) => {
      localAsked.push(taskId);
      return (async function* (): AsyncGenerator<LogLine> {
        yield { stream: 'stdout', time: 1, data: Buffer.from(`local ${taskId}\n`) };
      })();
    },
  });
  return { fm, broker, logs, localAsked };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('a task of this node is read from the local agent, on the leader and on a follower', async () => {
  for (const leading of [true, false]) {
    const { logs, localAsked } = setup(leading);
    const lines = await collect(logs.open('self', 't1', FOLLOW, new AbortController().signal));
    assert.deepEqual(lines.map((l) => l.data.toString()), ['local t1\n']);
    assert.deepEqual(localAsked, ['t1']);
  }
});

test('on the leader another node\'s task goes through the broker; aborting ends the subscription', async () => {
  const { logs, broker, fm } = setup(true);
  const ac = new AbortController();
  const it = logs.open('other', 't2', FOLLOW, ac.signal);
  assert.equal(broker.size, 1);
  const done = collect(it);
  ac.abort();
  assert.deepEqual(await done, []);
  assert.equal(broker.size, 0);
  assert.equal(fm.channelAsks(), 0);
});

test('on a follower another node\'s task is asked of the leader; with no leader it fails Docker-style after a few tries', async () => {
  const { logs, broker, fm } = setup(false);
  await assert.rejects(collect(logs.open('other', 't3', FOLLOW, new AbortController().signal)), (e) => isKind(e, 'Unavailable') && e.message === NO_LEADER_MESSAGE);
  assert.equal(fm.channelAsks(), 4, 'first try + 3 retries');
  assert.equal(broker.size, 0, 'the follower\'s own broker is not used');
});

test('serve: a manager that does not lead refuses (no hop chains)', () => {
  const { logs } = setup(false);
  assert.throws(() => logs.serve({ nodeId: 'other', taskId: 't', options: FOLLOW }, new AbortController().signal), (e) => isKind(e, 'Unavailable'));
});

test('serve: the leader\'s subscription ends when the follower cancels, and when this manager stops leading', async () => {
  const { logs, broker, fm } = setup(true);
  const ac = new AbortController();
  const cancelled = collect(logs.serve({ nodeId: 'other', taskId: 't', options: FOLLOW }, ac.signal));
  assert.equal(broker.size, 1);
  ac.abort();
  assert.deepEqual(await cancelled, []);
  assert.equal(broker.size, 0);
  assert.equal(fm.listeners.size, 0, 'no leadership listener left behind');

  const deposed = collect(logs.serve({ nodeId: 'other', taskId: 't', options: FOLLOW }, new AbortController().signal));
  assert.equal(broker.size, 1);
  fm.setLeading(false);
  assert.deepEqual(await deposed, []);
  assert.equal(broker.size, 0);
  assert.equal(fm.listeners.size, 0);
});

test('serve: a task of the leader\'s own node is read from its agent', async () => {
  const { logs, localAsked } = setup(true);
  const lines = await collect(logs.serve({ nodeId: 'self', taskId: 't9', options: { follow: false, tail: 1, timestamps: false } }, new AbortController().signal));
  assert.deepEqual(lines.map((l) => [l.stream, l.time, Buffer.from(l.data).toString()]), [['stdout', 1, 'local t9\n']]);
  assert.deepEqual(localAsked, ['t9']);
});
