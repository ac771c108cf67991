/**
 * Orchestrator <-> storage node messages: one zod schema per message type,
 * shared by both sides. Every frame is one JSON object with a `type` field.
 * Field names follow the seed plan (`snake_case`).
 */
import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import { isValidWorkspaceId } from '../storage/workspace-id.js'
import { isCid } from '../util/cid.js'

/** Version of this message set. A node and an orchestrator must agree on it. */
export const PROTOCOL_VERSION = 1

/** Largest accepted frame in bytes (ws `maxPayload`). A `pin_sync` of ~60,000 CIDs fits. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024

/** Most CIDs one `pin_sync` may carry. */
export const MAX_PIN_SYNC_CIDS = 60_000

/** Most addresses one peer may announce. */
export const MAX_PEER_ADDRESSES = 64

const MAX_NAME_LENGTH = 1024
const MAX_TOKEN_LENGTH = 512
const MAX_MULTIADDR_LENGTH = 1024

function isMultiaddr (value: string): boolean {
  if (!value.startsWith('/')) return false
  try {
    multiaddr(value)
    return true
  } catch {
    return false
  }
}

/** A workspace id (see `validateWorkspaceId`). */
export const workspaceIdSchema = z.string().max(64).refine(isValidWorkspaceId, { message: 'invalid workspace id' })
/** A CID string that `parseCid` accepts (CIDv0 `Qm...`, CIDv1 in base32, base36 or base58btc). */
export const cidSchema = z.string().min(1).max(256).refine(isCid, { message: 'invalid CID' })
/** A multiaddr string (`/ip4/.../tcp/.../p2p/...`). */
export const multiaddrSchema = z.string().min(1).max(MAX_MULTIADDR_LENGTH).refine(isMultiaddr, { message: 'invalid multiaddr' })
/** A libp2p peer id string. */
export const peerIdSchema = z.string().min(1).max(128).regex(/^[1-9A-HJ-NP-Za-km-z]+$|^b[a-z2-7]+$/, { message: 'invalid peer id' })
/** A swarm key as 64 hex characters. */
export const swarmKeyHexSchema = z.string().regex(/^[0-9a-fA-F]{64}$/, { message: 'invalid swarm key' })
const bytesSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const errorBodySchema = z.object({ code: z.string().min(1).max(128), message: z.string().max(4096) }).strict()

// ---- node -> orchestrator -------------------------------------------------

/** N→O, first message of every connection. */
export const helloSchema = z.object({
  type: z.literal('hello'),
  protocol_version: z.number().int().min(1),
  token: z.string().min(1).max(MAX_TOKEN_LENGTH),
  node_name: z.string().max(MAX_NAME_LENGTH).optional()
}).strict()

/** N→O, the workspace node is running: its peer id and listening addresses. */
export const ipfsReadySchema = z.object({
  type: z.literal('ipfs_ready'),
  workspace_id: workspaceIdSchema,
  peer_id: peerIdSchema,
  addresses: z.array(multiaddrSchema).max(MAX_PEER_ADDRESSES)
}).strict()

/** N→O, a `pin_content` succeeded. */
export const contentPinnedSchema = z.object({
  type: z.literal('content_pinned'),
  workspace_id: workspaceIdSchema,
  cid: cidSchema,
  size: bytesSchema
}).strict()

/** N→O, a `pin_content` failed (quota, timeout, not found...). */
export const pinFailedSchema = z.object({
  type: z.literal('pin_failed'),
  workspace_id: workspaceIdSchema,
  cid: cidSchema,
  error: errorBodySchema
}).strict()

/** N→O, an `unpin_content` is done. */
export const contentUnpinnedSchema = z.object({
  type: z.literal('content_unpinned'),
  workspace_id: workspaceIdSchema,
  cid: cidSchema
}).strict()

/** N→O, node-wide storage figures (bytes). */
export const storageReportSchema = z.object({
  type: z.literal('storage_report'),
  used: bytesSchema,
  quota: bytesSchema,
  /** Room left for new content: the smaller of quota left and drive free space. */
  free: bytesSchema,
  /** Real free space on the node's drive (optional: older nodes do not send it). */
  drive_free: bytesSchema.optional(),
  workspaces: z.array(z.object({
    workspace_id: workspaceIdSchema,
    used: bytesSchema,
    pins: z.number().int().min(0)
  }).strict()).max(10_000)
}).strict()

/** N→O, the full list of CIDs the node has pinned in a workspace (after every (re)join). */
export const pinSyncSchema = z.object({
  type: z.literal('pin_sync'),
  workspace_id: workspaceIdSchema,
  cids: z.array(cidSchema).max(MAX_PIN_SYNC_CIDS)
}).strict()

// ---- orchestrator -> node -------------------------------------------------

/** O→N, authentication accepted. */
export const welcomeSchema = z.object({
  type: z.literal('welcome'),
  node_id: z.string().min(1).max(128),
  protocol_version: z.number().int().min(1)
}).strict()

/** O→N, join (or re-key) a workspace: the swarm key and the other online peers. */
export const workspaceJoinedSchema = z.object({
  type: z.literal('workspace_joined'),
  workspace_id: workspaceIdSchema,
  ipfs_swarm_key: swarmKeyHexSchema,
  bootstrap_peers: z.array(multiaddrSchema).max(10_000),
  key_version: z.number().int().min(1)
}).strict()

/** O→N, leave a workspace (membership removed). */
export const workspaceLeftSchema = z.object({
  type: z.literal('workspace_left'),
  workspace_id: workspaceIdSchema,
  purge: z.boolean().optional()
}).strict()

/** O→N, the current addresses of the other online peers of a workspace. */
export const bootstrapUpdateSchema = z.object({
  type: z.literal('bootstrap_update'),
  workspace_id: workspaceIdSchema,
  peers: z.array(multiaddrSchema).max(10_000)
}).strict()

/** O→N, fetch and pin a CID. */
export const pinContentSchema = z.object({
  type: z.literal('pin_content'),
  workspace_id: workspaceIdSchema,
  cid: cidSchema,
  name: z.string().max(MAX_NAME_LENGTH).optional(),
  size: bytesSchema.optional(),
  timeout_ms: z.number().int().min(1).optional(),
  /** Addresses of members that hold it: dial them before fetching. */
  providers: z.array(multiaddrSchema).max(64).optional()
}).strict()

/** O→N, unpin a CID (its blocks go at the next GC). */
export const unpinContentSchema = z.object({
  type: z.literal('unpin_content'),
  workspace_id: workspaceIdSchema,
  cid: cidSchema
}).strict()

/** Either direction: something went wrong. */
export const errorMessageSchema = z.object({
  type: z.literal('error'),
  code: z.string().min(1).max(128),
  message: z.string().max(4096),
  /** The `type` of the message this answers, when known. */
  in_reply_to: z.string().max(64).optional()
}).strict()

/** Every message a node may send. */
export const nodeMessageSchema = z.discriminatedUnion('type', [
  helloSchema, ipfsReadySchema, contentPinnedSchema, pinFailedSchema, contentUnpinnedSchema,
  storageReportSchema, pinSyncSchema, errorMessageSchema
])

/** Every message an orchestrator may send. */
export const orchestratorMessageSchema = z.discriminatedUnion('type', [
  welcomeSchema, workspaceJoinedSchema, workspaceLeftSchema, bootstrapUpdateSchema, pinContentSchema,
  unpinContentSchema, errorMessageSchema
])

/** Every message of the protocol. */
export const messageSchema = z.discriminatedUnion('type', [
  helloSchema, ipfsReadySchema, contentPinnedSchema, pinFailedSchema, contentUnpinnedSchema,
  storageReportSchema, pinSyncSchema, welcomeSchema, workspaceJoinedSchema, workspaceLeftSchema,
  bootstrapUpdateSchema, pinContentSchema, unpinContentSchema, errorMessageSchema
])

export type HelloMessage = z.infer<typeof helloSchema>
export type IpfsReadyMessage = z.infer<typeof ipfsReadySchema>
export type ContentPinnedMessage = z.infer<typeof contentPinnedSchema>
export type PinFailedMessage = z.infer<typeof pinFailedSchema>
export type ContentUnpinnedMessage = z.infer<typeof contentUnpinnedSchema>
export type StorageReportMessage = z.infer<typeof storageReportSchema>
export type PinSyncMessage = z.infer<typeof pinSyncSchema>
export type WelcomeMessage = z.infer<typeof welcomeSchema>
export type WorkspaceJoinedMessage = z.infer<typeof workspaceJoinedSchema>
export type WorkspaceLeftMessage = z.infer<typeof workspaceLeftSchema>
export type BootstrapUpdateMessage = z.infer<typeof bootstrapUpdateSchema>
export type PinContentMessage = z.infer<typeof pinContentSchema>
export type UnpinContentMessage = z.infer<typeof unpinContentSchema>
export type ErrorMessage = z.infer<typeof errorMessageSchema>

export type NodeMessage = z.infer<typeof nodeMessageSchema>
export type OrchestratorMessage = z.infer<typeof orchestratorMessageSchema>
export type Message = z.infer<typeof messageSchema>
export type MessageType = Message['type']
