export { Connection, DEFAULT_CONNECTION_OPTIONS, unexpectedResponse, type ConnectionOptions, type InboundRequest, type OutboundRequest } from './connection.js';
export { connect, DEFAULT_CONNECT_TIMEOUT_MS, type ConnectOptions } from './client.js';
export { DEFAULT_SERVER_LIMITS, TransportServer, type ConnectionStats, type Refusals, type ServerLimits, type ServerOptions } from './server.js';
export { ConnectionPool, type GetOptions, type PoolOptions } from './pool.js';
export { RpcRouter, type RpcHandler } from './rpc-router.js';
export { applicationAuth, clusterAuth, type HandshakeMessage, type ServerAuth } from './handshake.js';
export { DEFAULT_LIVENESS, checkLiveness, clientLiveness, serverLiveness, type Liveness } from './liveness.js';
export { advertisedHost, interfaceAddress, isLoopback, isWildcard, localAddressTowards, type AdvertiseContext, type AdvertiseOptions } from './advertise.js';
