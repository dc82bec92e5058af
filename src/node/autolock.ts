// Every manager follows the cluster's unlock key (swarmkit's manager watching its cluster object's
// UnlockKeys): autolock on → the node key and the Raft DEK are sealed under the key on disk, off →
// written plain again, a rotated key → sealed again under the new one. A manager that was down during
// a rotation still holds files sealed under the old key, so the old key unlocks it (as Docker warns:
// "keep a record of the old key around"); once it applies the new cluster object it re-seals.
// Turning autolock on also rotates the DEK: the old one sat unsealed on disk until now.
import type { Logger } from 'pino';
import type { NodeSecurity } from '../manager/ca/keystore';
import type { Manager } from '../manager/manager';
import { forEachGuarded, LoopGuard, runInBackground } from '../sys/loop-guard';

/** The unlock key the cluster object names (undefined: autolock off). */
function clusterKek(manager: Manager): Buffer | undefined {
  const c = manager.store.view((tx) => tx.find('cluster'))[0];
  const k = c?.internal?.unlockKey;
  return k ? Buffer.from(k, 'base64') : undefined;
}

const same = (a: Buffer | undefined, b: Buffer | undefined) => (a && b ? a.equals(b) : a === b);

export function followUnlockKey(manager: Manager, security: NodeSecurity, logger: Logger): () => void {
  const watch = manager.store.watch({ kinds: ['cluster'] });
  const apply = async () => {
    const want = clusterKek(manager);
    const had = manager.dek.kek;
    if (same(want, security.kek) && same(want, had)) return;
    // node key first, then the DEK (each checked on its own: a crash may have left one behind)
    if (!same(want, security.kek)) await security.setKek(want);
    if (!same(want, had)) await manager.dek.setKek(want);
    logger.info({ autolock: !!want }, want ? (had ? 'unlock key rotated: keys sealed again' : 'autolock on: node key and raft DEK sealed with the unlock key') : 'autolock off');
    if (want && !had) await manager.consensus.rotateDek();
  };
  const guard = new LoopGuard({ name: 'unlock key follow', log: logger });
  runInBackground(
    'unlock key follow',
    (async () => {
      await guard.step(apply);
      await forEachGuarded(watch, async () => (watch.drain(), await apply()), guard);
    })(),
    logger,
  );
  return () => watch.close();
}
