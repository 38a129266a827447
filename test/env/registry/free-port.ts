import { createServer } from 'node:net'

/**
 * Finds a TCP port on 127.0.0.1 that is free right now, by binding port 0 and closing again. Another
 * process could take it before the caller binds it; {@link startRegistry} retries in that case.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not find a free port'))))
    })
  })
}
