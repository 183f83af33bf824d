import {
  BraidError,
  ErrorCodes,
  GetReducerFileGroup,
  MapperEnd,
  RegisterShuffle,
  ReportShuffleFetchFailure,
  Revive,
  UnregisterShuffle,
} from '../../protocol/index.js';
import { RpcRouter, type Connection } from '../../transport/index.js';
import type { LifecycleManager } from './lifecycle-manager.js';

/**
 * The methods a LifecycleManager serves. Its callers are the tasks and the
 * engine of one application, so a connection whose handshake names another
 * application is refused per request with WRONG_APP (fetch-failure reports
 * get an INVALID_REQUEST answer instead, as their protocol defines).
 */
export function lifecycleRouter(lm: LifecycleManager): RpcRouter {
  const sameApp = (conn: Connection, what: string) => {
    if (conn.appId !== lm.appId) {
      throw new BraidError(ErrorCodes.WRONG_APP, `${what} from application "${conn.appId}" refused: this lifecycle manager serves "${lm.appId}"`);
    }
  };
  return new RpcRouter()
    .on(RegisterShuffle, async (req, conn) => {
      sameApp(conn, 'RegisterShuffle');
      return { locations: await lm.registerShuffle(req.shuffleId, req.numMappers, req.numPartitions) };
    })
    .on(Revive, async (req, conn) => {
      sameApp(conn, 'Revive');
      return { results: await lm.revive(req.shuffleId, req.requests) };
    })
    .on(MapperEnd, async (req, conn) => {
      sameApp(conn, 'MapperEnd');
      return lm.mapperEnd(req);
    })
    .on(GetReducerFileGroup, async (req, conn) => {
      sameApp(conn, 'GetReducerFileGroup');
      return lm.getReducerFileGroup(req.shuffleId, req.startPartition, req.endPartition);
    })
    .on(UnregisterShuffle, async (req, conn) => {
      sameApp(conn, 'UnregisterShuffle');
      if (req.appId !== lm.appId) {
        throw new BraidError(ErrorCodes.WRONG_APP, `UnregisterShuffle names application "${req.appId}", this lifecycle manager serves "${lm.appId}"`);
      }
      await lm.unregisterShuffle(req.shuffleId);
      return {};
    })
    .on(ReportShuffleFetchFailure, (req, conn) => {
      // A report is judged by the application of both the connection and the request.
      const appId = conn.appId === lm.appId ? req.appId : conn.appId;
      return lm.reportFetchFailure({ ...req, appId });
    });
}
