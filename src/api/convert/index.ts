export * from './filters';
export * from './query';
export * from './version';
export * from './logs';
export * from './strip';
export * from './system';
export * from './fields';
export * from './networks';
