import { existsSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FailedPreconditionError, InvalidArgumentError } from '../../../src/grpc/errors.js'
import { configuredLogPath, parseHumanSize, prepareJsonFileLog } from '../../../src/logs/log-config.js'
import { installJsonFileLogger, JSON_FILE_LOGGER_PATH, jsonFileLogUri, PERL_PATH } from '../../../src/logs/logger-uri.js'

let store: string
beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'csdk-logs-config-'))
})
afterAll(async () => rm(store, { recursive: true, force: true }))

describe('jsonFileLogUri', () => {
  it('runs perl on a copy of the logger installed in the data store, never a path in the package', async () => {
    expect(existsSync(JSON_FILE_LOGGER_PATH)).toBe(true)
    expect(JSON_FILE_LOGGER_PATH.endsWith('/bin/containerd-sdk-logger.pl')).toBe(true)
    const ds = join(store, 'uri-store')
    const uri = new URL(jsonFileLogUri({ dataStore: ds }))
    expect(uri.protocol).toBe('binary:')
    expect(decodeURIComponent(uri.pathname)).toBe(PERL_PATH)
    // One query pair, so the shim's map order cannot matter: `<perl> <logger> <data store>`.
    const pairs = [...uri.searchParams]
    expect(pairs).toHaveLength(1)
    const [logger, arg] = pairs[0] as [string, string]
    expect(arg).toBe(ds)
    expect(logger).toMatch(new RegExp(`^${ds}/bin/containerd-sdk-logger-[0-9a-f]{16}\\.pl$`))
    expect(uri.href).not.toContain('node_modules')
    expect(uri.href).not.toContain(encodeURIComponent(dirname(dirname(JSON_FILE_LOGGER_PATH))))
    expect(await readFile(logger)).toEqual(await readFile(JSON_FILE_LOGGER_PATH))
    // Content-addressed: the name is the shipped bytes' digest.
    const digest = createHash('sha256').update(await readFile(JSON_FILE_LOGGER_PATH)).digest('hex').slice(0, 16)
    expect(logger.endsWith(`-${digest}.pl`)).toBe(true)
    expect(installJsonFileLogger(ds)).toBe(logger)
  })

  it('installs atomically and repairs a torn or removed copy; other versions beside it stay', async () => {
    const ds = join(store, 'repair-store')
    const path = installJsonFileLogger(ds)
    const other = join(ds, 'bin', 'containerd-sdk-logger-0123456789abcdef.pl')
    await writeFile(other, '# another SDK version')
    await rm(path)
    await writeFile(path, 'torn')
    expect(installJsonFileLogger(ds)).toBe(path)
    expect(await readFile(path)).toEqual(await readFile(JSON_FILE_LOGGER_PATH))
    expect(await readFile(other, 'utf8')).toBe('# another SDK version')
    expect((await readdir(join(ds, 'bin'))).filter((n) => n.endsWith('.tmp'))).toEqual([])
    // The whole data store wiped while this process runs: the next URI installs it again.
    await rm(ds, { recursive: true })
    jsonFileLogUri({ dataStore: ds })
    expect(await readFile(path)).toEqual(await readFile(JSON_FILE_LOGGER_PATH))
  })

  it('encodes paths so spaces, ? and # cannot change the meaning', async () => {
    const perl = join(store, 'my perl?#')
    await writeFile(perl, '')
    const uri = new URL(jsonFileLogUri({ dataStore: '/data/a b?c#d;e', perl, logger: '/x/y.pl' }))
    expect(decodeURIComponent(uri.pathname)).toBe(perl)
    expect([...uri.searchParams]).toEqual([['/x/y.pl', '/data/a b?c#d;e']])
    expect(uri.hash).toBe('')
  })

  it('rejects relative paths', () => {
    expect(() => jsonFileLogUri({ dataStore: 'rel' })).toThrow(InvalidArgumentError)
    expect(() => jsonFileLogUri({ dataStore: '/d', perl: 'perl' })).toThrow(/perl must be an absolute path/)
    expect(() => jsonFileLogUri({ dataStore: '/d', logger: 'logger.pl' })).toThrow(/logger/)
    expect(() => installJsonFileLogger('rel')).toThrow(InvalidArgumentError)
  })

  it('says why the logger cannot be installed, with a typed error', async () => {
    const file = join(store, 'not-a-dir')
    await writeFile(file, '')
    expect(() => jsonFileLogUri({ dataStore: join(file, 'store') })).toThrow(FailedPreconditionError)
    expect(() => jsonFileLogUri({ dataStore: join(store, 'ok'), perl: '/nonexistent/bin/perl' })).toThrow(/needs perl at \/nonexistent\/bin\/perl/)
    expect(() => installJsonFileLogger(join(file, 'store'))).toThrow(/cannot install the json-file logger at .*not-a-dir\/store\/bin\/containerd-sdk-logger-/)
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
