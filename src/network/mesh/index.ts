// The routing mesh's public surface: what the node's network layer wires.
export { RoutingMesh, type RoutingMeshOptions, type MeshPortStatus } from './mesh';
export type { MeshCounters, MeshLogger } from './port';
export type { MeshBackend, MeshProtocol, ProxyProtocolVersion, PublishedPortTable } from './core/types';
export { parseProxyHeader, type ParsedProxyHeader } from './core/proxy-protocol';
