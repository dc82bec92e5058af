// The routing mesh's input: what the dispatcher tells a node about ingress-published ports (networking.md §2).

export type MeshProtocol = 'tcp' | 'udp';

/** PROXY protocol version sent to a backend before the client's bytes (service label com.shoal.mesh.proxy-protocol). */
export type ProxyProtocolVersion = 'v1' | 'v2';

/** One ready task behind a published port: where the mesh connects to reach it. */
export interface MeshBackend {
  /** The task ID: a backend is the same backend while its ID is. */
  id: string;
  host: string;
  port: number;
}

/** One ingress-published port and the tasks that answer it right now. Every backend listed is ready. */
export interface PublishedPortTable {
  protocol: MeshProtocol;
  port: number;
  proxyProtocol?: ProxyProtocolVersion;
  backends: MeshBackend[];
}

/** A published port's identity: a listener is opened per key. */
export type PortKey = `${MeshProtocol}/${number}`;

export const portKey = (t: { protocol: MeshProtocol; port: number }): PortKey => `${t.protocol}/${t.port}`;
