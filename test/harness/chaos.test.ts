// The chaos test's own judge: checkWrites must catch each kind of lost or phantom write, and the
// fault planner must never spend more than one manager's worth of quorum.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SeededRng } from '../../src/lib/ports';
import { checkWrites, outcomeOf, planFault, type ActiveFault, type FinalService, type WriteRecord } from './chaos';

const w = (x: Partial<WriteRecord> & Pick<WriteRecord, 'kind' | 'name'>): WriteRecord => ({ outcome: 'ack', status: 200, message: '', ...x });
const svc = (name: string, id: string, gen: number, replicas: number, envGen: number): FinalService => ({
  ID: id,
  Version: { Index: 100 },
  Spec: { Name: name, Labels: { 'chaos.gen': String(gen) }, Mode: { Replicated: { Replicas: replicas } }, TaskTemplate: { ContainerSpec: { Env: [`GEN=${envGen}`] } } },
});
const create = (name: string, id: string, gen: number, outcome: WriteRecord['outcome'] = 'ack') => w({ kind: 'create', name, id, gen, replicas: 1, envGen: gen, outcome });

describe('chaos write check', () => {
  test('outcomes: 2xx acknowledged, 4xx and out-of-sequence refused, anything else unknown', () => {
    assert.equal(outcomeOf(201, ''), 'ack');
    assert.equal(outcomeOf(404, 'not found'), 'failed');
    assert.equal(outcomeOf(500, 'rpc error: code = Unknown desc = update out of sequence'), 'failed');
    assert.equal(outcomeOf(500, 'rpc error: code = Unknown desc = The swarm does not have a leader.'), 'unknown');
    assert.equal(outcomeOf(0, 'socket hang up'), 'unknown');
  });

  test('a consistent history passes', () => {
    const log = [
      create('a', 'A', 1),
      w({ kind: 'update', name: 'a', id: 'A', gen: 2, baseVersion: 10, replicas: 3, envGen: 1 }),
      w({ kind: 'update', name: 'a', id: 'A', gen: 3, baseVersion: 12, replicas: 3, envGen: 3 }),
      w({ kind: 'update', name: 'a', id: 'A', gen: 4, baseVersion: 14, replicas: 0, envGen: 3, outcome: 'unknown', status: 0 }),
      create('b', 'B', 5),
      w({ kind: 'remove', name: 'b', id: 'B' }),
      create('c', undefined as never, 6, 'unknown'),
    ];
    assert.deepEqual(checkWrites(log, [svc('a', 'A', 3, 3, 3)]), []);
    // The unknown update sent against a later version may have applied; so may the unknown create.
    assert.deepEqual(checkWrites(log, [svc('a', 'A', 4, 0, 3), svc('c', 'C', 6, 1, 6)]), []);
  });

  test('lost, phantom and stale writes are each reported', () => {
    const base = [create('a', 'A', 1), w({ kind: 'update', name: 'a', id: 'A', gen: 2, baseVersion: 10, replicas: 2, envGen: 1 })];
    assert.match(checkWrites(base, []).join(), /acknowledged create \(A\) is missing/);
    assert.match(checkWrites(base, [svc('a', 'A', 1, 1, 1)]).join(), /holds the spec of write gen 1/);
    assert.match(checkWrites(base, [svc('a', 'A', 2, 1, 1)]).join(), /gen 2 holds replicas=1/);
    assert.match(checkWrites(base, [svc('a', 'A', 2, 2, 1), svc('z', 'Z', 9, 1, 9)]).join(), /z exists but no client created it/);
    assert.match(checkWrites([...base, w({ kind: 'remove', name: 'a', id: 'A' })], [svc('a', 'A', 2, 2, 1)]).join(), /remove was acknowledged, yet it exists/);
    assert.match(checkWrites([create('b', 'B', 3, 'failed')], [svc('b', 'B', 3, 1, 3)]).join(), /its create was refused/);
    const twice = [...base, w({ kind: 'update', name: 'a', id: 'A', gen: 3, baseVersion: 10, replicas: 5, envGen: 1 })];
    assert.match(checkWrites(twice, [svc('a', 'A', 3, 5, 1)]).join(), /both acknowledged against version 10 \(lost update\)/);
    // A 404 for a service nobody had asked to remove: it vanished.
    const vanished = [...base, w({ kind: 'update', name: 'a', id: 'A', gen: 5, baseVersion: 12, status: 404, outcome: 'failed', sentAt: 5, doneAt: 6 })];
    assert.match(checkWrites(vanished, [svc('a', 'A', 2, 2, 1)]).join(), /answered 404 .* though no remove of it had been sent/);
    const removedFirst = [...vanished, w({ kind: 'remove', name: 'a', id: 'A', outcome: 'unknown', status: 0, sentAt: 4, doneAt: 9 })];
    assert.doesNotMatch(checkWrites(removedFirst, []).join(), /answered 404/);
    // An unknown update sent against an older version than the last acknowledged one cannot be the last.
    const older = [...base, w({ kind: 'update', name: 'a', id: 'A', gen: 4, baseVersion: 8, replicas: 0, envGen: 1, outcome: 'unknown' })];
    assert.match(checkWrites(older, [svc('a', 'A', 4, 0, 1)]).join(), /holds the spec of write gen 4/);
  });
});

describe('chaos fault planner', () => {
  test('never more than one manager down, isolated or cut from another manager at a time', () => {
    const managers = [0, 3, 4];
    const workers = [1, 2];
    const rng = new SeededRng(7);
    let active: ActiveFault[] = [];
    const kinds = new Set<string>();
    for (let now = 0; now < 200_000; now += 700) {
      active = active.filter((f) => f.until > now);
      const f = planFault(() => rng.next(), managers, workers, active, now);
      if (!f) continue;
      active.push(f);
      kinds.add(f.kind);
      const hit = active.filter((x) => x.kind === 'cut-link' ? x.nodes.every((n) => managers.includes(n)) : x.nodes.some((n) => managers.includes(n)));
      assert.ok(hit.length <= 1, JSON.stringify(active));
      assert.equal(new Set(active.flatMap((x) => x.nodes)).size, active.flatMap((x) => x.nodes).length, 'a node is in one fault at a time');
    }
    assert.deepEqual([...kinds].sort(), ['cut-link', 'isolate-manager', 'isolate-worker', 'kill-manager', 'kill-worker', 'stop-manager', 'stop-worker']);
  });
});
