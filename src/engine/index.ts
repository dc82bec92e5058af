export * from './client';
export * from './errors';
export * from './stream';
export * from './types';
