/**
 * Tasks one store write creates or changes at most, whichever component writes: each write is one
 * Raft entry, refused over 1.5 MiB (swarmkit's MaxTransactionBytes), and a task is about 1–1.5 KiB
 * of JSON with a small spec. The manager also keeps answering between writes.
 */
export const MAX_TASKS_PER_WRITE = 500;

/**
 * Writes in the Raft log and not yet applied at most (store pipelining, MemoryStore.write): beyond
 * this the next transaction waits for the oldest to be applied. Unbounded, a burst of 500-task
 * writes put tens of MiB in flight to the followers, whose acknowledgements then missed the
 * transport's deadline (issue 15's 1,000-node run); four keep every component writing while one
 * commit replicates, as swarmkit's one-at-a-time chain does not.
 */
export const MAX_PENDING_WRITES = 4;
