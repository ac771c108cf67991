/** `unpin`, `isPinned` and `pins`: the pin records. */
import { NotPinnedError } from '../../errors.js'
import { throwIfAborted } from '../abort.js'
import { toCid, translateError } from '../cid.js'
import { localDagWalk } from '../pins/pin-dag.js'
import type { WorkspaceComponents } from '../components.js'
import type { PinInfo } from '../types.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export type PinsComponents = Pick<WorkspaceComponents, 'pins'>

export async function unpin (components: Pick<WorkspaceComponents, 'pins' | 'store' | 'getCodec'>, cidIn: CID | string, options: AbortOptions = {}): Promise<void> {
  const cid = toCid(cidIn)
  throwIfAborted(options.signal)
  if (!await isPinned(components, cid, options)) throw new NotPinnedError(`${cid} is not pinned`)
  try {
    await components.pins.rm(cid, localDagWalk(components, cid), options)
  } catch (err) {
    throw translateError(err, undefined, options.signal)
  }
}

export async function isPinned (components: PinsComponents, cidIn: CID | string, options: AbortOptions = {}): Promise<boolean> {
  const cid = toCid(cidIn)
  try {
    return (await components.pins.get(cid, options)) != null
  } catch (err) {
    throw translateError(err, undefined, options.signal)
  }
}

export async function pins (components: PinsComponents, options: AbortOptions = {}): Promise<PinInfo[]> {
  const out: PinInfo[] = []
  for await (const pin of components.pins.ls(options)) {
    const original = typeof pin.metadata.cid === 'string' ? toCid(pin.metadata.cid) : pin.cid
    const name = pin.metadata.name
    out.push({ cid: original, size: Number(pin.metadata.size ?? 0), ...(typeof name === 'string' ? { name } : {}) })
  }
  return out
}
