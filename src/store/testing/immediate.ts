import { MemoryStore } from '../store';

/**
 * A store whose proposals commit at once, in order, with no durability or replication: what a
 * one-member cluster does without a disk. For tests and simulations of the components above it.
 * Committed objects are frozen: a component that changes an object it was handed without a copy
 * (`read`, `tx.shared`) fails its tests instead of corrupting a manager's state.
 */
export function immediateStore(opts: { afterAppend?: (store: MemoryStore) => void } = {}): MemoryStore {
  let index = 0;
  const store: MemoryStore = new MemoryStore({
    propose: async (changes) => store.applyCommitted(++index, changes),
    append: (changes) => {
      store.applyCommitted(++index, changes);
      // inside the write, before the writer goes on: where a test puts another writer's change between two writes
      opts.afterAppend?.(store);
      return { index, applied: Promise.resolve() };
    },
  }, { freezeCommitted: true });
  return store;
}
