// client.run() end to end: nerdctl-style metadata, attached and detached runs, logs, stop, rm, pull
// policies, networks, and nothing left behind when a run fails.
import { existsSync, readdirSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client, ConflictError, FailedPreconditionError, InvalidArgumentError, NotFoundError, type LogEntry } from '../../src/index.js'
import { busyboxImage } from '../fixtures/index.js'
import { FIFO_ROOT } from '../../src/tasks/fifo-set.js'
import { runnableBusybox } from '../env/runnable-image.js'
import { pushFixture, startRegistry, type Registry } from '../env/registry/index.js'
import { connectTestClient, ctr, daemonAddress } from '../env/test-client.js'
import { runFootprint } from '../env/run-footprint.js'

const base = await connectTestClient('run')
const IMAGE = 'docker.io/library/busybox:run'
let client: Client
let dataRoot: string
let registry: Registry

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'csdk-run-'))
  client = await Client.connect({ address: daemonAddress(), namespace: base.namespace, dataRoot })
  await runnableBusybox(client, IMAGE)
  registry = await startRegistry({ mode: 'plain' })
  await pushFixture(registry, await busyboxImage(), 'library/busybox', 'remote')
})
afterAll(async () => {
  client?.close()
  await registry?.stop()
  await rm(dataRoot, { recursive: true, force: true })
})


/** FIFO files left for a container (they are named after it), across every FIFO directory. */
function fifosOf(id: string): string[] {
  return readdirSync(FIFO_ROOT).flatMap((dir) => {
    try {
      return readdirSync(join(FIFO_ROOT, dir)).filter((f) => f.startsWith(id))
    } catch {
      return []
    }
  })
}

async function collect(entries: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
  const out: LogEntry[] = []
  for await (const entry of entries) out.push(entry)
  return out
}

describe('client.run', () => {
  it('runs attached, returns the output and exit code, and removes everything with rm', async () => {
    const before = await runFootprint(client)
    const result = await client.run(IMAGE, { args: ['sh', '-c', 'echo out; echo err >&2; hostname; cat /etc/hostname; exit 3'], stdio: 'pipe', rm: true, name: 'attached-rm' })
    expect(result.exitCode).toBe(3)
    expect(result.id).toMatch(/^[0-9a-f]{64}$/)
    expect(result.stdout).toBe(`out\n${result.id.slice(0, 12)}\n${result.id.slice(0, 12)}\n`)
    expect(result.stderr).toBe('err\n')
    expect(result.container).toBeUndefined()
    expect(await runFootprint(client)).toEqual(before)
    expect(fifosOf(result.id)).toEqual([])
  })

  it('keeps an exited container with nerdctl metadata, finds it by name, and refuses its name twice', async () => {
    const result = await client.run(IMAGE, { args: ['true'], stdio: 'pipe', name: 'kept' })
    expect(result.exitCode).toBe(0)
    const info = await (await client.containers.get('kept')).info()
    expect(info.id).toBe(result.id)
    expect(info.labels).toMatchObject({ 'nerdctl/name': 'kept', 'nerdctl/namespace': client.namespace, 'nerdctl/networks': '["bridge"]' })
    expect(info.labels['nerdctl/state-dir']).toBe(join(client.dataStore, 'containers', client.namespace, result.id))
    expect(await ctr(client.namespace, 'containers', 'info', result.id)).toContain('"nerdctl/name": "kept"')

    const inspect = await (await client.containers.get('kept')).inspect()
    expect(inspect.Name).toBe('kept')
    expect(inspect.State.Status).toBe('exited')
    const rows = await client.containers.ps({ all: true })
    expect(rows.find((r) => r.Names === 'kept')?.Status).toMatch(/^Exited \(0\)/)
    expect((await client.containers.ps()).find((r) => r.Names === 'kept')).toBeUndefined()

    const before = await runFootprint(client)
    await expect(client.run(IMAGE, { args: ['true'], name: 'kept' })).rejects.toBeInstanceOf(ConflictError)
    expect(await runFootprint(client)).toEqual(before)

    await (await client.containers.get('kept')).remove()
    await expect(client.containers.get('kept')).rejects.toBeInstanceOf(NotFoundError)
    expect(fifosOf(result.id)).toEqual([])
    expect(existsSync(info.labels['nerdctl/state-dir'] ?? '/nonexistent')).toBe(false)
    // The name is free again.
    const again = await client.run(IMAGE, { args: ['true'], stdio: 'null', name: 'kept', rm: true })
    expect(again.exitCode).toBe(0)
  })

  it('runs detached into the json-file log, follows the log to the end, stops and removes', async () => {
    const short = await client.run(IMAGE, { args: ['sh', '-c', 'for i in 1 2 3; do echo line-$i; sleep 0.1; done; echo oops >&2'], detach: true, name: 'logger' })
    expect(await (await short.task()).status()).toMatch(/running|stopped/)
    const followed = await collect(client.logs('logger', { follow: true }))
    expect(followed.map((e) => `${e.stream}:${e.line}`)).toEqual(['stdout:line-1', 'stdout:line-2', 'stdout:line-3', 'stderr:oops'])
    expect(followed.every((e) => e.time instanceof Date)).toBe(true)
    expect((await collect(client.logs(short, { tail: 1 }))).map((e) => e.line)).toEqual(['oops'])
    expect((await collect(client.logs('logger', { stderr: false }))).map((e) => e.line)).toEqual(['line-1', 'line-2', 'line-3'])

    const long = await client.run(IMAGE, { args: ['sleep', '600'], detach: true, stopTimeout: 1 })
    expect(long.name).toMatch(/^busybox-[0-9a-f]{5}$/)
    expect((await client.containers.ps()).map((r) => r.Names)).toContain(long.name)
    await expect((await client.containers.get(long.name)).remove()).rejects.toBeInstanceOf(FailedPreconditionError)
    const started = Date.now()
    // sleep as pid 1 ignores SIGTERM: the label's 1 s grace period, then SIGKILL.
    expect((await (await client.containers.get(long.name)).stop())?.exitCode).toBe(137)
    expect(Date.now() - started).toBeLessThan(8000)
    await (await client.containers.get(long.name)).remove()
    await (await client.containers.get('logger')).remove({ force: true })
  })

  it('keeps a restart policy through a refused remove, and stops for good', async () => {
    const web = await client.run(IMAGE, { args: ['sleep', '600'], detach: true, restart: 'always', stopTimeout: 1 })
    const labels = async (): Promise<Record<string, string>> => (await web.info()).labels
    expect(await labels()).toMatchObject({ 'containerd.io/restart.status': 'running', 'containerd.io/restart.policy': 'always' })
    await expect((await client.containers.get(web.id)).remove()).rejects.toBeInstanceOf(FailedPreconditionError)
    // Refused means unchanged: the monitor still watches it.
    expect((await labels())['containerd.io/restart.status']).toBe('running')
    expect((await (await client.containers.get(web.id)).stop())?.exitCode).toBe(137)
    expect((await labels())['containerd.io/restart.status']).toBe('stopped')
    await (await client.containers.get(web.id)).remove()
  })

  it('shares the host network, keeps its own with none, and joins the bridge by default', async () => {
    const host = await client.run(IMAGE, { args: ['sh', '-c', 'hostname; cat /proc/net/dev'], stdio: 'pipe', rm: true, network: 'host' })
    expect(host.stdout?.split('\n')[0]).toBe(hostname())
    const none = await client.run(IMAGE, { args: ['cat', '/proc/net/dev'], stdio: 'pipe', rm: true, network: 'none' })
    const interfaces = (text: string | undefined): string[] => (text ?? '').split('\n').slice(2).map((l) => l.split(':')[0]?.trim() ?? '').filter((n) => n !== '')
    expect(interfaces(none.stdout)).toEqual(['lo'])
    expect(interfaces(host.stdout).length).toBeGreaterThan(1)
    const bridged = await client.run(IMAGE, { args: ['cat', '/proc/net/dev'], stdio: 'pipe', rm: true })
    expect(interfaces(bridged.stdout).sort()).toEqual(['eth0', 'lo'])
  })

  it('pulls by policy: missing pulls once, never refuses an absent image', async () => {
    const ref = `${registry.host}/library/busybox:remote`
    await expect(client.run(ref, { pull: 'never', args: ['true'] })).rejects.toBeInstanceOf(NotFoundError)
    const first = await client.run(ref, { args: ['echo', 'pulled'], stdio: 'pipe', rm: true })
    expect(first.stdout).toBe('pulled\n')
    expect((await client.images.get(ref)).name).toBe(ref)
    const second = await client.run(ref, { pull: 'never', args: ['echo', 'local'], stdio: 'pipe', rm: true })
    expect(second.stdout).toBe('local\n')
  })

  it('refuses bad options before doing anything, and undoes a run that fails to start', async () => {
    const before = await runFootprint(client)
    await expect(client.run(IMAGE, { detach: true, rm: true })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(client.run(IMAGE, { rm: true, restart: 'always' })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(client.run(IMAGE, { name: 'bad name!' })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(client.run(IMAGE, { memory: 'lots', name: 'bad-memory' })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(client.run(IMAGE, { args: ['/no/such/binary'], name: 'no-binary' })).rejects.toThrow(/no such file|not found/i)
    await expect(client.run(IMAGE, { args: ['/no/such/binary'], name: 'no-binary-detached', detach: true })).rejects.toThrow(/no such file|not found/i)
    expect(await runFootprint(client)).toEqual(before)
  })
})
