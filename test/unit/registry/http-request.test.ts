import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CanceledError } from '../../../src/grpc/errors.js'
import { sendRequest } from '../../../src/registry/http-request.js'
import { rawGet } from '../../../src/registry/raw-blob-get.js'
import { RegistryError } from '../../../src/registry/registry-error.js'

// /big answers with 100 KiB of headers; /hang never answers.
let server: Server
let base: string
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/hang') return
    res.setHeader('x-filler', 'f'.repeat(100 * 1024))
    res.setHeader('content-length', '2')
    res.end('{}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

describe('response headers too large', () => {
  it('node:http path: RegistryError TooLarge saying the headers were too large (was HPE_HEADER_OVERFLOW, then "not reachable")', async () => {
    const err = await sendRequest({ method: 'GET', url: new URL(`${base}/v2/`) }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('TooLarge')
    expect((err as RegistryError).message).toMatch(/^the response headers 127\.0\.0\.1:\d+ sent for GET \/v2\/ were too large: over 16384 bytes/)
    expect(((err as RegistryError).cause as { code?: string }).code).toBe('HPE_HEADER_OVERFLOW')
  })

  it('raw blob path: RegistryError TooLarge beyond its 64 KiB head', async () => {
    const err = await rawGet({ url: new URL(`${base}/v2/r/blobs/sha256:x`), headers: {} }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RegistryError)
    expect((err as RegistryError).code).toBe('TooLarge')
    expect((err as RegistryError).message).toMatch(/were too large: over 65536 bytes/)
  })
})

describe('aborts', () => {
  it('a pre-aborted request rejects with CanceledError whose cause is the reason (was the raw reason)', async () => {
    const reason = new Error('not now')
    for (const request of [
      sendRequest({ method: 'GET', url: new URL(`${base}/hang`), signal: AbortSignal.abort(reason) }),
      rawGet({ url: new URL(`${base}/hang`), headers: {}, signal: AbortSignal.abort(reason) }),
    ]) {
      const err = await request.catch((e: unknown) => e)
      expect(err).toBeInstanceOf(CanceledError)
      expect((err as Error).cause).toBe(reason)
    }
  })

  it('an abort while waiting for the answer rejects with CanceledError whose cause is the reason', async () => {
    for (const send of [
      (signal: AbortSignal) => sendRequest({ method: 'GET', url: new URL(`${base}/hang`), signal }),
      (signal: AbortSignal) => rawGet({ url: new URL(`${base}/hang`), headers: {}, signal }),
    ]) {
      const controller = new AbortController()
      const reason = new Error('enough')
      const pending = send(controller.signal).catch((e: unknown) => e)
      setTimeout(() => controller.abort(reason), 50)
      const err = await pending
      expect(err).toBeInstanceOf(CanceledError)
      expect((err as Error).cause).toBe(reason)
      expect((err as Error).message).toMatch(/^GET 127\.0\.0\.1:\d+\/hang: aborted \(enough\)$/)
    }
  })
})
