export { SwarmKey, SWARM_KEY_HEADER, SWARM_KEY_LENGTH, formatSwarmKey, generateSwarmKey, parseSwarmKey, swarmKeyToPsk } from './swarm-key.js'
export type { SwarmKeyEncoding } from './swarm-key.js'
