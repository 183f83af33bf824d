/** Security: who may do what, keys and proofs, TLS material, secrets from files, server security options. */
export { APPLICATION_ROLES, CLUSTER_ROLES, actsFor, checkApplication, checkRpcAccess, isClusterRole, isKnownRole, pushAllowed, readAllowed, roleName, rpcRoles, type Caller } from './access.js';
export { applicationKey, handshakeProof, newNonce, proofMatches, type Transcript } from './keys.js';
export { TlsMaterial, type SecureContextHolder, type TlsFiles, type TlsInput } from './tls.js';
export { randomSecret, readSecretFile } from './secret-file.js';
export { NO_SECRET_HELP, resolveServerSecurity, type ServerSecurity, type ServerSecurityOptions } from './server-security.js';
