import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_TABLES, MeshDrainBook } from './mesh-drain';

test('a task is drained once every connected node acknowledged a table without it', () => {
  const book = new MeshDrainBook();
  book.record(1, ['old', 'other']);
  book.record(2, ['new', 'other']); // the rolling update: old left, new joined
  book.ack('n1', 1);
  book.ack('n2', 1);
  assert.deepEqual(book.drained(['old'], ['n1', 'n2']), []);
  book.ack('n1', 2);
  // n2's mesh still sends new connections to old
  assert.deepEqual(book.drained(['old'], ['n1', 'n2']), []);
  book.ack('n2', 2);
  assert.deepEqual(book.drained(['old', 'other', 'gone-long-ago'], ['n1', 'n2']), ['old', 'gone-long-ago']);
});

test('a connected node that acknowledged nothing holds every task back; a node whose session ended is not waited for', () => {
  const book = new MeshDrainBook();
  book.record(1, ['a']);
  book.record(2, []);
  book.ack('n1', 2);
  assert.deepEqual(book.drained(['a'], ['n1', 'n3']), []);
  book.forget('n3');
  assert.deepEqual(book.drained(['a'], ['n1']), ['a']);
  // no node connected: nobody forwards to it
  assert.deepEqual(book.drained(['a'], []), ['a']);
});

test('acknowledgements: a late older one does not move a node back; an unknown version is ignored', () => {
  const book = new MeshDrainBook();
  book.record(1, ['a']);
  book.record(2, []);
  book.ack('n1', 2);
  book.ack('n1', 1);
  assert.equal(book.ackedBy('n1'), 2);
  book.ack('n2', 7);
  assert.equal(book.ackedBy('n2'), undefined);
});

test('prune keeps the tables connected nodes may still acknowledge, at most MAX_TABLES', () => {
  const book = new MeshDrainBook();
  for (let v = 1; v <= 5; v++) book.record(v, [`t${v}`]);
  book.ack('n1', 3);
  book.ack('n2', 4);
  book.ack('gone', 1);
  book.prune(['n1', 'n2']);
  assert.equal(book.size(), 3); // 3, 4, 5
  assert.equal(book.ackedBy('gone'), undefined);
  // a node that never acknowledges: the book stays bounded
  for (let v = 6; v <= MAX_TABLES + 10; v++) book.record(v, []);
  book.prune(['n1', 'never']);
  assert.equal(book.size(), MAX_TABLES);
  // n1's acknowledged table was pruned: it holds tasks back until it acknowledges a newer one
  assert.deepEqual(book.drained(['t1'], ['n1']), []);
  book.ack('n1', MAX_TABLES + 10);
  assert.deepEqual(book.drained(['t1'], ['n1']), ['t1']);
});
