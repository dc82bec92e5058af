// Issue 9 measurement: a `service logs --follow` reader that stops reading does not grow the
// manager's memory. One daemon (process runtime); a task prints ~N × 200-byte lines; a raw client
// opens the follow stream and never reads. Printed: the bytes the task wrote, the daemon's RSS before
// and at most while the reader sat there (the follow path holds ≤ 1 MiB waiting, node/logs.ts).
//
//   npm run build && node dist/bench/slow-reader.js [--lines 400000] [--seconds 20]
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { freePort, sleep, TestDaemon, waitFor } from '../test/harness/daemon';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const LINES = Number(arg('lines', '400000'));
const SECONDS = Number(arg('seconds', '20'));
/** `--reader none`: the same run without a reader, for comparison. */
const READER = arg('reader', 'stalled');

const rssMb = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) n += dirBytes(p);
    else if (e.isFile()) n += fs.statSync(p).size;
  }
  return n;
}

async function main(): Promise<void> {
  const d = new TestDaemon({ hostname: 'slow-reader' });
  await d.start();
  try {
    d.dockerOk(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${await freePort()}`]);
    const line = 'x'.repeat(199);
    // output starts after the reader is attached
    const script = `sleep 3; i=0; while [ $i -lt ${LINES} ]; do echo ${line}; i=$((i+1)); done; sleep 100000`;
    d.dockerOk(['service', 'create', '--detach', '--no-resolve-image', '--name', 'spam', 'busybox', 'sh', '-c', script]);
    await waitFor(async () => (await d.runningTasks('spam')).length === 1, 30_000, 'the task running');
    const pid = d.proc!.pid!;
    const before = rssMb(pid);
    // the reader: asks for the follow stream, then never reads
    const req = READER === 'none' ? undefined : http.request({ socketPath: d.sock, path: '/v1.47/services/spam/logs?follow=1&stdout=1&stderr=1', method: 'GET', agent: false }, (res) => res.pause());
    req?.on('error', () => undefined);
    req?.end();
    let max = before;
    for (let t = 0; t < SECONDS * 2; t++) {
      await sleep(500);
      max = Math.max(max, rssMb(pid));
    }
    const written = dirBytes(path.join(d.dataDir, 'tasks'));
    req?.destroy();
    console.log('| reader | task output on disk | daemon RSS before | daemon RSS max |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| ${READER} | ${(written / 1e6).toFixed(1)} MB | ${before.toFixed(1)} MB | ${max.toFixed(1)} MB |`);
  } finally {
    await d.teardown();
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
