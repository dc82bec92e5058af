// The one seam tests use to cut links (test/harness/fault-injector.ts installs a filter in a daemon
// started through test/harness/daemon-main.ts). Production never installs one: every address is
// reachable, and the client's partition paths below (blackHole, whenReachable) never run.
let filter: ((address: string) => boolean) | null = null;

/** Installs (or, with null, removes) the predicate saying which addresses this process's RPCs are dropped to. */
export function setRpcDropFilter(f: ((address: string) => boolean) | null): void {
  filter = f;
}

/** True when traffic to `address` ("host:port") is currently dropped by an installed test filter. */
export function rpcDropped(address: string): boolean {
  return filter !== null && filter(address);
}
