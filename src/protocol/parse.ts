import { InvalidMessageError } from '../errors.js'
import { MAX_FRAME_BYTES, messageSchema, nodeMessageSchema, orchestratorMessageSchema } from './messages.js'
import type { Message, NodeMessage, OrchestratorMessage } from './messages.js'
import type { z } from 'zod'

/** A raw frame: text, or the bytes `ws` hands over. */
export type RawFrame = string | Uint8Array | ArrayBuffer | Uint8Array[]

function frameToText (raw: RawFrame): string {
  if (typeof raw === 'string') {
    if (Buffer.byteLength(raw) > MAX_FRAME_BYTES) throw new InvalidMessageError(`Frame larger than ${MAX_FRAME_BYTES} bytes`)
    return raw
  }
  let buf: Buffer
  if (Array.isArray(raw)) buf = Buffer.concat(raw)
  else if (raw instanceof ArrayBuffer) buf = Buffer.from(raw)
  else buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)
  if (buf.byteLength > MAX_FRAME_BYTES) throw new InvalidMessageError(`Frame larger than ${MAX_FRAME_BYTES} bytes`)
  return buf.toString('utf8')
}

function parseWith<T> (schema: z.ZodType<T>, raw: RawFrame): T {
  const text = frameToText(raw)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new InvalidMessageError('Malformed JSON')
  }
  if (json == null || typeof json !== 'object' || Array.isArray(json)) {
    throw new InvalidMessageError('A message must be a JSON object')
  }
  const type = (json as { type?: unknown }).type
  if (typeof type !== 'string') {
    throw new InvalidMessageError('A message needs a string "type"')
  }
  const result = schema.safeParse(json)
  if (!result.success) {
    const issue = result.error.issues[0]
    if (issue?.code === 'invalid_union') {
      throw new InvalidMessageError(`Unknown message type ${JSON.stringify(type.slice(0, 64))}`)
    }
    const where = issue?.path.length ? issue.path.join('.') : '(message)'
    // never echo values: a frame may carry a token or a key
    throw new InvalidMessageError(`Invalid ${type.slice(0, 64)} message: ${where}: ${issue?.message ?? 'invalid'}`)
  }
  return result.data
}

/**
 * Parses and validates one frame of the protocol (either direction).
 *
 * @throws {InvalidMessageError} malformed JSON, unknown type, wrong or extra fields, frame too large
 * @example
 * ```ts
 * const msg = parseMessage('{"type":"hello","protocol_version":1,"token":"..."}')
 * if (msg.type === 'hello') console.log(msg.protocol_version)
 * ```
 */
export function parseMessage (raw: RawFrame): Message {
  return parseWith(messageSchema, raw)
}

/** Like {@link parseMessage}, but accepts only what a node may send. */
export function parseNodeMessage (raw: RawFrame): NodeMessage {
  return parseWith(nodeMessageSchema, raw)
}

/** Like {@link parseMessage}, but accepts only what an orchestrator may send. */
export function parseOrchestratorMessage (raw: RawFrame): OrchestratorMessage {
  return parseWith(orchestratorMessageSchema, raw)
}

/** Serialises a message to its JSON frame. */
export function encodeMessage (message: Message): string {
  return JSON.stringify(message)
}
