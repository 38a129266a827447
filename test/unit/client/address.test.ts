import { spawn } from 'node:child_process'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, it, expect } from 'vitest'
import { DEFAULT_ADDRESS, DEFAULT_NAMESPACE, resolveAddress, resolveNamespace, socketPath } from '../../../src/client/address.js'
import { ClientCore } from '../../../src/client/client.js'
import { ContainerdError, InvalidArgumentError, UnavailableError } from '../../../src/grpc/errors.js'

describe('constants', () => {
  it('match containerd defaults', () => {
    expect(DEFAULT_ADDRESS).toBe('/run/containerd/containerd.sock')
    expect(DEFAULT_NAMESPACE).toBe('default')
  })
})

describe('socketPath', () => {
  it.each([
    ['unix:///run/x.sock', '/run/x.sock'],
    ['unix:/run/x.sock', '/run/x.sock'],
    ['unix://relative.sock', 'relative.sock'],
    ['unix:relative.sock', 'relative.sock'],
    ['/run/containerd/containerd.sock', '/run/containerd/containerd.sock'],
    ['relative/dir/c.sock', 'relative/dir/c.sock'],
    ['./c.sock', './c.sock'],
    ['c.sock', 'c.sock'],
  ])('%s → %s', (input, expected) => {
    expect(socketPath(input)).toBe(expected)
  })

  it.each(['tcp://127.0.0.1:1234', 'TCP://host:1', 'http://localhost', 'https://h', 'grpc+tcp://h:1', 'npipe://./pipe/containerd'])(
    'rejects %s with InvalidArgumentError naming the fix',
    (address) => {
      let caught: unknown
      try {
        socketPath(address)
      } catch (err) {
        caught = err
      }
      expect(caught).toBeInstanceOf(InvalidArgumentError)
      expect(caught).toBeInstanceOf(ContainerdError)
      const err = caught as InvalidArgumentError
      expect(err.code).toBe('InvalidArgument')
      expect(err.message).toBe(
        `unsupported containerd address "${address}": containerd serves its API on a unix socket; pass a path such as /run/containerd/containerd.sock or unix:///run/containerd/containerd.sock`,
      )
    },
  )

  it('rejects an empty address', () => {
    expect(() => socketPath('')).toThrow(InvalidArgumentError)
    expect(() => socketPath('')).toThrow('the containerd address is empty')
  })

  it('does not treat a path containing "://" after a non-scheme prefix as a URL', () => {
    // A scheme must start with a letter; a path starting with '/' is a path.
    expect(socketPath('/tmp/a://b.sock')).toBe('/tmp/a://b.sock')
  })
})

describe('resolveAddress', () => {
  it('prefers the explicit option over the environment', () => {
    expect(resolveAddress('/opt/c.sock', { CONTAINERD_ADDRESS: '/env/c.sock' })).toBe('/opt/c.sock')
  })

  it('normalizes the explicit option', () => {
    expect(resolveAddress('unix:///opt/c.sock', {})).toBe('/opt/c.sock')
  })

  it('uses CONTAINERD_ADDRESS when no option is given', () => {
    expect(resolveAddress(undefined, { CONTAINERD_ADDRESS: '/env/c.sock' })).toBe('/env/c.sock')
    expect(resolveAddress(undefined, { CONTAINERD_ADDRESS: 'unix:///env/c.sock' })).toBe('/env/c.sock')
    expect(resolveAddress(undefined, { CONTAINERD_ADDRESS: 'unix:/env/c.sock' })).toBe('/env/c.sock')
  })

  it('falls back to the default socket when the env is unset or empty', () => {
    expect(resolveAddress(undefined, {})).toBe(DEFAULT_ADDRESS)
    expect(resolveAddress(undefined, { CONTAINERD_ADDRESS: '' })).toBe(DEFAULT_ADDRESS)
    expect(resolveAddress(undefined, { OTHER: '/x' })).toBe(DEFAULT_ADDRESS)
  })

  it('rejects a TCP address from the environment', () => {
    expect(() => resolveAddress(undefined, { CONTAINERD_ADDRESS: 'tcp://10.0.0.1:2375' })).toThrow(InvalidArgumentError)
    expect(() => resolveAddress(undefined, { CONTAINERD_ADDRESS: 'tcp://10.0.0.1:2375' })).toThrow(/unsupported containerd address "tcp:\/\/10\.0\.0\.1:2375"/)
  })

  it('rejects an explicitly empty address instead of falling back', () => {
    expect(() => resolveAddress('', { CONTAINERD_ADDRESS: '/env/c.sock' })).toThrow('the containerd address is empty')
  })

  it('reads process.env by default', () => {
    const saved = process.env['CONTAINERD_ADDRESS']
    try {
      process.env['CONTAINERD_ADDRESS'] = 'unix:///from/process.sock'
      expect(resolveAddress(undefined)).toBe('/from/process.sock')
    } finally {
      if (saved === undefined) delete process.env['CONTAINERD_ADDRESS']
      else process.env['CONTAINERD_ADDRESS'] = saved
    }
  })
})

describe('resolveNamespace', () => {
  it('prefers the explicit option', () => {
    expect(resolveNamespace('mine', { CONTAINERD_NAMESPACE: 'env' })).toBe('mine')
  })

  it('uses CONTAINERD_NAMESPACE when no option is given', () => {
    expect(resolveNamespace(undefined, { CONTAINERD_NAMESPACE: 'k8s.io' })).toBe('k8s.io')
  })

  it('falls back to default when the env is unset or empty', () => {
    expect(resolveNamespace(undefined, {})).toBe('default')
    expect(resolveNamespace(undefined, { CONTAINERD_NAMESPACE: '' })).toBe('default')
  })

  it('returns an explicit empty string as is (validation happens later)', () => {
    expect(resolveNamespace('', { CONTAINERD_NAMESPACE: 'env' })).toBe('')
  })

  it('reads process.env by default', () => {
    const saved = process.env['CONTAINERD_NAMESPACE']
    try {
      process.env['CONTAINERD_NAMESPACE'] = 'from-process'
      expect(resolveNamespace(undefined)).toBe('from-process')
    } finally {
      if (saved === undefined) delete process.env['CONTAINERD_NAMESPACE']
      else process.env['CONTAINERD_NAMESPACE'] = saved
    }
  })
})

describe('socketPath edge cases', () => {
  it('rejects a unix URL without a path', () => {
    expect(() => socketPath('unix://')).toThrow(InvalidArgumentError)
    expect(() => socketPath('unix:')).toThrow(/names no socket path/)
  })
})

describe('connect to a path that is no socket', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'csdk-address-'))
    await writeFile(join(dir, 'file.sock'), '')
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  async function connectError(address: string, options: { timeoutMs?: number } = {}): Promise<unknown> {
    return ClientCore.connect({ address, ...options }).then((c) => { c.close(); return undefined }, (err: unknown) => err)
  }

  it('says a directory is a directory, with the socket path to pass instead (InvalidArgumentError)', async () => {
    const err = await connectError(dir)
    expect(err).toBeInstanceOf(InvalidArgumentError)
    expect((err as Error).message).toBe(`${dir} is a directory, not a socket: pass the socket path, e.g. ${join(dir, 'containerd.sock')}`)
    // The unix:// form too.
    expect(await connectError(`unix://${dir}`)).toBeInstanceOf(InvalidArgumentError)
  })

  it('says a regular file is a regular file (InvalidArgumentError)', async () => {
    const err = await connectError(join(dir, 'file.sock'))
    expect(err).toBeInstanceOf(InvalidArgumentError)
    expect((err as Error).message).toBe(`${join(dir, 'file.sock')} is a regular file, not a socket: pass the socket path, e.g. /run/containerd/containerd.sock`)
  })

  it('keeps a missing path an UnavailableError naming the path', async () => {
    const missing = join(dir, 'missing.sock')
    const err = await connectError(missing)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as Error).message).toContain(`containerd is not reachable at ${missing}: no socket exists at that path`)
  })

  it('keeps a socket nobody listens on an UnavailableError (containerd is not running)', async () => {
    const path = join(dir, 'stale.sock')
    // A socket file left by a server that died (a closing server would remove it).
    const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`])
    await new Promise((resolve) => child.once('exit', resolve))
    expect((await stat(path)).isSocket()).toBe(true)
    const err = await connectError(path)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as Error).message).toBe(`containerd is not reachable at ${path}: nothing is listening on that socket (containerd is not running)`)
  })

  it('refuses a timeoutMs a timer cannot hold before connecting (InvalidArgumentError, not a RangeError)', async () => {
    for (const timeoutMs of [NaN, Infinity, 2 ** 31]) {
      const err = await connectError(dir, { timeoutMs })
      expect(err).toBeInstanceOf(InvalidArgumentError)
      expect((err as Error).message).toMatch(/timeoutMs must be a number of milliseconds up to 2147483647/)
    }
  })
})
