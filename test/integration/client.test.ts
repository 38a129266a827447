import { describe, expect, it } from 'vitest'
import { CanceledError, Client, ContainerdError, InvalidArgumentError, UnavailableError } from '../../src/index.js'
import { startContainerd } from '../../src/testing/containerd-daemon.js'
import { daemonAddress, daemonLine } from '../env/test-client.js'

describe('Client.connect', () => {
  it('connects and reports the server version (NewClient)', async () => {
    await using client = await Client.connect({ address: daemonAddress(), namespace: 'testing' })
    const { version, revision } = await client.version()
    expect(version).toMatch(/\d+\.\d+\.\d+/)
    expect(typeof revision).toBe('string')
    const line = daemonLine()
    if (line !== 'external') expect(version.replace(/^v/, '').startsWith(line.replace('.x', '.'))).toBe(true)
    expect(client.namespace).toBe('testing')
    expect(client.address).toBe(daemonAddress())
  })

  it('accepts unix:// URLs and reads CONTAINERD_ADDRESS / CONTAINERD_NAMESPACE', async () => {
    await using viaUrl = await Client.connect({ address: `unix://${daemonAddress()}` })
    expect((await viaUrl.version()).version).not.toBe('')
    const saved = { a: process.env['CONTAINERD_ADDRESS'], n: process.env['CONTAINERD_NAMESPACE'] }
    process.env['CONTAINERD_ADDRESS'] = daemonAddress()
    process.env['CONTAINERD_NAMESPACE'] = 'from-env'
    try {
      await using viaEnv = await Client.connect()
      expect(viaEnv.address).toBe(daemonAddress())
      expect(viaEnv.namespace).toBe('from-env')
    } finally {
      restoreEnv('CONTAINERD_ADDRESS', saved.a)
      restoreEnv('CONTAINERD_NAMESPACE', saved.n)
    }
  })

  it('names the socket when nothing listens there', async () => {
    const missing = `${daemonAddress()}.missing`
    const err = await Client.connect({ address: missing, timeoutMs: 2000 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect(err).toBeInstanceOf(ContainerdError)
    expect((err as Error).message).toContain(missing)
    expect((err as Error).message).toMatch(/no socket exists/)
  })

  it('rejects TCP addresses and invalid namespaces before connecting', async () => {
    await expect(Client.connect({ address: 'tcp://127.0.0.1:1234' })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(Client.connect({ address: daemonAddress(), namespace: 'bad namespace!' })).rejects.toThrow(/not a valid containerd identifier/)
  })

  it('cancels a call when its signal aborts, with the reason as cause', async () => {
    await using client = await Client.connect({ address: daemonAddress(), namespace: 'testing' })
    const controller = new AbortController()
    const reason = new Error('stop now')
    controller.abort(reason)
    const err = await client.version({ signal: controller.signal }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CanceledError)
    expect((err as Error).cause).toBe(reason)
  })

  it('shares one connection between namespace views; close ends it', async () => {
    const client = await Client.connect({ address: daemonAddress(), namespace: 'one' })
    const other = client.withNamespace('two')
    expect(other.namespace).toBe('two')
    expect(other.address).toBe(client.address)
    expect((await other.version()).version).toBe((await client.version()).version)
    other.close() // a view does not own the connection
    expect((await client.version()).version).not.toBe('')
    client.close()
    await expect(other.version()).rejects.toBeInstanceOf(UnavailableError)
    expect(() => client.withNamespace('-bad')).toThrow(InvalidArgumentError)
  })

  it('reconnects by itself after containerd restarts (ClientReconnect)', async () => {
    const line = daemonLine()
    await using daemon = await startContainerd({ version: line === 'external' ? '1.6' : (line as '1.6' | '1.7' | '2.x') })
    await using client = await Client.connect({ address: daemon.address, namespace: 'reconnect' })
    const before = await client.introspection.server()

    // An event subscription open across the restart must end with an error the caller sees.
    const subscription = (async () => {
      for await (const _ of client.events()) { /* nothing is published */ }
    })().then(() => 'ended without error', (err: unknown) => err)
    await daemon.kill()
    expect(await subscription).toBeInstanceOf(UnavailableError)
    await expect(client.version({ timeoutMs: 2000 })).rejects.toBeInstanceOf(UnavailableError)
    await daemon.restart()
    const after = await client.introspection.server()
    expect(after.uuid).toBe(before.uuid)
    expect((await client.version()).version).not.toBe('')
  })
})

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name]
  else process.env[name] = value
}
