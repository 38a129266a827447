import { describe, expect, it } from 'vitest'
import { NamespaceGuard } from '../../../src/client/namespace-guard.js'
import type { Services } from '../../../src/client/services.js'

// A namespace service that starts with `existing` and records deletions.
function fakeServices(existing: string[]): { services: () => Services; deleted: string[] } {
  const deleted: string[] = []
  const namespaces = {
    list: async () => ({ namespaces: existing.map((name) => ({ name })) }),
    delete: async ({ name }: { name: string }) => { deleted.push(name) },
  }
  return { services: () => ({ namespaces }) as unknown as Services, deleted }
}

describe('NamespaceGuard', () => {
  it('removes a namespace a failed call created', async () => {
    const { services, deleted } = fakeServices([])
    const guard = new NamespaceGuard(services)
    await expect(guard.run('fresh', async () => { throw new Error('failed') })).rejects.toThrow('failed')
    expect(deleted).toEqual(['fresh'])
  })

  it('keeps a namespace that existed before', async () => {
    const { services, deleted } = fakeServices(['old'])
    const guard = new NamespaceGuard(services)
    await expect(guard.run('old', async () => { throw new Error('failed') })).rejects.toThrow('failed')
    expect(deleted).toEqual([])
  })

  it('does not remove a namespace while another call of the connection works in it', async () => {
    const { services, deleted } = fakeServices([])
    const guard = new NamespaceGuard(services)
    let finish = (): void => undefined
    const slow = guard.run('shared', () => new Promise<string>((resolve) => { finish = () => resolve('ok') }))
    await expect(guard.run('shared', async () => { throw new Error('failed') })).rejects.toThrow('failed')
    expect(deleted).toEqual([])
    finish()
    expect(await slow).toBe('ok')
    expect(deleted).toEqual([])
  })

  it('removes it when the last of two concurrent calls fails too', async () => {
    const { services, deleted } = fakeServices([])
    const guard = new NamespaceGuard(services)
    let fail = (): void => undefined
    const slow = guard.run('shared', () => new Promise<string>((_resolve, reject) => { fail = () => reject(new Error('late')) }))
    await expect(guard.run('shared', async () => { throw new Error('failed') })).rejects.toThrow('failed')
    fail()
    await expect(slow).rejects.toThrow('late')
    expect(deleted).toEqual(['shared'])
  })
})
