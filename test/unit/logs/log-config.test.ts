import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { configuredLogPath, parseHumanSize, prepareJsonFileLog } from '../../../src/logs/log-config.js'
import { JSON_FILE_LOGGER_PATH, jsonFileLogUri } from '../../../src/logs/logger-uri.js'

let store: string
beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'csdk-logs-config-'))
})
afterAll(async () => rm(store, { recursive: true, force: true }))

describe('jsonFileLogUri', () => {
  it('points at the shipped logger, run by this node with the data store as its one argument', () => {
    expect(existsSync(JSON_FILE_LOGGER_PATH)).toBe(true)
    expect(JSON_FILE_LOGGER_PATH.endsWith('/bin/containerd-sdk-logger.mjs')).toBe(true)
    const uri = new URL(jsonFileLogUri({ dataStore: '/var/lib/nerdctl/1935db59' }))
    expect(uri.protocol).toBe('binary:')
    expect(decodeURIComponent(uri.pathname)).toBe(process.execPath)
    // One query pair, so the shim's map order cannot matter: `<node> <logger> <data store>`.
    expect([...uri.searchParams]).toEqual([[JSON_FILE_LOGGER_PATH, '/var/lib/nerdctl/1935db59']])
  })

  it('encodes paths so spaces, ? and # cannot change the meaning', () => {
    const uri = new URL(jsonFileLogUri({ dataStore: '/data/a b?c#d;e', node: '/opt/my node/bin/node', logger: '/x/y.mjs' }))
    expect(decodeURIComponent(uri.pathname)).toBe('/opt/my node/bin/node')
    expect([...uri.searchParams]).toEqual([['/x/y.mjs', '/data/a b?c#d;e']])
    expect(uri.hash).toBe('')
  })

  it('runs the logger through its #! line with node: null', () => {
    const uri = new URL(jsonFileLogUri({ dataStore: '/d', node: null }))
    expect(decodeURIComponent(uri.pathname)).toBe(JSON_FILE_LOGGER_PATH)
    expect([...uri.searchParams]).toEqual([['data-store', '/d']])
  })

  it('rejects relative paths', () => {
    expect(() => jsonFileLogUri({ dataStore: 'rel' })).toThrow(InvalidArgumentError)
    expect(() => jsonFileLogUri({ dataStore: '/d', node: 'node' })).toThrow(/node must be an absolute path/)
    expect(() => jsonFileLogUri({ dataStore: '/d', logger: 'logger.mjs' })).toThrow(/logger/)
  })
})

describe('prepareJsonFileLog', () => {
  it("writes nerdctl's log-config.json and an empty log with private modes", async () => {
    const paths = await prepareJsonFileLog({ dataStore: store, namespace: 'ns', id: 'c1', maxSize: '10m', maxFile: 3, address: '/run/containerd/containerd.sock' })
    expect(paths).toEqual({
      stateDir: join(store, 'containers', 'ns', 'c1'),
      logPath: join(store, 'containers', 'ns', 'c1', 'c1-json.log'),
      configPath: join(store, 'containers', 'ns', 'c1', 'log-config.json'),
    })
    expect(JSON.parse(await readFile(paths.configPath, 'utf8'))).toEqual({
      driver: 'json-file',
      opts: { 'max-size': '10m', 'max-file': '3' },
      host: '/run/containerd/containerd.sock',
    })
    expect((await stat(paths.stateDir)).mode & 0o777).toBe(0o700)
    expect((await stat(join(store, 'containers', 'ns'))).mode & 0o777).toBe(0o700)
    expect((await stat(paths.configPath)).mode & 0o777).toBe(0o600)
    expect((await stat(paths.logPath)).mode & 0o777).toBe(0o600)

    // Again: the options are replaced, the log kept.
    await writeFile(paths.logPath, 'kept\n')
    await prepareJsonFileLog({ dataStore: store, namespace: 'ns', id: 'c1', maxSize: 4096 })
    expect(JSON.parse(await readFile(paths.configPath, 'utf8'))).toEqual({ driver: 'json-file', opts: { 'max-size': '4096' } })
    expect(await readFile(paths.logPath, 'utf8')).toBe('kept\n')
  })

  it("honours nerdctl's log-path option when reading", async () => {
    const paths = await prepareJsonFileLog({ dataStore: store, namespace: 'ns', id: 'c2' })
    expect(await configuredLogPath(store, 'ns', 'c2')).toBe(paths.logPath)
    await writeFile(paths.configPath, JSON.stringify({ driver: 'json-file', opts: { 'log-path': '/elsewhere/c2.log' } }))
    expect(await configuredLogPath(store, 'ns', 'c2')).toBe('/elsewhere/c2.log')
  })

  it('rejects bad input and creates nothing', async () => {
    const bad = [
      { dataStore: 'relative', namespace: 'ns', id: 'x' },
      { dataStore: store, namespace: 'ns', id: '../x' },
      { dataStore: store, namespace: 'bad ns', id: 'x' },
      { dataStore: store, namespace: 'ns', id: 'x', maxSize: '10 parsecs' },
      { dataStore: store, namespace: 'ns', id: 'x', maxSize: 0 },
      { dataStore: store, namespace: 'ns', id: 'x', maxSize: '1m', maxFile: 0 },
      { dataStore: store, namespace: 'ns', id: 'x', maxSize: '1m', maxFile: 1.5 },
      { dataStore: store, namespace: 'ns', id: 'x', maxFile: 3 },
    ]
    for (const options of bad) await expect(prepareJsonFileLog(options)).rejects.toBeInstanceOf(InvalidArgumentError)
    expect(existsSync(join(store, 'containers', 'ns', 'x'))).toBe(false)
  })

  it("parses sizes with nerdctl's decimal units, like the logger", () => {
    expect(parseHumanSize('10m')).toBe(10_000_000)
    expect(parseHumanSize('1.5k')).toBe(1500)
    expect(parseHumanSize('2 GiB')).toBe(2_000_000_000)
    expect(parseHumanSize('-1')).toBeUndefined()
  })
})
