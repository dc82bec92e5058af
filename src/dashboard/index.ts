export { createDashboardServer, type DashboardServer, type DashboardBackend } from './server';
export { parseDashboardAddr } from './addr';
export type { ClusterChanges } from './hub';
