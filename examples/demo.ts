/**
 * `npm start`: an orchestrator and two storage nodes in temp folders; a file
 * goes up through node A's HTTP API, the orchestrator pins it on node B, and
 * it comes back from node B's API with the same SHA-256. Prints each step
 * with curl commands, then runs until Ctrl+C.
 *
 *   npm start              # keep running, try the printed curl commands
 *   npm start -- --exit    # finish after the checks
 *
 * Same as `otherthing-storage demo [--exit]`.
 */
import { main } from 'otherthing-storage/runner'

await main(['demo', ...process.argv.slice(2)])
