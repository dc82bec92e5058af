// Long simulation runs by hand:
//   node dist/test/sim/run.js --seeds 5000 [--start 1] [--ticks 400]
//   node dist/test/sim/run.js --seed 1234 --trace      (replay one seed, print its full step list)
import { formatFailure, paramsForSeed, simulate, type SimParams } from './sim';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function main(): number {
  const overrides: Partial<SimParams> = {};
  const ticks = arg('ticks');
  if (ticks) overrides.ticks = Number(ticks);
  const one = arg('seed');
  if (one !== undefined) {
    const res = simulate(paramsForSeed(Number(one), overrides));
    if (process.argv.includes('--trace')) for (const l of res.trace) console.log(l);
    if (!res.ok) {
      console.error(formatFailure(res, 0));
      return 1;
    }
    console.log(`seed ${one} ok ${JSON.stringify(res.stats)}`);
    return 0;
  }
  const n = Number(arg('seeds') ?? '1000');
  const start = Number(arg('start') ?? '1');
  const t0 = Date.now();
  let failures = 0;
  for (let s = start; s < start + n; s++) {
    const res = simulate(paramsForSeed(s, overrides));
    if (!res.ok) {
      failures++;
      console.error(formatFailure(res, 60));
      if (process.argv.includes('--stop')) break;
    }
    if ((s - start + 1) % 500 === 0) console.log(`${s - start + 1} seeds, ${failures} failures, ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
  console.log(`done: ${n} seeds from ${start}, ${failures} failures, ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return failures ? 1 : 0;
}

process.exitCode = main();
