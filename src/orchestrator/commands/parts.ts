/** The collaborators every command works over (Helia-style `components`). */
import type { Bootstrap } from '../bootstrap.js'
import type { OrchestratorContext } from '../context.js'
import type { Replication } from '../replication.js'

export interface OrchestratorParts {
  ctx: OrchestratorContext
  replication: Replication
  bootstrap: Bootstrap
}
