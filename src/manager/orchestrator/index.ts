export { ReplicatedOrchestrator } from './replicated';
export { GlobalOrchestrator } from './global';
export { RestartSupervisor } from './restart';
export { TaskReaper } from './reaper';
export { ConstraintEnforcer } from './enforcer';
export type { LoopDeps } from './loop';
export { JobsOrchestrator } from './jobs';
