/**
 * Runs an operation in a write session of the workspace's blockstore: on success the session
 * is committed; on any failure the blocks it newly wrote that no pin holds (and no other live
 * operation touched) are deleted before the error is rethrown, so usage is back to the byte
 * where it was. Every writing command goes through here (add, pin, and the CAR import).
 */
import type { WorkspaceComponents } from '../components.js'
import type { WriteSession } from '../guarded-blockstore.js'

export async function inWriteSession<T> (components: Pick<WorkspaceComponents, 'store' | 'log'>, fn: (session: WriteSession) => Promise<T>): Promise<T> {
  const session = components.store.beginWrite()
  let result: T
  try {
    result = await session.run(async () => fn(session))
  } catch (err) {
    try {
      const { removed, kept } = await session.rollback()
      components.log('rolled back a failed write: %d blocks removed, %d kept', removed, kept)
    } catch (rollbackErr) {
      components.log.error('rollback of a failed write failed (gc frees the rest): %e', rollbackErr)
    }
    throw err
  }
  session.commit()
  return result
}
