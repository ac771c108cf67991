/** The collaborators every command works over (Helia-style `components`). */
import type { Bootstrap } from '../bootstrap.js'
import type { OrchestratorContext } from '../context.js'
import type { Replication } from '../replication.js'
import type { PinRequest, PinStatus } from '../types.js'

/** A checked `pin()` call. */
export interface PinCall {
  workspaceId: string
  /** Normalised. */
  cid: string
  request: PinRequest
  min: number
  max: number
}

/** Writes `pin()` calls together (`pin-group.ts`). */
export interface PinWriter {
  /** Whether the store can write groups (multi-row statements). */
  readonly enabled: boolean
  add(call: PinCall): Promise<PinStatus>
}

export interface OrchestratorParts {
  ctx: OrchestratorContext
  replication: Replication
  bootstrap: Bootstrap
  /** Group commit of `pin()` calls, where the store has multi-row statements. */
  pins?: PinWriter
}
