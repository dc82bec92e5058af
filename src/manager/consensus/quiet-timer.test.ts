import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { QuietTimer } from './quiet-timer';

test('fires once after a quiet stretch, and waits again while activity goes on', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let fired = 0;
    const t = new QuietTimer(10, () => fired++);
    t.arm();
    // activity every 4 ms for 40 ms: never quiet for 10 ms
    for (let i = 0; i < 10; i++) {
      mock.timers.tick(4);
      t.touch();
    }
    assert.equal(fired, 0);
    assert.equal(t.armed, true);
    // quiet from 40 ms on: it fires between one and two stretches later (checks are per stretch)
    mock.timers.tick(9);
    assert.equal(fired, 0);
    for (let i = 0; i < 12; i++) mock.timers.tick(1);
    assert.equal(fired, 1);
    assert.equal(t.armed, false);
    mock.timers.tick(100);
    assert.equal(fired, 1, 'one firing per arm');
  } finally {
    mock.timers.reset();
  }
});

test('arm() while armed keeps the first deadline; cancel() stops it', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let fired = 0;
    const t = new QuietTimer(10, () => fired++);
    t.arm();
    mock.timers.tick(6);
    t.arm();
    mock.timers.tick(5);
    assert.equal(fired, 1);
    t.arm();
    t.cancel();
    mock.timers.tick(50);
    assert.equal(fired, 1);
    assert.equal(t.armed, false);
  } finally {
    mock.timers.reset();
  }
});
