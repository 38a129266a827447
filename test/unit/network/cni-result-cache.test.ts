import { mkdtemp, readFile, readdir, rm, stat, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CniResult } from '../../../src/network/cni/cni-result.js'
import type { NetworkConfigList } from '../../../src/network/cni/network-config.js'
import { cacheEntry, cacheFilePath, convertResult, parseCacheFile, readCacheEntry, readCachedResult, removeCacheEntry, writeCacheEntry } from '../../../src/network/cni/result-cache.js'

const list: NetworkConfigList = { cniVersion: '1.0.0', name: 'net1', plugins: [{ type: 'bridge' }, { type: 'portmap', capabilities: { portMappings: true } }] }
const runtime = {
  containerId: 'default-c1',
  netns: '/run/netns/c1',
  ifName: 'eth0',
  args: [['IgnoreUnknown', '1']] as Array<[string, string]>,
  capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }] },
}
const result: CniResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/run/netns/c1' }], ips: [{ interface: 0, address: '10.4.0.2/24', gateway: '10.4.0.1' }] }

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'csdk-cni-cache-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('cache format', () => {
  it("is libcni's: path, kind, base64 config, args as pairs", () => {
    expect(cacheFilePath('/var/lib/cni', 'net1', 'default-c1', 'eth0')).toBe('/var/lib/cni/results/net1-default-c1-eth0')
    const entry = cacheEntry(list, runtime, result)
    expect(entry).toEqual({
      kind: 'cniCacheV1',
      containerId: 'default-c1',
      config: Buffer.from(JSON.stringify(list)).toString('base64'),
      ifName: 'eth0',
      networkName: 'net1',
      netns: '/run/netns/c1',
      cniArgs: [['IgnoreUnknown', '1']],
      capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
      result,
    })
    expect(JSON.parse(Buffer.from(entry.config, 'base64').toString())).toEqual(list)
  })

  it('omits empty fields, as Go omitempty does', () => {
    const entry = cacheEntry(list, { containerId: 'c', netns: '', ifName: 'eth0' }, result)
    expect(Object.keys(entry)).toEqual(['kind', 'containerId', 'config', 'ifName', 'networkName', 'result'])
  })
})

describe('cache files', () => {
  it('are written atomically (0600, no temp file left), read back, and removed', async () => {
    const cacheDir = join(dir, 'a')
    await writeCacheEntry(cacheDir, cacheEntry(list, runtime, result))
    const path = cacheFilePath(cacheDir, 'net1', 'default-c1', 'eth0')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(join(cacheDir, 'results'))).mode & 0o777).toBe(0o700)
    expect(await readdir(join(cacheDir, 'results'))).toEqual(['net1-default-c1-eth0'])
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ kind: 'cniCacheV1', networkName: 'net1' })

    const read = await readCacheEntry(cacheDir, 'net1', runtime)
    expect(read).toEqual({ result, config: list, netns: '/run/netns/c1', cniArgs: [['IgnoreUnknown', '1']], capabilityArgs: runtime.capabilityArgs })
    expect(await readCachedResult(cacheDir, 'net1', '1.0.0', runtime)).toEqual(result)

    // Overwriting (a second ADD) replaces the file.
    await writeCacheEntry(cacheDir, cacheEntry(list, { ...runtime, netns: '/other' }, result))
    expect((await readCacheEntry(cacheDir, 'net1', runtime))?.netns).toBe('/other')

    await removeCacheEntry(cacheDir, 'net1', runtime)
    expect(await readdir(join(cacheDir, 'results'))).toEqual([])
    await removeCacheEntry(cacheDir, 'net1', runtime)
    expect(await readCacheEntry(cacheDir, 'net1', runtime)).toBeUndefined()
  })

  it('reads a file libcni wrote', async () => {
    // As containerd's go-cni (libcni 1.1) writes it: no netns, Go's base64 of the config bytes.
    const config = '{"cniVersion":"0.4.0","name":"bridge","plugins":[{"type":"bridge"}]}'
    const text = JSON.stringify({
      kind: 'cniCacheV1',
      containerId: 'default-web',
      config: Buffer.from(config).toString('base64'),
      ifName: 'eth0',
      networkName: 'bridge',
      cniArgs: [['IgnoreUnknown', '1']],
      result: { cniVersion: '0.4.0', interfaces: [{ name: 'eth0', sandbox: '/proc/42/ns/net' }], ips: [{ version: '4', interface: 0, address: '10.4.0.7/24' }] },
    })
    const cacheDir = join(dir, 'b')
    await mkdir(join(cacheDir, 'results'), { recursive: true })
    await writeFile(join(cacheDir, 'results', 'bridge-default-web-eth0'), text)
    const read = await readCacheEntry(cacheDir, 'bridge', { containerId: 'default-web', ifName: 'eth0' })
    expect(read?.config?.name).toBe('bridge')
    expect(read?.netns).toBeUndefined()
    expect(read?.capabilityArgs).toBeUndefined()
    expect(read?.result.ips).toEqual([{ version: '4', interface: 0, address: '10.4.0.7/24' }])
    // Converted for a list now at 1.0.0: no per-ip version.
    expect((await readCachedResult(cacheDir, 'bridge', '1.0.0', { containerId: 'default-web', ifName: 'eth0' }))?.ips).toEqual([{ interface: 0, address: '10.4.0.7/24' }])
  })

  it('reads the legacy bare-result format and ignores garbage', () => {
    expect(parseCacheFile('{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.0.0.2/24"}]}')?.result.cniVersion).toBe('0.3.1')
    expect(parseCacheFile('not json')).toBeUndefined()
    expect(parseCacheFile('[]')).toBeUndefined()
    expect(parseCacheFile('{"kind":"cniCacheV1","result":{}}')).toBeUndefined()
    expect(parseCacheFile('{"kind":"cniCacheV1","config":"!!","result":{"cniVersion":"1.0.0"}}')?.config).toBeUndefined()
  })
})

describe('convertResult', () => {
  it('adds ips[].version going down to 0.4.0 and drops it going up to 1.0.0', () => {
    const v1: CniResult = { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24', interface: 0 }, { address: 'fd00::2/64', interface: 0 }] }
    const v04 = convertResult(v1, '0.4.0')
    expect(v04).toEqual({ cniVersion: '0.4.0', ips: [{ address: '10.0.0.2/24', interface: 0, version: '4' }, { address: 'fd00::2/64', interface: 0, version: '6' }] })
    expect(convertResult(v04, '1.0.0')).toEqual(v1)
    expect(convertResult(v1, '1.0.0')).toBe(v1)
    // 0.2.0 had another shape: left alone.
    expect(convertResult(v1, '0.2.0')).toBe(v1)
  })
})
