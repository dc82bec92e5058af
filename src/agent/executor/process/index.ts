export { ProcessExecutor, ProcessController, dockerArch, dockerOs, shoalVersion, type ProcessExecutorOptions } from './executor';
export { UNKNOWN_EXIT_CODE } from './runtime';
export { processContainerId } from './state';
