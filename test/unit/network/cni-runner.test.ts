import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { CanceledError, DeadlineExceededError, FailedPreconditionError, InvalidArgumentError } from '../../../src/grpc/errors.js'
import { CniError } from '../../../src/network/cni/cni-error.js'
import type { CniRuntime } from '../../../src/network/cni/cni-options.js'
import type { CniResult } from '../../../src/network/cni/cni-result.js'
import { cachedResult, cniAdd, cniCheck, cniDel, cniVersion } from '../../../src/network/cni/cni-runner.js'
import type { NetworkConfigList } from '../../../src/network/cni/network-config.js'

// The runner against fake plugins (a Node script under several names): what each plugin is given and
// in which order, without root or real networking. test/integration/cni-runner.test.ts runs the real ones.

interface Call {
  pid: number
  type: string
  command: string
  env: Record<string, string | undefined>
  conf: Record<string, unknown>
}

let dir: string
let binDir: string
let logFile: string
let cacheDir: string

const FAKE = (log: string): string => `#!${process.execPath}
const fs = require('fs')
const conf = JSON.parse(fs.readFileSync(0, 'utf8'))
const e = process.env
const command = e.CNI_COMMAND
const env = {}
for (const k of ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH', 'HOME']) env[k] = e[k]
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ pid: process.pid, type: conf.type, command, env, conf }) + '\\n')
const behave = conf.behave || {}
if (command === 'VERSION') { process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, supportedVersions: ['0.3.1', '0.4.0', '1.0.0'] })); process.exit(0) }
if ((behave.fail || []).includes(command)) {
  process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, code: 7, msg: 'told to fail', details: conf.type }))
  process.exit(1)
}
if ((behave.hang || []).includes(command)) {
  // A process of the plugin's that keeps its stdout open, as a daemonizing plugin's would.
  if (behave.fork) { const c = require('child_process').spawn('sleep', ['20'], { stdio: ['ignore', 1, 2], detached: true }); fs.appendFileSync(${JSON.stringify(log)} + '.fork', String(c.pid)) }
  setInterval(() => {}, 1000)
}
else if (behave.flood === command) { process.stdout.write('x'.repeat(2 * 1024 * 1024)) }
else if (behave.garbage === command) { process.stdout.write('not json') }
else if (behave.stderr === command) { process.stderr.write('old-style failure'); process.exit(3) }
else if (command === 'ADD') {
  const r = conf.prevResult ? JSON.parse(JSON.stringify(conf.prevResult)) : { cniVersion: conf.cniVersion, interfaces: [{ name: e.CNI_IFNAME, sandbox: e.CNI_NETNS }], ips: [{ interface: 0, address: '10.9.0.2/24' }] }
  r.interfaces.push({ name: conf.type + '-host' })
  process.stdout.write(JSON.stringify(r))
}
`

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'csdk-cni-runner-'))
  binDir = join(dir, 'bin')
  logFile = join(dir, 'calls.log')
  await mkdir(binDir)
  for (const name of ['fa', 'fb', 'fc', 'portmap', 'firewall']) {
    await writeFile(join(binDir, name), FAKE(logFile))
    await chmod(join(binDir, name), 0o755)
  }
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})
beforeEach(async () => {
  await writeFile(logFile, '')
  cacheDir = await mkdtemp(join(dir, 'cache-'))
})

async function calls(): Promise<Call[]> {
  const text = await readFile(logFile, 'utf8')
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Call)
}

function net(overrides: Partial<NetworkConfigList> = {}, behave: Record<string, Record<string, unknown>> = {}): NetworkConfigList {
  return {
    cniVersion: '1.0.0',
    name: 'fakenet',
    plugins: [
      { type: 'fa', behave: behave['fa'] ?? {} },
      { type: 'fb', capabilities: { portMappings: true }, behave: behave['fb'] ?? {} },
      { type: 'fc', capabilities: { mac: true }, behave: behave['fc'] ?? {} },
    ],
    ...overrides,
  }
}

const runtime: CniRuntime = {
  containerId: 'ns-c1',
  netns: '/proc/self/ns/net',
  ifName: 'eth0',
  args: [['IgnoreUnknown', '1'], ['K', 'v']],
  capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
}
const options = (): { pluginDirs: string[]; cacheDir: string } => ({ pluginDirs: [join(dir, 'nowhere'), binDir], cacheDir })
const order = (cs: Call[]): string[] => cs.map((c) => `${c.command} ${c.type}`)

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return false
  } catch {
    return true
  }
}

// Each fake plugin is a Node process: a chain with its rollback takes seconds on a loaded machine.
const SLOW = { timeout: 30_000 }

describe('cniAdd', SLOW, () => {
  it('runs the chain in order, passing each result on, with the CNI environment; caches the result', async () => {
    const result = await cniAdd(net(), runtime, options())
    const cs = await calls()
    expect(order(cs)).toEqual(['ADD fa', 'ADD fb', 'ADD fc'])
    const [a, b, c] = cs as [Call, Call, Call]
    expect(a.env).toEqual({
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'ns-c1',
      CNI_NETNS: '/proc/self/ns/net',
      CNI_IFNAME: 'eth0',
      CNI_ARGS: 'IgnoreUnknown=1;K=v',
      CNI_PATH: `${join(dir, 'nowhere')}:${binDir}`,
      // Nothing else of ours leaks into the plugin's environment.
      HOME: undefined,
    })
    expect(a.conf).toEqual({ type: 'fa', behave: {}, name: 'fakenet', cniVersion: '1.0.0' })
    expect(b.conf['prevResult']).toEqual({ cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/proc/self/ns/net' }, { name: 'fa-host' }], ips: [{ interface: 0, address: '10.9.0.2/24' }] })
    expect(b.conf['runtimeConfig']).toEqual({ portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] })
    // fc declares mac, which the runtime does not give: no runtimeConfig.
    expect(c.conf).not.toHaveProperty('runtimeConfig')
    expect(result.interfaces?.map((i) => i.name)).toEqual(['eth0', 'fa-host', 'fb-host', 'fc-host'])

    const cached = await cachedResult(net(), runtime, { cacheDir })
    expect(cached?.result).toEqual(result)
    expect(cached?.config).toEqual(net())
    expect(await readdir(join(cacheDir, 'results'))).toEqual(['fakenet-ns-c1-eth0'])
  })

  it('runs portmap and firewall side by side, each given the result before them; a failure of one rolls the whole list back', async () => {
    const list = (behave: Record<string, unknown> = {}): NetworkConfigList => ({
      cniVersion: '1.0.0',
      name: 'fakenet',
      plugins: [{ type: 'fa' }, { type: 'portmap', capabilities: { portMappings: true } }, { type: 'firewall', behave }],
    })
    const result = await cniAdd(list(), runtime, options())
    const cs = await calls()
    const [a, p, f] = [cs.find((c) => c.type === 'fa'), cs.find((c) => c.type === 'portmap'), cs.find((c) => c.type === 'firewall')]
    expect(cs).toHaveLength(3)
    expect(order(cs)[0]).toBe('ADD fa')
    // In order, firewall would have seen portmap's result (with its portmap-host interface).
    expect(p?.conf['prevResult']).toEqual(f?.conf['prevResult'])
    expect((p?.conf['prevResult'] as CniResult).interfaces?.map((i) => i.name)).toEqual(['eth0', 'fa-host'])
    expect(a).toBeDefined()
    // The last plugin's result is the chain's (the real ones hand back what they were given).
    expect(result.interfaces?.map((i) => i.name)).toEqual(['eth0', 'fa-host', 'firewall-host'])
    await cniDel(list(), runtime, options())

    await writeFile(logFile, '')
    const err = await cniAdd(list({ fail: ['ADD'] }), runtime, options()).catch((e: unknown) => e)
    expect(err).toMatchObject({ plugin: 'firewall', command: 'ADD', msg: 'told to fail' })
    const after = order(await calls())
    expect(after.slice(0, 1)).toEqual(['ADD fa'])
    expect(after.slice(1, 3).sort()).toEqual(['ADD firewall', 'ADD portmap'])
    expect(after.slice(3, 5).sort()).toEqual(['DEL firewall', 'DEL portmap'])
    expect(after.slice(5)).toEqual(['DEL fa'])
    expect(await readdir(join(cacheDir, 'results'))).toEqual([])
  })

  it('looks every plugin up before running any: a missing one changes nothing', async () => {
    const list = net()
    list.plugins.splice(1, 0, { type: 'nosuchplugin' })
    const err = await cniAdd(list, runtime, options()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CniError)
    expect(err).toBeInstanceOf(FailedPreconditionError)
    expect((err as CniError).message).toContain(`CNI plugin "nosuchplugin" not found in ${join(dir, 'nowhere')}, ${binDir}`)
    expect((err as CniError).message).toContain("install Debian's containernetworking-plugins package")
    expect(err).toMatchObject({ plugin: 'nosuchplugin', command: 'ADD', network: 'fakenet' })
    expect(await calls()).toEqual([])
  })

  it('rolls a failed ADD back with a DEL of the whole list, then throws the ADD error', async () => {
    const err = await cniAdd(net({}, { fb: { fail: ['ADD'] } }), runtime, options()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CniError)
    expect(err).toMatchObject({ plugin: 'fb', command: 'ADD', network: 'fakenet', cniCode: 7, msg: 'told to fail', details: 'fb', code: 'InvalidArgument' })
    expect((err as Error).message).toBe('CNI plugin fb failed ADD on network fakenet: told to fail (fb) [CNI error code 7]')
    const cs = await calls()
    expect(order(cs)).toEqual(['ADD fa', 'ADD fb', 'DEL fc', 'DEL fb', 'DEL fa'])
    // The rollback gives what was added so far as prevResult.
    expect((cs[2]?.conf['prevResult'] as CniResult).interfaces?.map((i) => i.name)).toEqual(['eth0', 'fa-host'])
    expect(await cachedResult(net(), runtime, { cacheDir })).toBeUndefined()
  })

  it('refuses a result that is not one, and rolls back', async () => {
    const err = await cniAdd(net({}, { fa: { garbage: 'ADD' } }), runtime, options()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CniError)
    expect((err as Error).message).toMatch(/CNI plugin fa ADD on network fakenet: the plugin printed output that is not JSON: "not json"/)
    expect(order(await calls())).toEqual(['ADD fa', 'DEL fc', 'DEL fb', 'DEL fa'])
  })

  it('kills a plugin that prints too much', async () => {
    const err = await cniAdd(net({}, { fa: { flood: 'ADD' } }), runtime, options()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CniError)
    expect(err).toMatchObject({ code: 'ResourceExhausted', plugin: 'fa' })
    expect((err as Error).message).toMatch(/more than 1048576 bytes on stdout/)
  })

  it('quotes stderr of a plugin that prints no error result', async () => {
    const err = await cniAdd(net({}, { fa: { stderr: 'ADD' } }), runtime, options()).catch((e: unknown) => e)
    expect((err as Error).message).toBe('CNI plugin fa failed ADD on network fakenet: old-style failure')
  })

  it('kills a plugin at the deadline, rejects DeadlineExceededError, and rolls back', async () => {
    const started = performance.now()
    // Long enough for fa (a Node start) on a loaded machine: the deadline must pass while fb hangs.
    const err = await cniAdd(net({}, { fb: { hang: ['ADD'] } }), runtime, { ...options(), timeoutMs: 5000 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DeadlineExceededError)
    expect((err as Error).message).toMatch(/CNI plugin fb ADD on network fakenet: the deadline passed; the plugin was killed/)
    expect(performance.now() - started).toBeLessThan(20_000)
    const cs = await calls()
    expect(order(cs)).toEqual(['ADD fa', 'ADD fb', 'DEL fc', 'DEL fb', 'DEL fa'])
    expect(isGone(cs[1]!.pid)).toBe(true)
  })

  it('does not wait for a process of the plugin that holds its stdout after the kill', async () => {
    const started = performance.now()
    const err = await cniAdd(net({}, { fa: { hang: ['ADD'], fork: true } }), runtime, { ...options(), timeoutMs: 1500 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DeadlineExceededError)
    expect(performance.now() - started).toBeLessThan(10_000)
    const fork = Number(await readFile(`${logFile}.fork`, 'utf8'))
    process.kill(fork, 'SIGKILL')
    await rm(`${logFile}.fork`)
  })

  it('kills a plugin on abort and rejects CanceledError with the reason as cause', async () => {
    const controller = new AbortController()
    const reason = new Error('user gave up')
    const pending = cniAdd(net({}, { fa: { hang: ['ADD'] } }), runtime, { ...options(), signal: controller.signal }).catch((e: unknown) => e)
    // Bounded wait for the plugin to start.
    for (let i = 0; i < 100 && (await calls()).length === 0; i++) await new Promise((r) => setTimeout(r, 50))
    controller.abort(reason)
    const err = await pending
    expect(err).toBeInstanceOf(CanceledError)
    expect((err as CanceledError).cause).toBe(reason)
    const cs = await calls()
    expect(isGone(cs[0]!.pid)).toBe(true)
    // The rollback ran in spite of the aborted signal.
    expect(order(cs)).toEqual(['ADD fa', 'DEL fc', 'DEL fb', 'DEL fa'])
  })

  it('runs nothing for an already aborted signal, and checks options', async () => {
    const err = await cniAdd(net(), runtime, { ...options(), signal: AbortSignal.abort('stop') }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CanceledError)
    expect(await calls()).toEqual([])
    await expect(cniAdd(net(), runtime, { ...options(), cachedir: '/x' } as never)).rejects.toThrow(InvalidArgumentError)
    await expect(cniAdd(net(), runtime, { ...options(), cachedir: '/x' } as never)).rejects.toThrow(/did you mean 'cacheDir'/)
    await expect(cniAdd(net(), runtime, { pluginDirs: [] })).rejects.toThrow(/pluginDirs is empty/)
  })
})

describe('cniDel', SLOW, () => {
  it('runs the chain in reverse with the cached result, then removes the cache', async () => {
    const added = await cniAdd(net(), runtime, options())
    await writeFile(logFile, '')
    await cniDel(net(), runtime, options())
    const cs = await calls()
    expect(order(cs)).toEqual(['DEL fc', 'DEL fb', 'DEL fa'])
    for (const c of cs) expect(c.conf['prevResult']).toEqual(added)
    expect(cs[0]?.env['CNI_NETNS']).toBe('/proc/self/ns/net')
    expect(await readdir(join(cacheDir, 'results'))).toEqual([])
    // Again: nothing cached, still runs (plugins are idempotent), no prevResult.
    await writeFile(logFile, '')
    await cniDel(net(), runtime, options())
    const again = await calls()
    expect(order(again)).toEqual(['DEL fc', 'DEL fb', 'DEL fa'])
    expect(again[0]?.conf).not.toHaveProperty('prevResult')
  })

  it('runs every plugin when one fails, throws the first error, and keeps the cache for a retry', async () => {
    await cniAdd(net(), runtime, options())
    await writeFile(logFile, '')
    const list = net({}, { fb: { fail: ['DEL'] } })
    list.plugins.splice(1, 0, { type: 'nosuchplugin' })
    const err = await cniDel(list, runtime, options()).catch((e: unknown) => e)
    // fb fails, nosuchplugin is missing: fa still runs; fb's error (the first) is thrown.
    expect(order(await calls())).toEqual(['DEL fc', 'DEL fb', 'DEL fa'])
    expect(err).toMatchObject({ plugin: 'fb', command: 'DEL', msg: 'told to fail' })
    expect(await readdir(join(cacheDir, 'results'))).toEqual(['fakenet-ns-c1-eth0'])
  })

  it('passes an empty CNI_NETNS when the namespace is gone, and the cached capability args when none are given', async () => {
    await cniAdd(net(), runtime, options())
    await writeFile(logFile, '')
    await cniDel(net(), { containerId: 'ns-c1', ifName: 'eth0', netns: join(dir, 'no-such-netns') }, options())
    const cs = await calls()
    expect(cs.map((c) => c.env['CNI_NETNS'])).toEqual(['', '', ''])
    expect(cs[1]?.conf['runtimeConfig']).toEqual({ portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] })
    expect(cs[1]?.env['CNI_ARGS']).toBe('IgnoreUnknown=1;K=v')
    // A plain file (an unmounted netns bind mount) is not a namespace either.
    await writeFile(logFile, '')
    await cniDel(net(), { ...runtime, netns: logFile }, options())
    expect((await calls()).map((c) => c.env['CNI_NETNS'])).toEqual(['', '', ''])
  })

  it('gives no prevResult to a 0.3.1 list', async () => {
    await cniAdd(net({ cniVersion: '0.3.1' }), runtime, options())
    await writeFile(logFile, '')
    await cniDel(net({ cniVersion: '0.3.1' }), runtime, options())
    for (const c of await calls()) expect(c.conf).not.toHaveProperty('prevResult')
  })
})

describe('cniCheck', SLOW, () => {
  it('needs the cached result, runs in order with it', async () => {
    await expect(cniCheck(net(), runtime, options())).rejects.toThrow(/no cached ADD result for container ns-c1 on network fakenet/)
    const added = await cniAdd(net(), runtime, options())
    await writeFile(logFile, '')
    await cniCheck(net(), runtime, options())
    const cs = await calls()
    expect(order(cs)).toEqual(['CHECK fa', 'CHECK fb', 'CHECK fc'])
    for (const c of cs) expect(c.conf['prevResult']).toEqual(added)
  })

  it('refuses lists older than 0.4.0 and skips disableCheck lists', async () => {
    const err = await cniCheck(net({ cniVersion: '0.3.1' }), runtime, options()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FailedPreconditionError)
    expect((err as Error).message).toMatch(/cniVersion 0.3.1, and CHECK needs 0.4.0 or later/)
    await cniCheck(net({ disableCheck: true }), runtime, options())
    expect(await calls()).toEqual([])
  })

  it('throws the failing plugin', async () => {
    await cniAdd(net(), runtime, options())
    await expect(cniCheck(net({}, { fb: { fail: ['CHECK'] } }), runtime, options())).rejects.toMatchObject({ plugin: 'fb', command: 'CHECK' })
  })
})

describe('cniVersion', SLOW, () => {
  it('parses the answer', async () => {
    expect(await cniVersion('fa', options())).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.3.1', '0.4.0', '1.0.0'] })
    const [c] = await calls()
    expect(c?.env['CNI_COMMAND']).toBe('VERSION')
    await expect(cniVersion('../fa', options())).rejects.toThrow(CniError)
    await expect(cniVersion('nope', options())).rejects.toThrow(FailedPreconditionError)
  })
})

describe('deadlines and the cache directory', SLOW, () => {
  it('runs nothing when timeoutMs is already spent', async () => {
    await expect(cniAdd(net(), runtime, { ...options(), timeoutMs: 0 })).rejects.toThrow(DeadlineExceededError)
    await expect(cniDel(net(), runtime, { ...options(), timeoutMs: -1 })).rejects.toThrow(DeadlineExceededError)
    expect(await calls()).toEqual([])
  })

  it('a cache that cannot be written is a CniError, and the ADD is rolled back', async () => {
    // A file where the results directory should be.
    await writeFile(join(cacheDir, 'results'), '')
    const err = await cniAdd(net(), runtime, options()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CniError)
    expect((err as Error).message).toMatch(/cannot cache the ADD result in /)
    expect(order(await calls())).toEqual(['ADD fa', 'ADD fb', 'ADD fc', 'DEL fc', 'DEL fb', 'DEL fa'])
  })
})
