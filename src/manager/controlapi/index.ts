export * from './controlapi';
export * from './core/filters';
export * from './core/validate';
export * from './core/defaults';
export * from './core/swarm-spec';
export * from './networks';
export * from './core/networks';
