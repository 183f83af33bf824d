/**
 * MasterInfo (any role → Master), method 21: what this master is in its
 * cluster, so a client can find the leader. Every master answers it, leader
 * or not; every other master RPC sent to a master that does not lead is
 * refused with BRAID_ERR_NOT_LEADER (or BRAID_ERR_NO_LEADER).
 *
 *   request  := empty
 *   response := role:u8 leader:string term:u64
 *
 * `role`: 0 alone (no election: the master always leads), 1 leader,
 * 2 standby (another master leads), 3 candidate (no leader is known, e.g.
 * etcd is unreachable). `leader` is the leading master's `host:port` as it
 * published it, '' when none is known. `term` is the leader's election term
 * (the etcd revision at which its key was created), 0 when alone or unknown;
 * a newer leader always has a larger term.
 */
import { enumU8, str, struct, u64 } from '../codec.js';
import { empty } from './common.js';
import { defineRpc } from './define.js';

export const MasterRole = {
  Alone: 0,
  Leader: 1,
  Standby: 2,
  Candidate: 3,
} as const;
export type MasterRole = (typeof MasterRole)[keyof typeof MasterRole];

const masterRole = enumU8<MasterRole>(Object.values(MasterRole), 'master role');

export const MasterInfo = defineRpc(21, 'MasterInfo', empty, struct({ role: masterRole, leader: str, term: u64 }));

/** The role's name as shown in status, metrics and logs. */
export function masterRoleName(role: MasterRole): 'alone' | 'leader' | 'standby' | 'candidate' {
  switch (role) {
    case MasterRole.Alone:
      return 'alone';
    case MasterRole.Leader:
      return 'leader';
    case MasterRole.Standby:
      return 'standby';
    case MasterRole.Candidate:
      return 'candidate';
  }
}
