/**
 * The node runner's local HTTP API: `buildApp()` and the helpers its routes
 * are made of.
 */
export { buildApp } from './app.js'
export type { BuildAppInit, HttpApp } from './app.js'
export { HttpError, describeError } from './errors.js'
export type { HttpErrorInfo, ErrorBody, KuboErrorBody } from './errors.js'
export { isAllowedHost, isAllowedOrigin, generateApiToken, tokensEqual } from './security.js'
