/**
 * Every named error of otherthing-storage. Each class has a stable `code`
 * (and `name`) that callers and tests can switch on; messages are for people
 * and may change. No message ever contains a swarm key.
 */

/** Base class of every error this library throws on purpose. */
export class StorageError extends Error {
  static override name = 'StorageError'
  override name = StorageError.name
  /** Stable, machine-readable error code. */
  readonly code: string = 'ERR_STORAGE'

  constructor (message = 'Storage error', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A swarm key could not be parsed (wrong length, bad encoding, unknown header...). */
export class InvalidSwarmKeyError extends StorageError {
  static override name = 'InvalidSwarmKeyError'
  override name = InvalidSwarmKeyError.name
  override readonly code = 'ERR_INVALID_SWARM_KEY'
  constructor (message = 'Invalid swarm key', options?: ErrorOptions) { super(message, options) }
}

/** A workspace id is empty, too long, or has characters outside the safe set. */
export class InvalidWorkspaceIdError extends StorageError {
  static override name = 'InvalidWorkspaceIdError'
  override name = InvalidWorkspaceIdError.name
  override readonly code = 'ERR_INVALID_WORKSPACE_ID'
  constructor (message = 'Invalid workspace id', options?: ErrorOptions) { super(message, options) }
}

/** A storage path cannot be used (not a directory, not writable, not enough free space...). */
export class InvalidStoragePathError extends StorageError {
  static override name = 'InvalidStoragePathError'
  override name = InvalidStoragePathError.name
  override readonly code = 'ERR_INVALID_STORAGE_PATH'
  constructor (message = 'Invalid storage path', options?: ErrorOptions) { super(message, options) }
}

/** A configuration file or object is malformed or fails its schema. */
export class InvalidConfigError extends StorageError {
  static override name = 'InvalidConfigError'
  override name = InvalidConfigError.name
  override readonly code = 'ERR_INVALID_CONFIG'
  constructor (message = 'Invalid configuration', options?: ErrorOptions) { super(message, options) }
}

/** A function argument or request parameter is out of range or malformed. */
export class InvalidArgumentError extends StorageError {
  static override name = 'InvalidArgumentError'
  override name = InvalidArgumentError.name
  override readonly code = 'ERR_INVALID_ARGUMENT'
  constructor (message = 'Invalid argument', options?: ErrorOptions) { super(message, options) }
}

/** A string is not a valid CID. */
export class InvalidCidError extends StorageError {
  static override name = 'InvalidCidError'
  override name = InvalidCidError.name
  override readonly code = 'ERR_INVALID_CID'
  constructor (message = 'Invalid CID', options?: ErrorOptions) { super(message, options) }
}

/** A write would take the node's usage above its quota. Nothing was written. */
export class QuotaExceededError extends StorageError {
  static override name = 'QuotaExceededError'
  override name = QuotaExceededError.name
  override readonly code = 'ERR_QUOTA_EXCEEDED'
  /** Bytes in use when the write was refused. */
  readonly used: number
  /** The quota in bytes. */
  readonly limit: number
  /** Bytes the refused write asked for. */
  readonly requested: number

  constructor (used: number, limit: number, requested: number, message?: string) {
    super(message ?? `Storage quota exceeded: ${requested} bytes requested, ${used} of ${limit} bytes in use`)
    this.used = used
    this.limit = limit
    this.requested = requested
  }
}

/** A write would take the drive's real free space below the reserve. Nothing was written. */
export class DiskReserveError extends StorageError {
  static override name = 'DiskReserveError'
  override name = DiskReserveError.name
  override readonly code = 'ERR_DISK_RESERVE'
  /** Free bytes on the drive when the write was refused. */
  readonly free: number
  /** The reserve in bytes that must stay free. */
  readonly reserve: number
  /** Bytes the refused write asked for. */
  readonly requested: number

  constructor (free: number, reserve: number, requested: number, message?: string) {
    super(message ?? `Drive almost full: ${free} bytes free, ${reserve} bytes must stay free, ${requested} bytes requested`)
    this.free = free
    this.reserve = reserve
    this.requested = requested
  }
}

/** Content was not found locally, nor from workspace peers within the timeout. */
export class ContentNotFoundError extends StorageError {
  static override name = 'ContentNotFoundError'
  override name = ContentNotFoundError.name
  override readonly code = 'ERR_NOT_FOUND'
  constructor (message = 'Content not found', options?: ErrorOptions) { super(message, options) }
}

/** A CID is not pinned on this node. */
export class NotPinnedError extends StorageError {
  static override name = 'NotPinnedError'
  override name = NotPinnedError.name
  override readonly code = 'ERR_NOT_PINNED'
  constructor (message = 'Not pinned', options?: ErrorOptions) { super(message, options) }
}

/** The node has not joined the named workspace (or no workspace was named and several are joined). */
export class WorkspaceNotJoinedError extends StorageError {
  static override name = 'WorkspaceNotJoinedError'
  override name = WorkspaceNotJoinedError.name
  override readonly code = 'ERR_WORKSPACE_NOT_JOINED'
  constructor (message = 'Workspace not joined', options?: ErrorOptions) { super(message, options) }
}

/** An operation was called on a node that is stopped or not started yet. */
export class NotStartedError extends StorageError {
  static override name = 'NotStartedError'
  override name = NotStartedError.name
  override readonly code = 'ERR_NOT_STARTED'
  constructor (message = 'Not started', options?: ErrorOptions) { super(message, options) }
}

/** An operation did not finish within its timeout. */
export class TimeoutError extends StorageError {
  static override name = 'TimeoutError'
  override name = TimeoutError.name
  override readonly code = 'ERR_TIMEOUT'
  constructor (message = 'Timed out', options?: ErrorOptions) { super(message, options) }
}

/** An operation was aborted through its AbortSignal. */
export class AbortedError extends StorageError {
  static override name = 'AbortedError'
  override name = AbortedError.name
  override readonly code = 'ERR_ABORTED'
  constructor (message = 'Aborted', options?: ErrorOptions) { super(message, options) }
}

/** A byte range cannot be satisfied for the content's size. */
export class RangeNotSatisfiableError extends StorageError {
  static override name = 'RangeNotSatisfiableError'
  override name = RangeNotSatisfiableError.name
  override readonly code = 'ERR_RANGE_NOT_SATISFIABLE'
  constructor (message = 'Range not satisfiable', options?: ErrorOptions) { super(message, options) }
}

/** A protocol message failed validation (malformed JSON, unknown type, wrong fields, too large). */
export class InvalidMessageError extends StorageError {
  static override name = 'InvalidMessageError'
  override name = InvalidMessageError.name
  override readonly code = 'ERR_INVALID_MESSAGE'
  constructor (message = 'Invalid message', options?: ErrorOptions) { super(message, options) }
}

/** Missing or wrong credentials (node token, admin token, API bearer token). */
export class UnauthorizedError extends StorageError {
  static override name = 'UnauthorizedError'
  override name = UnauthorizedError.name
  override readonly code = 'ERR_UNAUTHORIZED'
  constructor (message = 'Unauthorized', options?: ErrorOptions) { super(message, options) }
}

/** The caller is authenticated but not allowed (e.g. not a member of the workspace). */
export class ForbiddenError extends StorageError {
  static override name = 'ForbiddenError'
  override name = ForbiddenError.name
  override readonly code = 'ERR_FORBIDDEN'
  constructor (message = 'Forbidden', options?: ErrorOptions) { super(message, options) }
}

/** A named record (workspace, node, pin) does not exist. */
export class NotFoundError extends StorageError {
  static override name = 'NotFoundError'
  override name = NotFoundError.name
  override readonly code = 'ERR_RECORD_NOT_FOUND'
  constructor (message = 'Not found', options?: ErrorOptions) { super(message, options) }
}

/** A record already exists (e.g. creating a workspace with an id in use). */
export class ConflictError extends StorageError {
  static override name = 'ConflictError'
  override name = ConflictError.name
  override readonly code = 'ERR_CONFLICT'
  constructor (message = 'Conflict', options?: ErrorOptions) { super(message, options) }
}

/** Another process (or another runner in this process) holds the storage path. Nothing was opened. */
export class StoragePathLockedError extends StorageError {
  static override name = 'StoragePathLockedError'
  override name = StoragePathLockedError.name
  override readonly code = 'ERR_STORAGE_LOCKED'
  /** The lock file. */
  readonly lockPath: string
  /** Process id of the holder, when the lock file says. */
  readonly pid?: number
  /** Host name of the holder, when the lock file says. */
  readonly hostname?: string
  /** When the holder took the lock (ISO 8601), when the lock file says. */
  readonly startedAt?: string

  constructor (lockPath: string, holder: { pid?: number, hostname?: string, startedAt?: string } = {}, message?: string) {
    super(message ?? `Storage path is in use by ${holder.pid != null ? `process ${holder.pid}` : 'another process'}${holder.hostname != null ? ` on ${holder.hostname}` : ''}${holder.startedAt != null ? ` (since ${holder.startedAt})` : ''}; lock file ${lockPath}`)
    this.lockPath = lockPath
    this.pid = holder.pid
    this.hostname = holder.hostname
    this.startedAt = holder.startedAt
  }
}

/** A connection would send secrets (swarm keys, tokens) in clear text to another machine. Nothing was sent. */
export class InsecureConnectionError extends StorageError {
  static override name = 'InsecureConnectionError'
  override name = InsecureConnectionError.name
  override readonly code = 'ERR_INSECURE_CONNECTION'
  constructor (message = 'Refusing an unencrypted connection to another host', options?: ErrorOptions) { super(message, options) }
}

/** The orchestrator refused this node for good (wrong or revoked node token, unsupported protocol version). */
export class OrchestratorRefusedError extends StorageError {
  static override name = 'OrchestratorRefusedError'
  override name = OrchestratorRefusedError.name
  override readonly code = 'ERR_ORCHESTRATOR_REFUSED'
  /** The orchestrator's reason: `ERR_UNAUTHORIZED` (token) or `ERR_PROTOCOL_VERSION`. */
  readonly reason: string

  constructor (reason: string, message?: string, options?: ErrorOptions) {
    super(message ?? (reason === 'ERR_UNAUTHORIZED'
      ? 'The orchestrator refused this node\'s token (wrong or revoked)'
      : `The orchestrator refused this node (${reason})`), options)
    this.reason = reason
  }
}

/**
 * The orchestrator's database holds encrypted swarm keys and no key-encryption
 * key was given, or the given one does not open them (or is malformed).
 */
export class KeyEncryptionKeyError extends StorageError {
  static override name = 'KeyEncryptionKeyError'
  override name = KeyEncryptionKeyError.name
  override readonly code = 'ERR_KEY_ENCRYPTION_KEY'
  constructor (message = 'Missing or wrong key-encryption key', options?: ErrorOptions) { super(message, options) }
}

/**
 * The private-network handshake with a peer failed: it has another swarm key,
 * or speaks libp2p without a private network. `address` is the peer's address
 * (never the key).
 */
export class SwarmKeyMismatchError extends StorageError {
  static override name = 'SwarmKeyMismatchError'
  override name = SwarmKeyMismatchError.name
  override readonly code = 'ERR_SWARM_KEY_MISMATCH'
  readonly address?: string
  constructor (message = 'Swarm key mismatch', options?: ErrorOptions & { address?: string }) {
    super(message, options)
    this.address = options?.address
  }
}

/** A symlink was met while adding a directory with `symlinks: 'refuse'`. Nothing was added. */
export class SymlinkNotAllowedError extends StorageError {
  static override name = 'SymlinkNotAllowedError'
  override name = SymlinkNotAllowedError.name
  override readonly code = 'ERR_SYMLINK_NOT_ALLOWED'
  constructor (message = 'Symlinks are not allowed', options?: ErrorOptions) { super(message, options) }
}

/** A block cannot be removed because a pin holds it. */
export class BlockPinnedError extends StorageError {
  static override name = 'BlockPinnedError'
  override name = BlockPinnedError.name
  override readonly code = 'ERR_BLOCK_PINNED'
  constructor (message = 'Block is pinned', options?: ErrorOptions) { super(message, options) }
}

/** A CAR stream is malformed (bad header, truncated block, bad varint...). Nothing was kept. */
export class InvalidCarError extends StorageError {
  static override name = 'InvalidCarError'
  override name = InvalidCarError.name
  override readonly code = 'ERR_INVALID_CAR'
  constructor (message = 'Invalid CAR', options?: ErrorOptions) { super(message, options) }
}

/** A path inside a DAG (`<cid>/a/b`) names nothing. */
export class PathNotFoundError extends StorageError {
  static override name = 'PathNotFoundError'
  override name = PathNotFoundError.name
  override readonly code = 'ERR_PATH_NOT_FOUND'
  constructor (message = 'Path not found', options?: ErrorOptions) { super(message, options) }
}

/** An operation wants a directory (ls, a path through it) and got something else. */
export class NotADirectoryError extends StorageError {
  static override name = 'NotADirectoryError'
  override name = NotADirectoryError.name
  override readonly code = 'ERR_NOT_A_DIRECTORY'
  constructor (message = 'Not a directory', options?: ErrorOptions) { super(message, options) }
}

/**
 * A block handed to us (a CAR being imported) does not hash to its CID: the input is wrong,
 * HTTP 400. Nothing was kept. Not `CorruptBlockError`: that one is our own stored copy damaged
 * on disk (HTTP 500); the check is the same, whose fault it is differs, and so do the codes.
 */
export class BlockVerificationError extends StorageError {
  static override name = 'BlockVerificationError'
  override name = BlockVerificationError.name
  override readonly code = 'ERR_BLOCK_VERIFICATION'
  constructor (message = 'Block does not match its CID', options?: ErrorOptions) { super(message, options) }
}

/**
 * A block file of this node's store does not hash to its CID (damaged on disk): our fault,
 * HTTP 500 (a block from outside that does not match is `BlockVerificationError`, 400). Nothing
 * half-written was left; `verify()` removes such blocks and fetches them again from peers.
 */
export class CorruptBlockError extends StorageError {
  static override name = 'CorruptBlockError'
  override name = CorruptBlockError.name
  override readonly code = 'ERR_CORRUPT_BLOCK'
  /** The CID of the damaged block (as a string). */
  readonly cid?: string
  constructor (message = 'A stored block does not match its CID', options?: ErrorOptions & { cid?: string }) {
    super(message, options)
    this.cid = options?.cid
  }
}

/** The destination of a download exists already, or its parent folder is missing. Nothing was fetched. */
export class DestinationError extends StorageError {
  static override name = 'DestinationError'
  override name = DestinationError.name
  override readonly code = 'ERR_DESTINATION'
  constructor (message = 'Invalid destination', options?: ErrorOptions) { super(message, options) }
}

/** No workspace of that id in the orchestrator's database (a swarm key was asked for it). */
export class WorkspaceNotFoundError extends StorageError {
  static override name = 'WorkspaceNotFoundError'
  override name = WorkspaceNotFoundError.name
  override readonly code = 'ERR_WORKSPACE_NOT_FOUND'
  constructor (message = 'Workspace not found', options?: ErrorOptions) { super(message, options) }
}

/** The workspace exists in the orchestrator's database but has no swarm key there. */
export class SwarmKeyNotFoundError extends StorageError {
  static override name = 'SwarmKeyNotFoundError'
  override name = SwarmKeyNotFoundError.name
  override readonly code = 'ERR_SWARM_KEY_NOT_FOUND'
  constructor (message = 'Swarm key not found', options?: ErrorOptions) { super(message, options) }
}
