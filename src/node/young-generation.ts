import v8 from 'node:v8';
import type { YoungGeneration } from './core/young-generation';

/**
 * Applies a young-generation mode (the rule and why: core/young-generation.ts) through V8's
 * `--semi-space-growth-factor`, which V8 reads each time it would grow the young generation: 1 holds
 * it at its size, 2 is V8's own default. Given on node's command line the flag did not hold the young
 * generation of a test script here, set at run time it did; the daemon sets it before loading most
 * of its code, which alone grew the young generation to 8 MiB a semi-space.
 */
export function setYoungGeneration(mode: YoungGeneration): void {
  v8.setFlagsFromString(`--semi-space-growth-factor=${mode === 'held' ? 1 : 2}`);
}
