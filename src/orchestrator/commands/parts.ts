/** The collaborators every command works over (Helia-style `components`). */
import type { Bootstrap } from '../bootstrap.js'
import type { OrchestratorContext } from '../context.js'
import type { Replication } from '../replication.js'
import type { PinGroup } from './pin-group.js'

export interface OrchestratorParts {
  ctx: OrchestratorContext
  replication: Replication
  bootstrap: Bootstrap
  /** Group commit of `pin()` calls, where the store has multi-row statements. */
  pins?: PinGroup
}
