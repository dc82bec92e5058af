// The node-to-node RPC layer: services without codegen, mutual TLS, role checks from certificates.
import './decoder-release';
export * from './service';
export * from './codec';
export * from './errors';
export * from './peer';
export * from './tls';
export * from './server';
export * from './client';
export * from './queue';
export * from './protocol';
export * from './drop-filter';
export * from './stream-calls';
