/**
 * Who may do what: the one table of roles per control method, and the
 * checks every server runs on a connection's proven role and application.
 * Everything here is an allow-list: a role or method that is not listed is
 * refused, so a new role or method gets no rights until it is added here.
 */
import {
  ApplicationHeartbeat,
  ApplicationRemoved,
  BraidError,
  CommitFiles,
  DecommissionWorker,
  DestroySlots,
  ErrorCodes,
  ExecutorRemoved,
  GetEssMetrics,
  GetReducerFileGroup,
  GetStatus,
  MapperEnd,
  MasterInfo,
  Mode,
  OpenBlocks,
  RegisterExecutor,
  RegisterShuffle,
  RegisterWorker,
  ReportShuffleFetchFailure,
  RequestSlots,
  ReserveSlots,
  Revive,
  Role,
  UnregisterShuffle,
  WorkerHeartbeat,
  methodById,
  type RpcMethod,
} from '../protocol/index.js';

type RoleId = Role;

/** Roles that hold the cluster secret (or a cluster certificate): they may act for any application. */
export const CLUSTER_ROLES: readonly RoleId[] = [Role.Worker, Role.Master, Role.Replica, Role.Admin];
/** Roles that act for one application, proven by that application's key. */
export const APPLICATION_ROLES: readonly RoleId[] = [Role.Client, Role.LifecycleManager];

const KNOWN: ReadonlySet<number> = new Set<number>([...CLUSTER_ROLES, ...APPLICATION_ROLES]);
const CLUSTER: ReadonlySet<number> = new Set<number>(CLUSTER_ROLES);

export function isKnownRole(role: number): role is RoleId {
  return KNOWN.has(role);
}

export function isClusterRole(role: number): boolean {
  return CLUSTER.has(role);
}

const { Client, LifecycleManager: LM, Worker, Master, Replica, Admin } = Role;

/**
 * The roles that may call each control method, on whichever server serves
 * it. Application roles are further limited to their own application by the
 * handlers (checkApplication). Reserving, committing and destroying files is
 * the LifecycleManager's (for its own application) and operators' business,
 * never a task's.
 */
const RPC_ROLES: readonly (readonly [RpcMethod<never, never>, readonly RoleId[]])[] = [
  // master
  [RegisterWorker, [Worker]],
  [WorkerHeartbeat, [Worker]],
  [RequestSlots, [LM, Admin]],
  [ApplicationHeartbeat, [LM, Admin]],
  // worker
  [ReserveSlots, [LM, Admin]],
  [CommitFiles, [LM, Admin]],
  [DestroySlots, [LM, Admin]],
  // an operator takes a worker out of service
  [DecommissionWorker, [Admin]],
  // master, worker (from a LifecycleManager) and LifecycleManager (from its tasks)
  [UnregisterShuffle, [Client, LM, Admin]],
  // LifecycleManager, from the application's tasks
  [RegisterShuffle, [Client]],
  [Revive, [Client]],
  [MapperEnd, [Client]],
  [GetReducerFileGroup, [Client]],
  [ReportShuffleFetchFailure, [Client]],
  // every server; what it shows depends on the role (see status views)
  [GetStatus, [Client, LM, Worker, Master, Replica, Admin]],
  // masters: anyone who may talk to a master must be able to find its leader
  [MasterInfo, [Client, LM, Worker, Master, Replica, Admin]],
  // external shuffle service mode, on workers
  [RegisterExecutor, [Client, LM, Admin]],
  [OpenBlocks, [Client, LM, Admin]],
  [ApplicationRemoved, [Client, LM, Admin]],
  [ExecutorRemoved, [Client, LM, Admin]],
  [GetEssMetrics, [Client, LM, Admin]],
] as unknown as (readonly [RpcMethod<never, never>, readonly RoleId[]])[];

const RPC_ACCESS: ReadonlyMap<number, ReadonlySet<number>> = new Map(RPC_ROLES.map(([m, roles]) => [m.id, new Set<number>(roles)]));

export function rpcRoles(methodId: number): readonly RoleId[] {
  return [...(RPC_ACCESS.get(methodId) ?? [])] as RoleId[];
}

export function roleName(role: number): string {
  const name = Object.entries(Role).find(([, v]) => v === role)?.[0];
  return name ?? `unknown role ${role}`;
}

/** Fails with FORBIDDEN unless the connection's role may call the method. */
export function checkRpcAccess(methodId: number, role: number): void {
  if (RPC_ACCESS.get(methodId)?.has(role) === true) return;
  const name = methodById(methodId)?.name ?? `method ${methodId}`;
  throw new BraidError(ErrorCodes.FORBIDDEN, `${name} may not be called by a ${roleName(role)} connection`, { retriable: false });
}

/** The roles that may push in each mode: tasks to primaries, primaries to their replicas. */
export function pushAllowed(role: number, mode: Mode): boolean {
  return mode === Mode.Primary ? role === Client : role === Replica;
}

/** Only an application's tasks read partitions. */
export function readAllowed(role: number): boolean {
  return role === Client;
}

/** Something that acts for a role and, for application roles, one application. */
export interface Caller {
  readonly peerRole: number;
  readonly appId: string;
}

/** True when the caller may act for `appId`: cluster roles may, application roles only for their own. */
export function actsFor(caller: Caller, appId: string): boolean {
  return isClusterRole(caller.peerRole) || caller.appId === appId;
}

/** Fails with WRONG_APP unless the caller may act for `appId`. */
export function checkApplication(caller: Caller, appId: string): void {
  if (!actsFor(caller, appId)) {
    throw new BraidError(ErrorCodes.WRONG_APP, `a connection of application "${caller.appId}" may not act for "${appId}"`, { retriable: false });
  }
}
