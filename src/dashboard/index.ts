export { createDashboardServer, parseDashboardAddr, type DashboardServer, type DashboardBackend } from './server';
export type { ClusterChanges } from './hub';
