export * from './types';
export * from './store';
export * from './watch';
export * from './limits';
export type { TaskCounts } from './task-counts';
export { type NodeLoad, accountTask, copyLoad, emptyLoad, hostPortsOf } from './node-loads';
