export { Connection, DEFAULT_CONNECTION_OPTIONS, unexpectedResponse, type ConnectionOptions, type InboundRequest, type OutboundRequest } from './connection.js';
export { connect, type ConnectOptions } from './client.js';
export { TransportServer, type ServerOptions } from './server.js';
export { ConnectionPool } from './pool.js';
export { RpcRouter, type RpcHandler } from './rpc-router.js';
export { tokenAuthenticator, type Authenticator, type HandshakeMessage } from './handshake.js';
export { applicationToken, clusterAuthenticator } from './auth.js';
