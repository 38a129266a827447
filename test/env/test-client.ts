import { randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, inject } from 'vitest'
import { Client } from '../../src/index.js'
import { containerdCacheDir } from '../../src/testing/containerd-binaries.js'

const run = promisify(execFile)

/** The containerd this project runs against. */
export function daemonAddress(): string {
  return inject('containerdAddress')
}

/** The release line under test (`1.6`, `1.7`, `2.x`), or `external`. */
export function daemonLine(): string {
  return inject('containerdLine')
}

/** A namespace name unique to this run, derived from the test file's label. */
export function uniqueNamespace(label: string): string {
  return `t-${label.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40)}-${randomBytes(4).toString('hex')}`
}

/**
 * Connects a client in a fresh namespace for one test file and, after the file, removes everything the
 * tests left in it (leases, snapshots, content, images, containers) and the namespace itself.
 */
export async function connectTestClient(label: string): Promise<Client> {
  const client = await Client.connect({ address: daemonAddress(), namespace: uniqueNamespace(label) })
  afterAll(async () => {
    await sweepNamespace(client)
    client.close()
  })
  return client
}

/** Deletes every object in the client's namespace, then the namespace. Best effort, bounded. */
export async function sweepNamespace(client: Client): Promise<void> {
  const s = client.services
  // Docker's removal first: it also detaches networks (netns, addresses, port rules) and frees names.
  for (const { id } of (await s.containers.list({})).containers) {
    await (await client.containers.get(id)).remove({ force: true }).catch(() => undefined)
  }
  for (const { id } of (await s.containers.list({})).containers) await s.containers.delete({ id }).catch(() => undefined)
  for (const { name } of (await s.images.list({})).images) await s.images.delete({ name, sync: true }).catch(() => undefined)
  for (const lease of await client.leases.list()) await client.leases.delete(lease.id, { sync: true }).catch(() => undefined)
  for (const status of await client.content.listStatuses()) await client.content.abort(status.ref).catch(() => undefined)
  const snapshots = client.snapshots()
  // Children before parents: retry a few rounds, since removing a parent with children fails.
  for (let round = 0; round < 10; round++) {
    const keys: string[] = []
    for await (const info of snapshots.list()) keys.push(info.name)
    if (keys.length === 0) break
    for (const key of keys) await snapshots.remove(key).catch(() => undefined)
  }
  for await (const info of client.content.list()) await client.content.delete(info.digest).catch(() => undefined)
  await client.namespaces.delete(client.namespace).catch(() => undefined)
}

/** Runs the `ctr` that belongs to the daemon under test against it, and returns stdout. */
export async function ctr(namespace: string, ...args: string[]): Promise<string> {
  const line = daemonLine()
  const bin = line === '1.6' || line === 'external' ? '/usr/bin/ctr' : join(containerdCacheDir(), line, 'usr', 'bin', 'ctr')
  const { stdout } = await run(bin, ['--address', daemonAddress(), '--namespace', namespace, ...args], { timeout: 30_000 })
  return stdout
}
