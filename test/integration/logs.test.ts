import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidArgumentError, NotFoundError, type Image } from '../../src/index.js'
import { containerLogs, type ContainerLogsOptions } from '../../src/logs/container-logs.js'
import { prepareJsonFileLog, type JsonFileLogOptions } from '../../src/logs/log-config.js'
import type { LogEntry } from '../../src/logs/log-entry.js'
import { readLogs } from '../../src/logs/log-reader.js'
import { JSON_FILE_LOGGER_PATH, jsonFileLogUri } from '../../src/logs/logger-uri.js'
import { connectTestClient } from '../env/test-client.js'
import { runnableBusybox, uniqueId } from '../env/runnable-image.js'

const client = await connectTestClient('logs')
let image: Image
let dataStore: string

beforeAll(async () => {
  image = await runnableBusybox(client, 'docker.io/library/busybox:fixture')
  dataStore = await mkdtemp(join(tmpdir(), 'csdk-logs-store-'))
})
afterAll(async () => rm(dataStore, { recursive: true, force: true }))


/** A container whose task logs through the shipped json-file logger, created but not started. */
async function loggedTask(label: string, script: string, log: JsonFileLogOptions & { logger?: string } = {}) {
  const id = uniqueId(label)
  const { logger, ...rotation } = log
  const paths = await prepareJsonFileLog({ dataStore, namespace: client.namespace, id, ...rotation })
  const logUri = jsonFileLogUri({ dataStore, ...(logger === undefined ? {} : { logger }) })
  const container = await client.containers.create(id, { image, args: ['sh', '-c', script] })
  const task = await container.newTask({ stdio: { logUri } })
  return {
    id,
    container,
    task,
    ...paths,
    /** Deletes task and container; the shim then stops the logger. */
    async remove(): Promise<void> {
      await task.delete({ force: true }).catch(() => undefined)
      await container.delete().catch(() => undefined)
    },
  }
}

async function collect(iterable: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
  const out: LogEntry[] = []
  for await (const e of iterable) out.push(e)
  return out
}

function logs(id: string, options: Omit<ContainerLogsOptions, 'dataStore'> = {}): Promise<LogEntry[]> {
  return collect(containerLogs(client, id, { dataStore, ...options }))
}

async function markers(stateDir: string): Promise<string[]> {
  return (await readdir(stateDir)).filter((n) => n.startsWith('csdk-logger-'))
}

describe('json-file logging', () => {
  it("writes stdout and stderr through the logger in nerdctl's format and path", async () => {
    const t = await loggedTask('fmt', 'echo out1; echo "err <1>" >&2; echo out2; echo')
    const exited = t.task.wait()
    await t.task.start()
    expect((await exited).exitCode).toBe(0)

    const entries = await logs(t.id)
    expect(entries.filter((e) => e.stream === 'stdout').map((e) => e.line)).toEqual(['out1', 'out2', ''])
    expect(entries.filter((e) => e.stream === 'stderr').map((e) => e.line)).toEqual(['err <1>'])
    for (const e of entries) {
      expect(e.partial).toBe(false)
      expect(Math.abs(e.time.getTime() - Date.now())).toBeLessThan(60_000)
    }

    expect(t.logPath).toBe(join(dataStore, 'containers', client.namespace, t.id, `${t.id}-json.log`))
    const raw = (await readFile(t.logPath, 'utf8')).split('\n').filter(Boolean)
    expect(raw).toHaveLength(4)
    for (const line of raw) expect(line).toMatch(/^\{"log":".*\\n","stream":"std(out|err)","time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z"\}$/)
    expect(raw).toContain(raw.find((l) => l.includes('stderr')))
    expect(raw.find((l) => l.includes('stderr'))).toContain('"log":"err \\u003c1\\u003e\\n"')
    expect((await stat(t.logPath)).mode & 0o777).toBe(0o600)
    expect((await stat(t.stateDir)).mode & 0o777).toBe(0o700)
    expect(JSON.parse(await readFile(t.configPath, 'utf8'))).toEqual({ driver: 'json-file', opts: {} })

    // The logger runs until the task is deleted; the shim then closes its pipes and it exits.
    expect(await markers(t.stateDir)).toHaveLength(1)
    await t.remove()
    for (let i = 0; i < 100 && (await markers(t.stateDir)).length > 0; i++) await sleep(50)
    expect(await markers(t.stateDir)).toEqual([])
  })

  it('reads with tail, since/until and stream filters', async () => {
    const t = await loggedTask('filters', 'for i in 1 2 3 4 5 6; do echo out$i; echo err$i >&2; done; sleep 1.2; echo late-out; echo late-err >&2')
    const exited = t.task.wait()
    await t.task.start()
    await exited
    try {
      expect((await logs(t.id, { tail: 2, stderr: false })).map((e) => e.line)).toEqual(['out6', 'late-out'])
      expect((await logs(t.id, { tail: 3, stdout: false })).map((e) => e.line)).toEqual(['err5', 'err6', 'late-err'])
      const all = await logs(t.id)
      expect(all).toHaveLength(14)
      const late = all.find((e) => e.line === 'late-out') as LogEntry
      const sinceLate = await logs(t.id, { since: new Date(late.time.getTime() - 300) })
      expect(sinceLate.map((e) => e.line).sort()).toEqual(['late-err', 'late-out'])
      const early = await logs(t.id, { until: new Date(late.time.getTime() - 300), stdout: false })
      expect(early.map((e) => e.line)).toEqual(['err1', 'err2', 'err3', 'err4', 'err5', 'err6'])
      expect(await logs(t.id, { since: '1h', tail: 1, timestamps: true })).toHaveLength(1)
      expect((await logs(t.id, { since: '1h', tail: 1, timestamps: true }))[0]?.line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z late-/)
      // The same log through the path-free reader.
      expect((await collect(readLogs({ dataStore, namespace: client.namespace, id: t.id }, { tail: 1, stdout: false })))[0]?.line).toBe('late-err')
    } finally {
      await t.remove()
    }
  })

  it('follows until the task exits and the logger drained, including a last line without newline', async () => {
    const t = await loggedTask('follow', 'for i in 1 2 3 4 5; do echo tick $i; sleep 0.2; done; echo bye >&2; printf "no newline"')
    try {
      // Started before the task: following a created task waits for its output.
      const following = logs(t.id, { follow: true })
      await sleep(100)
      await t.task.start()
      const started = Date.now()
      const entries = await following
      expect(Date.now() - started).toBeLessThan(15_000)
      expect(entries.map((e) => `${e.stream}:${e.line}`)).toEqual([
        ...[1, 2, 3, 4, 5].map((i) => `stdout:tick ${i}`),
        'stderr:bye',
        'stdout:no newline',
      ])
      expect(entries.at(-1)?.partial).toBe(true)
      expect(await t.task.status()).toBe('stopped')
      // Following a stopped task just reads what is there.
      expect(await logs(t.id, { follow: true, tail: 1 })).toHaveLength(1)
    } finally {
      await t.remove()
    }
  })

  it('rotates by max-size/max-file and follows through rotations', async () => {
    const kept = await loggedTask('rot-keep', 'i=0; while [ $i -lt 400 ]; do echo "line $i padding-padding-padding"; i=$((i+1)); done', { maxSize: '2k', maxFile: 3 })
    const followed = await loggedTask('rot-follow', 'i=0; while [ $i -lt 400 ]; do echo "line $i padding-padding-padding"; i=$((i+1)); done', { maxSize: 2048, maxFile: 100 })
    try {
      const exitedKept = kept.task.wait()
      await kept.task.start()
      await exitedKept
      // Reading a stopped task's log drains the logger first, so the files are final after it.
      const tail = await logs(kept.id)
      const names = (await readdir(kept.stateDir)).filter((n) => n.startsWith(`${kept.id}-json.log`)).sort()
      expect(names).toEqual([`${kept.id}-json.log`, `${kept.id}-json.log.1`, `${kept.id}-json.log.2`])
      expect(JSON.parse(await readFile(kept.configPath, 'utf8'))).toEqual({ driver: 'json-file', opts: { 'max-size': '2k', 'max-file': '3' } })
      const numbers = tail.map((e) => Number(/^line (\d+)/.exec(e.line)?.[1]))
      expect(numbers.at(-1)).toBe(399)
      expect(numbers.length).toBeLessThan(400)
      expect(numbers).toEqual(numbers.map((_, i) => (numbers[0] as number) + i))
      expect((await logs(kept.id, { tail: 5 })).map((e) => e.line.split(' ')[1])).toEqual(['395', '396', '397', '398', '399'])

      const following = logs(followed.id, { follow: true })
      await followed.task.start()
      const all = await following
      expect(all.map((e) => Number(/^line (\d+)/.exec(e.line)?.[1]))).toEqual(Array.from({ length: 400 }, (_, i) => i))
      expect((await readdir(followed.stateDir)).filter((n) => /-json\.log\.\d+$/.test(n)).length).toBeGreaterThan(5)
    } finally {
      await kept.remove()
      await followed.remove()
    }
  })

  it('keeps up with a long run of many lines (bounded)', async () => {
    const count = 20_000
    const t = await loggedTask('many', `seq 1 ${count}; echo done >&2`, { maxSize: '512k', maxFile: 50 })
    try {
      const following = collect(containerLogs(client, t.id, { dataStore, follow: true, signal: AbortSignal.timeout(45_000) }))
      await t.task.start()
      const entries = await following
      const out = entries.filter((e) => e.stream === 'stdout').map((e) => Number(e.line))
      expect(out).toHaveLength(count)
      expect(out.every((n, i) => n === i + 1)).toBe(true)
      expect(entries.filter((e) => e.stream === 'stderr').map((e) => e.line)).toEqual(['done'])
    } finally {
      await t.remove()
    }
  })

  it('runs a copy of the logger named by the logger option', async () => {
    const copy = join(dataStore, 'elsewhere', 'my-containerd-sdk-logger.pl')
    await mkdir(join(dataStore, 'elsewhere'))
    await copyFile(JSON_FILE_LOGGER_PATH, copy)
    const t = await loggedTask('copy', 'echo via-copy', { logger: copy })
    try {
      const exited = t.task.wait()
      await t.task.start()
      await exited
      expect((await logs(t.id)).map((e) => e.line)).toEqual(['via-copy'])
    } finally {
      await t.remove()
    }
  })

  it('refuses bad input with typed errors', async () => {
    await expect(prepareJsonFileLog({ dataStore: 'relative', namespace: client.namespace, id: 'x' })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(prepareJsonFileLog({ dataStore, namespace: client.namespace, id: 'x', maxSize: 'huge' })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(prepareJsonFileLog({ dataStore, namespace: client.namespace, id: 'x', maxFile: 0, maxSize: '1m' })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(prepareJsonFileLog({ dataStore, namespace: client.namespace, id: 'bad/id' })).rejects.toBeInstanceOf(InvalidArgumentError)
    expect(() => jsonFileLogUri({ dataStore: 'relative' })).toThrow(InvalidArgumentError)
    await expect(logs(uniqueId('missing'))).rejects.toBeInstanceOf(NotFoundError)
    // A container whose task does not log through the json-file logger has no log to read.
    const id = uniqueId('nolog')
    const container = await client.containers.create(id, { image, args: ['true'] })
    try {
      await expect(logs(id)).rejects.toBeInstanceOf(NotFoundError)
    } finally {
      await container.delete()
    }
  })
})
