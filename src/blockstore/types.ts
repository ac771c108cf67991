/** Options every async operation accepts. */
export interface AbortOptions {
  signal?: AbortSignal
}
