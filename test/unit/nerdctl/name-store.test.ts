import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CanceledError, ConflictError, DeadlineExceededError, InvalidArgumentError, NotFoundError } from '../../../src/grpc/errors.js'
import { generateContainerId } from '../../../src/nerdctl/container-id.js'
import { NameStore, nameStoreDir, validateContainerName } from '../../../src/nerdctl/name-store.js'
import { withDirLock } from '../../../src/nerdctl/dir-lock.js'
import { holdLockElsewhere } from '../../env/hold-lock.js'

const run = promisify(execFile)
let root: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'csdk-names-'))
})
afterAll(async () => rm(root, { recursive: true, force: true }))

describe('name store', () => {
  it('keeps names/<ns>/<name> holding the id, dirs 0700 and files 0600, like nerdctl', async () => {
    const store = new NameStore(join(root, 'layout'), 'default')
    const id = generateContainerId()
    await store.acquire('web', id)
    expect(store.dir).toBe(join(root, 'layout', 'names', 'default'))
    expect(await readFile(join(store.dir, 'web'), 'utf8')).toBe(id)
    expect((await stat(join(store.dir, 'web'))).mode & 0o777).toBe(0o600)
    expect((await stat(store.dir)).mode & 0o777).toBe(0o700)
    expect((await stat(join(root, 'layout', 'names'))).mode & 0o777).toBe(0o700)
    expect(await readdir(store.dir)).toEqual(['web'])
    expect(await store.get('web')).toBe(id)
    expect(await store.list()).toEqual(new Map([['web', id]]))
  })

  it('refuses a name held by another container and changes nothing', async () => {
    const store = new NameStore(join(root, 'conflict'), 'ns1')
    const [a, b] = [generateContainerId(), generateContainerId()]
    await store.acquire('db', a)
    await store.acquire('db', a) // re-acquiring one's own name is fine
    const err = await store.acquire('db', b).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConflictError)
    expect((err as Error).message).toContain(a)
    expect(await store.get('db')).toBe(a)
    // Namespaces are separate stores.
    await new NameStore(join(root, 'conflict'), 'ns2').acquire('db', b)
    expect(await readdir(store.dir)).toEqual(['db'])
  })

  it('releases only for the holder, and reports a free name', async () => {
    const store = new NameStore(join(root, 'release'), 'default')
    const [a, b] = [generateContainerId(), generateContainerId()]
    await store.acquire('app', a)
    await expect(store.release('app', b)).rejects.toBeInstanceOf(ConflictError)
    expect(await store.release('app', a)).toBe(true)
    expect(await store.release('app', a)).toBe(false)
    expect(await store.get('app')).toBeUndefined()
    await store.acquire('app', b)
    expect(await store.get('app')).toBe(b)
  })

  it('renames in one step', async () => {
    const store = new NameStore(join(root, 'rename'), 'default')
    const [a, b] = [generateContainerId(), generateContainerId()]
    await store.acquire('old', a)
    await store.acquire('taken', b)
    await expect(store.rename('old', a, 'taken')).rejects.toBeInstanceOf(ConflictError)
    await expect(store.rename('old', b, 'new')).rejects.toBeInstanceOf(ConflictError)
    await expect(store.rename('missing', a, 'new')).rejects.toBeInstanceOf(NotFoundError)
    await store.rename('old', a, 'new')
    expect(await store.list()).toEqual(new Map([['new', a], ['taken', b]]))
  })

  it('validates names by Docker’s rule before touching the disk', async () => {
    for (const bad of ['', 'a', '-web', 'we b', 'a/b', '../x', 'x'.repeat(256)]) {
      expect(() => validateContainerName(bad)).toThrow(InvalidArgumentError)
    }
    for (const good of ['ab', 'web-1', 'a.b_c', '0x']) expect(() => validateContainerName(good)).not.toThrow()
    const dataStore = join(root, 'untouched')
    await expect(new NameStore(dataStore, 'default').acquire('a/b', generateContainerId())).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(stat(dataStore)).rejects.toThrow()
    expect(() => new NameStore(dataStore, 'bad ns')).toThrow(InvalidArgumentError)
  })

  it('gives a name to exactly one of many concurrent acquirers', async () => {
    const store = new NameStore(join(root, 'race'), 'default')
    const ids = Array.from({ length: 12 }, () => generateContainerId())
    const results = await Promise.allSettled(ids.map((id) => store.acquire('contended', id)))
    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [ids[i]] : []))
    expect(winners).toHaveLength(1)
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof ConflictError)).toBe(true)
    expect(await store.get('contended')).toBe(winners[0])
    expect(await readdir(store.dir)).toEqual(['contended']) // no temp files left
  })

  it('excludes other processes that lock the store as nerdctl does', async () => {
    const store = new NameStore(join(root, 'interop'), 'default')
    const ours = generateContainerId()
    const theirs = generateContainerId()
    // Five "nerdctl" processes: each takes flock on the store dir, writes the name if it is free.
    const script = `[ -e "$1/shared" ] || printf %s "$2" > "$1/shared"`
    await withDirLock(store.dir, async () => undefined) // creates the dir
    const others = Array.from({ length: 5 }, () => run('flock', ['-x', store.dir, 'sh', '-c', script, 'sh', store.dir, theirs]))
    const mine = store.acquire('shared', ours).then(
      () => 'won',
      (e: unknown) => (e instanceof ConflictError ? 'lost' : Promise.reject(e)),
    )
    await Promise.all(others)
    const outcome = await mine
    expect(await store.get('shared')).toBe(outcome === 'won' ? ours : theirs)
  })

  it('waits for a lock held elsewhere, and gives up on timeout or abort', async () => {
    const store = new NameStore(join(root, 'held'), 'default')
    await store.acquire('first', generateContainerId())
    const holder = await holdLockElsewhere(store.dir)
    try {
      await expect(store.acquire('second', generateContainerId(), { timeoutMs: 200 })).rejects.toBeInstanceOf(DeadlineExceededError)
      const controller = new AbortController()
      const aborted = store.acquire('second', generateContainerId(), { signal: controller.signal })
      setTimeout(() => controller.abort(new Error('stop')), 100)
      const err = await aborted.catch((e: unknown) => e)
      expect(err).toBeInstanceOf(CanceledError)
      expect((err as Error).cause).toEqual(new Error('stop'))
      const started = Date.now()
      const waiting = store.acquire('second', generateContainerId())
      setTimeout(() => void holder.release(), 300)
      await waiting
      expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    } finally {
      await holder.release()
    }
    expect([...(await store.list()).keys()].sort()).toEqual(['first', 'second'])
  })

  it('reclaims a name whose holder is gone when asked to', async () => {
    const store = new NameStore(join(root, 'reclaim'), 'default')
    const [gone, next] = [generateContainerId(), generateContainerId()]
    await store.acquire('svc', gone)
    await expect(store.acquire('svc', next, { reclaim: async () => false })).rejects.toBeInstanceOf(ConflictError)
    const asked: string[] = []
    await store.acquire('svc', next, { reclaim: async (holder) => (asked.push(holder), true) })
    expect(asked).toEqual([gone])
    expect(await store.get('svc')).toBe(next)
  })

  it('puts the store where nerdctl does', () => {
    expect(nameStoreDir('/var/lib/nerdctl/1935db59', 'k8s.io')).toBe('/var/lib/nerdctl/1935db59/names/k8s.io')
  })
})
