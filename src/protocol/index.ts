/**
 * The orchestrator <-> storage node WebSocket protocol: zod schemas for every
 * message, shared by the orchestrator and the orchestrator client.
 *
 * @example
 * ```ts
 * import { parseMessage, encodeMessage, PROTOCOL_VERSION } from './protocol/index.js'
 * ws.send(encodeMessage({ type: 'hello', protocol_version: PROTOCOL_VERSION, token }))
 * ws.on('message', (raw) => { const msg = parseMessage(raw) })
 * ```
 */
export * from './messages.js'
export { parseMessage, parseNodeMessage, parseOrchestratorMessage, encodeMessage } from './parse.js'
export type { RawFrame } from './parse.js'
