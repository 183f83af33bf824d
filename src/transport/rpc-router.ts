import {
  BraidError,
  ErrorCodes,
  MessageType,
  ProtocolError,
  decodeValue,
  encodeValue,
  methodById,
  type MessageOfType,
  type RpcMethod,
} from '../protocol/index.js';
import { checkRpcAccess } from '../security/access.js';
import type { Connection } from './connection.js';

export type RpcHandler<Req, Res> = (request: Req, conn: Connection) => Res | Promise<Res>;

/**
 * Dispatches RpcRequests to typed handlers, each only from the roles the
 * access table allows (others get FORBIDDEN). A handler's thrown error becomes
 * an RpcFailure with its code; the connection stays open. A payload that
 * does not decode is a protocol violation: the failure is sent, then the
 * connection is closed.
 */
export class RpcRouter {
  private readonly handlers = new Map<number, { method: RpcMethod<unknown, unknown>; handler: RpcHandler<unknown, unknown> }>();
  private served = 0;

  /** `observe` hears of every served call, by method name, with its duration in seconds (for metrics). */
  constructor(private readonly observe?: (method: string, seconds: number) => void) {}

  /** Calls being handled whose answer has not been handed to the connection yet (a stopping server waits for them). */
  get inFlight(): number {
    return this.served;
  }

  on<Req, Res>(method: RpcMethod<Req, Res>, handler: RpcHandler<Req, Res>): this {
    this.handlers.set(method.id, {
      method: method as unknown as RpcMethod<unknown, unknown>,
      handler: handler as unknown as RpcHandler<unknown, unknown>,
    });
    return this;
  }

  dispatch(message: MessageOfType<typeof MessageType.RpcRequest>, conn: Connection): void {
    const entry = this.handlers.get(message.method);
    if (entry === undefined) {
      const known = methodById(message.method);
      conn.replyFailure(
        message.requestId,
        new BraidError(ErrorCodes.UNKNOWN_METHOD, known ? `${known.name} is not served here` : `unknown method ${message.method}`),
      );
      return;
    }
    try {
      checkRpcAccess(message.method, conn.peerRole);
    } catch (err) {
      conn.replyFailure(message.requestId, err);
      return;
    }
    let request: unknown;
    try {
      request = decodeValue(entry.method.request, message.body, entry.method.name);
    } catch (err) {
      conn.replyFailure(message.requestId, err);
      conn.close(err instanceof ProtocolError ? err : new ProtocolError(String(err)));
      return;
    }
    const requestId = message.requestId;
    const method = entry.method;
    // Encoding the answer is a step of its own so that an answer the codec
    // rejects also becomes an RpcFailure (not an unhandled rejection and a
    // caller left waiting for its timeout).
    const started = this.observe === undefined ? 0 : performance.now();
    this.served++;
    Promise.resolve()
      .then(() => entry.handler(request, conn))
      .finally(() => this.observe?.(method.name, (performance.now() - started) / 1000))
      .then((response) => encodeValue(method.response, response))
      .then(
        (body) => void conn.reply({ type: MessageType.RpcResponse, requestId, method: method.id, body }),
        (err: unknown) => void conn.replyFailure(requestId, err),
      )
      .finally(() => this.served--);
  }
}
