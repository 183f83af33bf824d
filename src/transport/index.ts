export { Connection, DEFAULT_CONNECTION_OPTIONS, unexpectedResponse, type ConnectionOptions, type InboundRequest, type OutboundRequest } from './connection.js';
export { connect, DEFAULT_CONNECT_TIMEOUT_MS, type ConnectOptions } from './client.js';
export { TransportServer, type ServerOptions } from './server.js';
export { ConnectionPool, type GetOptions, type PoolOptions } from './pool.js';
export { RpcRouter, type RpcHandler } from './rpc-router.js';
export { tokenAuthenticator, type Authenticator, type HandshakeMessage } from './handshake.js';
export { applicationToken, clusterAuthenticator, checkApplication, checkRole, isApplicationRole } from './auth.js';
export { DEFAULT_LIVENESS, checkLiveness, clientLiveness, serverLiveness, type Liveness } from './liveness.js';
export { advertisedHost, interfaceAddress, isLoopback, isWildcard, localAddressTowards, type AdvertiseContext, type AdvertiseOptions } from './advertise.js';
