/**
 * One orchestrator instance on PostgreSQL in a child process, so that a test
 * can kill -9 it: `node --import tsx test/helpers/orchestrator-instance.ts`
 * with ORCH_DATABASE, ORCH_ID, ORCH_ADMIN_TOKEN and ORCH_GRACE_MS. Prints
 * one JSON line `{ url, adminUrl }` once it listens, then `{ leader: true }`
 * when it holds the placement lease; runs until killed.
 */
import { createOrchestrator } from '../../src/orchestrator/index.js'

const orch = createOrchestrator({
  database: process.env.ORCH_DATABASE,
  instanceId: process.env.ORCH_ID,
  adminToken: process.env.ORCH_ADMIN_TOKEN,
  repinGraceMs: Number(process.env.ORCH_GRACE_MS ?? 600_000),
  port: 0
})
const addresses = await orch.start()
console.log(JSON.stringify(addresses))
const watch = setInterval(() => {
  if (!orch.isLeader) return
  console.log(JSON.stringify({ leader: true }))
  clearInterval(watch)
}, 25)
