export { Scheduler, type SchedulerDeps } from './scheduler';
