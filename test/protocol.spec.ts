import { describe, it, expect } from 'vitest'
import { MAX_FRAME_BYTES, PROTOCOL_VERSION, encodeMessage, parseMessage, parseNodeMessage, parseOrchestratorMessage } from '../src/protocol/index.js'

const CID1 = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const CID0 = 'QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n'
const KEY = 'ab'.repeat(32)

function code (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return (err as { code?: string }).code }
  return undefined
}

describe('protocol', () => {
  it('parses every seed message with its field names', () => {
    const msgs = [
      { type: 'workspace_joined', workspace_id: 'ws-123', ipfs_swarm_key: KEY, bootstrap_peers: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'], key_version: 1 },
      { type: 'ipfs_ready', workspace_id: 'ws-123', peer_id: '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK', addresses: ['/ip4/127.0.0.1/tcp/4001'] },
      { type: 'pin_content', workspace_id: 'ws-123', cid: CID1, name: 'a.txt', size: 5, timeout_ms: 1000 },
      { type: 'content_pinned', workspace_id: 'ws-123', cid: CID0, size: 5 },
      { type: 'bootstrap_update', workspace_id: 'ws-123', peers: [] },
      { type: 'hello', protocol_version: PROTOCOL_VERSION, token: 't', node_name: 'n' },
      { type: 'welcome', node_id: 'node-1', protocol_version: PROTOCOL_VERSION },
      { type: 'pin_failed', workspace_id: 'w', cid: CID1, error: { code: 'ERR_TIMEOUT', message: 'x' } },
      { type: 'unpin_content', workspace_id: 'w', cid: CID1 },
      { type: 'content_unpinned', workspace_id: 'w', cid: CID1 },
      { type: 'storage_report', used: 1, quota: 10, free: 9, workspaces: [{ workspace_id: 'w', used: 1, pins: 1 }] },
      { type: 'storage_report', used: 1, quota: 10, free: 9, drive_free: 5_000_000_000, workspaces: [] },
      { type: 'pin_sync', workspace_id: 'w', cids: [CID0, CID1] },
      { type: 'workspace_left', workspace_id: 'w', purge: true },
      { type: 'error', code: 'ERR_X', message: 'y' }
    ]
    for (const m of msgs) {
      expect(parseMessage(JSON.stringify(m))).toEqual(m)
      expect(parseMessage(Buffer.from(encodeMessage(m as never)))).toEqual(m)
    }
  })

  it('refuses malformed frames with InvalidMessageError', () => {
    const bad = [
      'not json',
      '[]',
      'null',
      '{"no":"type"}',
      '{"type":"launch_rockets"}',
      '{"type":"hello","protocol_version":1}',
      '{"type":"hello","protocol_version":1,"token":"t","admin":true}',
      JSON.stringify({ type: 'content_pinned', workspace_id: 'w', cid: 'not-a-cid', size: 1 }),
      JSON.stringify({ type: 'content_pinned', workspace_id: '../etc', cid: CID1, size: 1 }),
      JSON.stringify({ type: 'content_pinned', workspace_id: 'w', cid: CID1, size: -1 }),
      JSON.stringify({ type: 'storage_report', used: 1, quota: 10, free: 9, drive_free: -1, workspaces: [] }),
      JSON.stringify({ type: 'storage_report', used: 1, quota: 10, free: 9, drive_free: 1.5, workspaces: [] }),
      JSON.stringify({ type: 'ipfs_ready', workspace_id: 'w', peer_id: '12D3KooW', addresses: ['/ip4/999.0.0.1/tcp/1'] }),
      JSON.stringify({ type: 'ipfs_ready', workspace_id: 'w', peer_id: '12D3KooW', addresses: ['not a multiaddr'] }),
      JSON.stringify({ type: 'workspace_joined', workspace_id: 'w', ipfs_swarm_key: 'short', bootstrap_peers: [], key_version: 1 })
    ]
    for (const b of bad) expect(code(() => parseMessage(b)), b).toBe('ERR_INVALID_MESSAGE')
    expect(code(() => parseMessage('x'.repeat(MAX_FRAME_BYTES + 1)))).toBe('ERR_INVALID_MESSAGE')
  })

  it('never echoes a token in its error', () => {
    try {
      parseMessage(JSON.stringify({ type: 'hello', protocol_version: 'one', token: 'super-secret-token' }))
      expect.fail('should throw')
    } catch (err) {
      expect((err as Error).message).not.toContain('super-secret')
    }
  })

  it('splits the directions', () => {
    expect(code(() => parseNodeMessage(JSON.stringify({ type: 'welcome', node_id: 'n', protocol_version: 1 })))).toBe('ERR_INVALID_MESSAGE')
    expect(code(() => parseOrchestratorMessage(JSON.stringify({ type: 'hello', protocol_version: 1, token: 't' })))).toBe('ERR_INVALID_MESSAGE')
  })
})
