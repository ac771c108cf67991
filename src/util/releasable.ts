/**
 * Typed arrays whose memory is given back when the caller says so, not when V8 next runs a full
 * garbage collection. An `ArrayBuffer` nothing references is freed only by a mark-compact, and
 * V8 may run none for many seconds: the 9 MiB of a 100,000-file folder's links, dropped once the
 * folder is written, were still resident through the pin that followed (the add's peak).
 *
 * The arrays sit on a resizable `ArrayBuffer` of their own length (ES2024, Node 20+): `release`
 * resizes it to 0, which returns its pages to the system at once (measured: RSS back by the
 * buffer's size). Reading a released array yields nothing (its length is 0). Element access is
 * somewhat slower than on a plain buffer (~1.5x in a tight hashing loop on Node 20), so these
 * are for large tables touched a few times per item, not for hot inner loops.
 */

interface ResizableBuffer extends ArrayBuffer {
  resize(byteLength: number): void
  readonly resizable: boolean
}

// the ES2024 constructor overload (the project's lib is ES2023)
const ResizableArrayBuffer = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableBuffer

type ArrayKind<T> = { new (buffer: ArrayBuffer, byteOffset: number, length: number): T, readonly BYTES_PER_ELEMENT: number }

/** A typed array of `length` elements on memory that `release` frees at once. */
export function releasable<T extends ArrayBufferView> (kind: ArrayKind<T>, length: number): T {
  const bytes = length * kind.BYTES_PER_ELEMENT
  return new kind(new ResizableArrayBuffer(bytes, { maxByteLength: bytes }), 0, length)
}

/** Frees the memory of an array made by `releasable` (other arrays are left to the GC). */
export function release (array: ArrayBufferView): void {
  const buffer = array.buffer as Partial<ResizableBuffer>
  if (buffer.resizable === true) buffer.resize?.(0)
}

/** `array` when it holds `need` elements, else a copy at least twice as long (the old one released). */
export function releasableGrown<T extends ArrayBufferView & { readonly length: number, set(a: ArrayLike<number>): void }> (kind: ArrayKind<T>, array: T, need: number): T {
  if (need <= array.length) return array
  const next = releasable(kind, Math.max(need, array.length * 2))
  next.set(array as unknown as ArrayLike<number>)
  release(array)
  return next
}
