import { describe, it, expect } from 'vitest'
import { isValidWorkspaceId, validateWorkspaceId, MAX_WORKSPACE_ID_LENGTH } from '../src/storage/workspace-id.js'

describe('workspace id', () => {
  const valid = ['a', 'A', '0', '_', '-', 'team-alpha', 'ws_01', 'a.b', 'v1.2.3', '-x-', 'x'.repeat(MAX_WORKSPACE_ID_LENGTH), 'console', 'com10', 'nullable']
  const invalid: unknown[] = [
    '', '.', '..', '../x', 'a/b', 'a\\b', '.hidden', 'a.', 'a..b', 'x'.repeat(MAX_WORKSPACE_ID_LENGTH + 1),
    'a\0b', '\0', 'a b', 'é', 'a:b', 'a*b', 'CON', 'con', 'nul.txt', 'Lpt1', 'COM9', '/abs', 'C:', ' a',
    undefined, null, 42, {}, ['a']
  ]

  for (const id of valid) {
    it(`accepts ${JSON.stringify(id).slice(0, 30)}`, () => {
      expect(isValidWorkspaceId(id)).toBe(true)
      expect(validateWorkspaceId(id)).toBe(id)
    })
  }

  for (const id of invalid) {
    it(`refuses ${typeof id === 'string' ? JSON.stringify(id).slice(0, 30) : String(id)}`, () => {
      expect(isValidWorkspaceId(id)).toBe(false)
      let caught: any
      try { validateWorkspaceId(id) } catch (err) { caught = err }
      expect(caught?.code).toBe('ERR_INVALID_WORKSPACE_ID')
      expect(caught?.name).toBe('InvalidWorkspaceIdError')
    })
  }
})
