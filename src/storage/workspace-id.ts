/**
 * Workspace ids name directories on disk (`ipfs/workspaces/<id>`,
 * `workspace-<id>`), so they must be safe path segments on every platform.
 *
 * The rule:
 * - a string of 1 to 64 characters;
 * - only ASCII letters, digits, `_`, `-` and `.`;
 * - a `.` only *inside* the id: never first, never last, never two in a row
 *   (so `.`, `..`, `.hidden`, `a.` and `a..b` are all refused; Windows strips
 *   trailing dots, and `..` must never reach a path join);
 * - not a Windows reserved device name (`CON`, `PRN`, `AUX`, `NUL`,
 *   `COM0`-`COM9`, `LPT0`-`LPT9`, in any case, with or without an extension).
 *
 * Ids are case-sensitive here, but Windows and macOS file systems usually are
 * not: `Alpha` and `alpha` would share a directory there. Callers that create
 * ids should pick one case (the orchestrator uses lower case).
 */
import { InvalidWorkspaceIdError } from '../errors.js'

/** Longest accepted workspace id, in characters. */
export const MAX_WORKSPACE_ID_LENGTH = 64

const WORKSPACE_ID_PATTERN = /^[A-Za-z0-9_-](?:[A-Za-z0-9_-]|\.(?=[A-Za-z0-9_-]))*$/
const WINDOWS_RESERVED = /^(?:con|prn|aux|nul|com[0-9]|lpt[0-9])(?:\.|$)/i

/** Why `id` is not a valid workspace id, or `undefined` when it is. */
function invalidReason (id: unknown): string | undefined {
  if (typeof id !== 'string') return `must be a string, got ${id === null ? 'null' : typeof id}`
  if (id.length === 0) return 'must not be empty'
  if (id.length > MAX_WORKSPACE_ID_LENGTH) return `must be at most ${MAX_WORKSPACE_ID_LENGTH} characters, got ${id.length}`
  if (!WORKSPACE_ID_PATTERN.test(id)) return 'may only contain A-Z, a-z, 0-9, "_", "-" and single dots inside the id'
  if (WINDOWS_RESERVED.test(id)) return 'is a reserved device name on Windows'
  return undefined
}

/** `true` when `id` is a valid workspace id (see the module docs for the rule). */
export function isValidWorkspaceId (id: unknown): id is string {
  return invalidReason(id) === undefined
}

/**
 * Returns `id` unchanged when it is a valid workspace id.
 *
 * @throws {InvalidWorkspaceIdError} otherwise
 * @example
 * ```ts
 * validateWorkspaceId('team-alpha')   // 'team-alpha'
 * validateWorkspaceId('../etc')       // throws InvalidWorkspaceIdError
 * ```
 */
export function validateWorkspaceId (id: unknown): string {
  const reason = invalidReason(id)
  if (reason !== undefined) {
    const shown = typeof id === 'string' ? JSON.stringify(id.length > 80 ? `${id.slice(0, 80)}…` : id) : String(typeof id)
    throw new InvalidWorkspaceIdError(`Invalid workspace id ${shown}: ${reason}`)
  }
  return id as string
}
