/**
 * The layout of an add call: the chosen profile with the call's overrides
 * (the numbers behind profiles.ts's importer options).
 */
import { InvalidArgumentError } from '../../errors.js'
import { PROFILES } from '../profiles.js'
import { resolveLayout } from './layout.js'
import type { FileLayout } from './layout.js'
import type { AddOptions } from '../options.js'

export function layoutFor (options: AddOptions = {}): FileLayout {
  const profile = PROFILES[options.profile ?? 'kubo']
  if (profile == null) throw new InvalidArgumentError(`Unknown profile ${String(options.profile)}`)
  return resolveLayout({
    cidVersion: options.cidVersion ?? profile.cidVersion,
    rawLeaves: options.rawLeaves ?? profile.rawLeaves,
    chunkSize: options.chunkSize ?? profile.chunkSize,
    maxChildrenPerNode: options.maxChildrenPerNode ?? profile.maxChildrenPerNode
  })
}
