/**
 * Which master leads, as the master's server sees it. A master started
 * without etcd leads alone, always; with etcd it is a candidate in an
 * election (etcd-election.ts) and serves only while it leads.
 */
import { EventEmitter } from 'node:events';
import { BraidError, ErrorCodes, MasterRole, masterRoleName } from '../protocol/index.js';

/** A cluster name is one etcd key segment: masters of one cluster share it. */
export const CLUSTER_NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

export interface LeaderInfo {
  /** `host:port` the leader published. */
  readonly address: string;
  /** Its election term: larger for every newer leader. */
  readonly term: number;
}

export interface LeadershipEvents {
  /** This master now leads, in `term`. */
  elected: [term: number];
  /** This master no longer leads; `reason` says why (for logs). */
  'stepped-down': [reason: string];
}

/** The `ha` part of a master's status. */
export interface HaStatus {
  mode: 'alone' | 'etcd';
  role: ReturnType<typeof masterRoleName>;
  /** `host:port` of the leader, as far as this master knows. */
  leader: string | null;
  /** The leader's term; 0 when alone or unknown. */
  term: number;
  /** Until this master's lease may expire, while it leads. */
  leaseRemainingMs: number | null;
  /** Times this master was elected. */
  elections: number;
  /** Times it stopped leading. */
  stepDowns: number;
  /** Times it saw leadership pass from one master to another. */
  failovers: number;
  lastStepDown: { agoMs: number; reason: string } | null;
}

export interface Leadership extends EventEmitter<LeadershipEvents> {
  /** True while this master may serve: it leads alone, or holds a lease that is still surely valid. */
  isLeader(): boolean;
  role(): MasterRole;
  /** The leader as far as this master knows (itself when it leads). */
  leader(): LeaderInfo | undefined;
  status(): HaStatus;
  /** Stops campaigning; a leader resigns so that another master takes over at once. */
  close(): Promise<void>;
}

/** The answer of a master that does not lead: it names the leader when it knows one. */
export function notLeading(leader: LeaderInfo | undefined): BraidError {
  return leader === undefined
    ? new BraidError(ErrorCodes.NO_LEADER, 'no master leads at the moment: an election is under way, or etcd is unreachable')
    : new BraidError(ErrorCodes.NOT_LEADER, `this master is a standby; the leader is ${leader.address} (term ${leader.term})`);
}

/** A master without etcd: it always leads. */
export class AloneLeadership extends EventEmitter<LeadershipEvents> implements Leadership {
  constructor(private readonly self: string) {
    super();
  }

  isLeader(): boolean {
    return true;
  }

  role(): MasterRole {
    return MasterRole.Alone;
  }

  leader(): LeaderInfo {
    return { address: this.self, term: 0 };
  }

  status(): HaStatus {
    return {
      mode: 'alone',
      role: 'alone',
      leader: this.self,
      term: 0,
      leaseRemainingMs: null,
      elections: 0,
      stepDowns: 0,
      failovers: 0,
      lastStepDown: null,
    };
  }

  async close(): Promise<void> {}
}
