/**
 * The Kubo RPC command groups added for folders, CAR files, blocks and the
 * swarm (issue #12), registered inside the `/api/v0` scope of
 * `kubo-routes.ts` (its error and not-found handlers, its multipart parser).
 *
 * Served under /api/v0 (POST): add (files and folders, wrap-with-directory),
 * cat, get, ls, block/get, block/put, block/stat, block/rm, dag/get,
 * dag/export, dag/import, refs, refs/local, pin/add, pin/rm, pin/ls, repo/stat, repo/gc,
 * id, version, swarm/peers, swarm/connect, swarm/addrs, swarm/addrs/local.
 * Any other path answers what Kubo answers for an unknown command.
 */
import type { FastifyInstance } from 'fastify'
import { kuboAddRoutes } from './add.js'
import { kuboBlockRoutes } from './blocks.js'
import type { KuboGroupOptions } from './common.js'
import { kuboDagRoutes } from './dag.js'
import { kuboFilesRoutes } from './files.js'
import { kuboSwarmRoutes } from './swarm.js'

export type { KuboGroupOptions } from './common.js'

/** Every command Kubo clients can call on this API (for docs and tests). */
export const KUBO_COMMANDS = [
  'add', 'cat', 'get', 'ls', 'block/get', 'block/put', 'block/stat', 'block/rm', 'dag/get', 'dag/export', 'dag/import',
  'refs', 'refs/local', 'pin/add', 'pin/rm', 'pin/ls', 'repo/stat', 'repo/gc', 'id', 'version',
  'swarm/peers', 'swarm/connect', 'swarm/addrs', 'swarm/addrs/local'
] as const

/** Kubo's answer to a command it does not have (go-ipfs-cmds `ErrNotFound`): 404, plain text. */
export const KUBO_NOT_FOUND_TEXT = '404 page not found\n'

export async function kuboGroups (app: FastifyInstance, opts: KuboGroupOptions): Promise<void> {
  await kuboAddRoutes(app, opts)
  await kuboFilesRoutes(app, opts)
  await kuboBlockRoutes(app, opts)
  await kuboDagRoutes(app, opts)
  await kuboSwarmRoutes(app, opts)
}
