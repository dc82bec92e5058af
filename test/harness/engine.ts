// Where tests find a Docker Engine: SHOAL_TEST_ENGINE (e.g. unix:///run/shoal-ci/docker.sock,
// as printed by `scripts/ci-engine.sh start`) and SHOAL_TEST_IMAGE (default shoal-busybox:test).
// Without an engine a test skips with the reason, except in CI (CI=true), where it must fail.

export const DEFAULT_TEST_IMAGE = 'shoal-busybox:test';

export interface TestEngine {
  /** `unix:///path.sock` or `tcp://host:port`. */
  host: string;
  /** A local image with busybox applets (sh, sleep, echo, httpd, …). */
  image: string;
}

export const NO_ENGINE_REASON =
  'no Docker Engine for tests: set SHOAL_TEST_ENGINE (run `eval "$(scripts/ci-engine.sh start)"`)';

/** The engine to test against, or undefined when none is configured (outside CI). Throws in CI. */
export function testEngine(): TestEngine | undefined {
  const host = process.env.SHOAL_TEST_ENGINE?.trim();
  const image = process.env.SHOAL_TEST_IMAGE?.trim() || DEFAULT_TEST_IMAGE;
  if (!host) {
    if (process.env.CI === 'true') throw new Error(`${NO_ENGINE_REASON}; CI=true, so engine tests must run`);
    return undefined;
  }
  return { host, image };
}

/**
 * Options for `describe`/`test` from node:test: `{ skip: reason }` when there is no engine (outside CI).
 * In CI without an engine, `testEngine()` throws inside the test, so it fails loudly.
 */
export function engineTestOptions(): { skip?: string } {
  if (process.env.SHOAL_TEST_ENGINE?.trim() || process.env.CI === 'true') return {};
  return { skip: NO_ENGINE_REASON };
}

/** The engine, for use inside a test body (after `engineTestOptions()` decided not to skip). */
export function requireEngine(): TestEngine {
  const e = testEngine();
  if (!e) throw new Error(NO_ENGINE_REASON);
  return e;
}
