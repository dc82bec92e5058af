export { createApiServer, type ApiServer, type ApiServerOptions, type ApiLogger } from './server';
export type * from './backend';
export { statusOf } from './errors';
