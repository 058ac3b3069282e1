#!/usr/bin/env node
// Starts dynalite, the DynamoDB wire-protocol engine pinned in package-lock.json.
// DYNALITE_PORT picks the port (0, the default, takes a free one);
// DYNALITE_PATH keeps data on disk (in memory otherwise); DYNALITE_HOST is the
// address to listen on (127.0.0.1; 0.0.0.0 lets `sam local` containers reach
// it through host.docker.internal). Prints
// "dynalite listening on <port>" once it accepts connections.
'use strict'
const dynalite = require('dynalite')

const options = { createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }
if (process.env.DYNALITE_PATH) options.path = process.env.DYNALITE_PATH

const server = dynalite(options)
server.listen(Number(process.env.DYNALITE_PORT || 0), process.env.DYNALITE_HOST || '127.0.0.1', () => {
  console.log(`dynalite listening on ${server.address().port}`)
})
server.on('error', (err) => {
  console.error(`dynalite: ${err.message}`)
  process.exit(1)
})

// Close cleanly so LevelDB flushes what it holds.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)))
}
// A test harness that holds our stdin open can ask us to exit when it ends,
// so no dynalite outlives the tests even if they are killed.
if (process.env.DYNALITE_EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', () => server.close(() => process.exit(0)))
  process.stdin.resume()
}
