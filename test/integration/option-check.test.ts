// Options checked at run time for plain-JavaScript callers, against the daemon: a misspelt key or a
// value of the wrong shape is an InvalidArgumentError naming the fix, and nothing is pulled, created,
// named or written; `env` as a map reaches the container.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client, InvalidArgumentError, NotFoundError } from '../../src/index.js'
import { runnableBusybox, uniqueId } from '../env/runnable-image.js'
import { runFootprint } from '../env/run-footprint.js'
import { storeLeftovers } from '../env/store-leftovers.js'
import { connectTestClient, daemonAddress } from '../env/test-client.js'

const base = await connectTestClient('option-check')
const IMAGE = 'docker.io/library/busybox:option-check'
// Nothing listens there: were a check skipped, the call would fail fast with another error, not reach the network.
const NOWHERE = '127.0.0.1:1/library/busybox:latest'
let client: Client
let dataRoot: string

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'csdk-option-check-'))
  client = await Client.connect({ address: daemonAddress(), namespace: base.namespace, dataRoot })
  await runnableBusybox(client, IMAGE)
})
afterAll(async () => {
  client?.close()
  await rm(dataRoot, { recursive: true, force: true })
})

/** The rejection of `call`, which must be an InvalidArgumentError. */
async function invalid(call: Promise<unknown>): Promise<InvalidArgumentError> {
  const err = await call.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(InvalidArgumentError)
  return err as InvalidArgumentError
}

describe('run() options', () => {
  it('names a misspelt key with the one meant, and makes nothing (no pull, container, name or state dir)', async () => {
    const before = await runFootprint(client)
    const images = (await client.images.list()).length
    const memory = await invalid(client.run(IMAGE, { args: ['true'], stdio: 'pipe', rm: true, name: 'typo-memory', memroy: '32m' } as never))
    expect(memory.message).toBe("unknown option 'memroy' of run(): did you mean 'memory'?")
    const network = await invalid(client.run(IMAGE, { args: ['true'], stdio: 'pipe', rm: true, name: 'typo-network', netwrok: 'host' } as never))
    expect(network.message).toBe("unknown option 'netwrok' of run(): did you mean 'network'?")
    // A missing image is not pulled either: the check comes first.
    await invalid(client.run(NOWHERE, { memroy: '32m' } as never))
    expect(await runFootprint(client)).toEqual(before)
    expect((await client.images.list()).length).toBe(images)
  })

  it('refuses args given as a string (it would run `s`), naming the fix, and makes nothing', async () => {
    const before = await runFootprint(client)
    const err = await invalid(client.run(IMAGE, { args: 'sleep 30', stdio: 'pipe', rm: true, name: 'args-string' } as never))
    expect(err.message).toBe('run() args must be an array, e.g. [\'sleep\', \'30\']; got "sleep 30"')
    expect(await runFootprint(client)).toEqual(before)
  })

  it('takes env as a map: the container sees A=1', async () => {
    const result = await client.run(IMAGE, { args: ['sh', '-c', 'echo $A'], stdio: 'pipe', rm: true, env: { A: '1' } })
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toBe('1\n')
  })

  it('refuses an env map value that is not a string, naming the key, and makes nothing', async () => {
    const before = await runFootprint(client)
    const err = await invalid(client.run(IMAGE, { args: ['true'], stdio: 'pipe', rm: true, env: { PORT: 8080 } } as never))
    expect(err.message).toBe("run() env.PORT must be a string, got 8080; write '8080'")
    expect(await runFootprint(client)).toEqual(before)
  })

  it('checks the nested pullOptions before pulling', async () => {
    const leftovers = await storeLeftovers(client)
    const err = await invalid(client.run(NOWHERE, { pull: 'always', pullOptions: { auth: { user: 'u', password: 'p' } } } as never))
    expect(err.message).toContain("unknown option 'user' of run() pullOptions auth: did you mean 'username'?")
    expect(await storeLeftovers(client)).toEqual(leftovers)
  })
})

describe('containers.create() options', () => {
  it('names an unknown key before anything is made: no container, no snapshot', async () => {
    const id = uniqueId('typo')
    const before = await runFootprint(client)
    const err = await invalid(client.containers.create(id, { image: IMAGE, args: ['true'], memroy: '32m' } as never))
    expect(err.message).toBe("unknown option 'memroy' of containers.create(): did you mean 'memory'?")
    await expect(client.containers.get(id)).rejects.toBeInstanceOf(NotFoundError)
    expect(await runFootprint(client)).toEqual(before)
  })

  it('refuses args as a string, and creates with env as a map', async () => {
    await invalid(client.containers.create(uniqueId('args'), { image: IMAGE, args: 'sleep 30' } as never))
    const id = uniqueId('env-map')
    const container = await client.containers.create(id, { image: IMAGE, args: ['true'], env: { A: '1', B: 'two' } })
    try {
      const spec = (await container.spec()) as { process?: { env?: string[] } }
      const env = spec.process?.env ?? []
      expect(env).toEqual(expect.arrayContaining(['A=1', 'B=two']))
    } finally {
      await container.delete({ cleanupSnapshot: true })
    }
  })
})

describe('image and log options', () => {
  it('pull() names an unknown key, nested auth too, and stores nothing', async () => {
    const before = await storeLeftovers(client)
    expect((await invalid(client.pull(NOWHERE, { platfrom: 'linux/arm64' } as never))).message).toBe("unknown option 'platfrom' of pull(): did you mean 'platform'?")
    expect((await invalid(client.pull(NOWHERE, { strategy: 'transfer', unpak: false } as never))).message).toContain("did you mean 'unpack'?")
    expect((await invalid(client.pull(NOWHERE, { auth: { username: 'u', pasword: 'p' } } as never))).message).toContain("did you mean 'password'?")
    expect(await storeLeftovers(client)).toEqual(before)
  })

  it('images.push(), import() and export() name an unknown key before reading or writing anything', async () => {
    const before = await storeLeftovers(client)
    expect((await invalid(client.images.push(IMAGE, { chunksize: 1024 } as never))).message).toContain("did you mean 'chunkSize'?")
    const source = Readable.from([Buffer.from('not read')])
    expect((await invalid(client.images.import(source, { namePrefx: 'example.com/x' } as never))).message).toContain("did you mean 'namePrefix'?")
    const target = join(dataRoot, 'out.tar')
    expect((await invalid(client.images.export([IMAGE], target, { platform: 'linux/amd64' } as never))).message).toContain("did you mean 'platforms'?")
    expect(existsSync(target)).toBe(false)
    expect(await storeLeftovers(client)).toEqual(before)
  })

  it('logs() names an unknown key', async () => {
    const { name } = await client.run(IMAGE, { args: ['echo', 'logged'], stdio: 'pipe', name: 'option-check-logs' })
    const entries = async (options: object): Promise<string[]> => {
      const lines: string[] = []
      for await (const entry of client.logs(name, options)) lines.push(entry.line)
      return lines
    }
    expect(await entries({ tail: 1 })).toEqual(['logged'])
    expect((await invalid(entries({ tial: 1 }))).message).toBe("unknown option 'tial' of logs(): did you mean 'tail'?")
  })
})
