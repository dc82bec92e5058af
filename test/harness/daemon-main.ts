// The daemon as tests that cut links start it: `node dist/test/harness/daemon-main.js
// --test-fault-file PATH <shoal daemon flags>` installs the fault injector, then runs the real
// daemon entry with the remaining flags. The fault flag exists only here, never in `shoal daemon`.
import path from 'node:path';
import { runDaemon } from '../../src/node/main';
import { setTestFaultFile } from './fault-injector';

const argv = process.argv.slice(2);
const i = argv.indexOf('--test-fault-file');
if (i >= 0) {
  setTestFaultFile(path.resolve(argv[i + 1]!));
  argv.splice(i, 2);
}
void runDaemon(argv);
