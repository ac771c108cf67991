// Helia 7 / libp2p 3 need Promise.withResolvers (Node 22+): load the polyfill before anything else.
import '../../src/polyfill.js'
