import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { Client, type Image } from '../../src/index.js'
import { NerdctlLabel } from '../../src/nerdctl/labels.js'
import { JSON_FILE_LOGGER_PATH, PERL_PATH } from '../../src/logs/logger-uri.js'
import { daemonAddress, uniqueNamespace, sweepNamespace } from '../env/test-client.js'
import { runnableBusybox } from '../env/runnable-image.js'
import { taskState } from '../env/restart-helpers.js'

// The json-file logger the shim runs per container: perl, at a path of the data store, so a container the
// restart monitor brings back after an app redeploy (node_modules moved, Node upgraded) keeps logging.
const run = promisify(execFile)
const REPO = fileURLToPath(new URL('../../', import.meta.url))
const interval = inject('restartMonitorIntervalMs')

let root: string
let dataRoot: string
let client: Client
let image: Image

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'csdk-logger-int-'))
  dataRoot = join(root, 'data')
  client = await Client.connect({ address: daemonAddress(), namespace: uniqueNamespace('logger'), dataRoot })
  image = await runnableBusybox(client, 'docker.io/library/busybox:fixture')
})
afterAll(async () => {
  for (const { id } of (await client.services.containers.list({})).containers) {
    await (await client.containers.get(id)).remove({ force: true }).catch(() => undefined)
  }
  await sweepNamespace(client)
  client.close()
  await rm(root, { recursive: true, force: true })
})

/** Logger processes writing under this file's data root, with their command lines. */
function loggers(): { pid: number; argv: string[] }[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
      return argv.some((a) => a.includes('containerd-sdk-logger')) && argv.some((a) => a.startsWith(dataRoot)) ? [{ pid: Number(pid), argv }] : []
    } catch {
      return []
    }
  })
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
}

async function logLines(id: string): Promise<string[]> {
  const lines: string[] = []
  for await (const e of client.logs(id)) lines.push(e.line)
  return lines
}

describe('the json-file logger', () => {
  it('is perl on a copy in the data store (no path of the package or of Node), under 8 MiB RSS', async () => {
    const web = await client.run(image.name, { name: 'logger-uri', args: ['sh', '-c', 'echo hello; exec sleep 600'], detach: true })
    try {
      const uri = (await web.info()).labels[NerdctlLabel.logUri] as string
      const url = new URL(uri)
      expect(decodeURIComponent(url.pathname)).toBe(PERL_PATH)
      const [[logger, store]] = [...url.searchParams] as [[string, string]]
      expect(store).toBe(client.dataStore)
      expect(logger.startsWith(join(client.dataStore, 'bin', 'containerd-sdk-logger-'))).toBe(true)
      for (const moving of ['node_modules', process.execPath, dirname(dirname(JSON_FILE_LOGGER_PATH)), REPO]) {
        expect(decodeURIComponent(uri)).not.toContain(moving)
      }
      for (let i = 0; i < 50 && !(await logLines(web.id)).includes('hello'); i++) await sleep(100)
      expect(await logLines(web.id)).toEqual(['hello'])

      const running = loggers()
      expect(running).toHaveLength(1)
      const [{ pid, argv }] = running as [{ pid: number; argv: string[] }]
      expect(argv).toEqual([PERL_PATH, logger, client.dataStore])
      // The target: at most 8 MiB per logger (the Node one took ~42 MiB).
      expect(rssKiB(pid)).toBeLessThanOrEqual(8 * 1024)
    } finally {
      await web.remove({ force: true })
    }
    for (let i = 0; i < 50 && loggers().length > 0; i++) await sleep(100)
    expect(loggers()).toEqual([])
  })

  it('keeps logging a container the restart monitor brings back after the SDK package moved away', { timeout: 120_000 }, async () => {
    // An app deployed from a copy of this package runs the container, then the redeploy removes that copy.
    const deployed = join(root, 'deploy-1')
    await mkdir(deployed)
    await cp(join(REPO, 'src'), join(deployed, 'src'), { recursive: true })
    await cp(join(REPO, 'bin'), join(deployed, 'bin'), { recursive: true })
    await cp(join(REPO, 'package.json'), join(deployed, 'package.json'))
    await symlink(join(REPO, 'node_modules'), join(deployed, 'node_modules'))
    const app = join(deployed, 'app.mts')
    await writeFile(app, [
      `import { Client } from ${JSON.stringify(pathToFileURL(join(deployed, 'src/index.ts')).href)}`,
      `const client = await Client.connect({ address: ${JSON.stringify(daemonAddress())}, namespace: ${JSON.stringify(client.namespace)}, dataRoot: ${JSON.stringify(dataRoot)} })`,
      `const c = await client.run(${JSON.stringify(image.name)}, { name: 'redeployed', detach: true, restart: 'always',`,
      `  args: ['sh', '-c', 'echo started; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done'] })`,
      `process.stdout.write(c.id)`,
      `client.close()`,
    ].join('\n'))
    const { stdout: id } = await run(process.execPath, ['--import', 'tsx', app], { cwd: REPO })
    const uri = (await (await client.containers.get(id)).info()).labels[NerdctlLabel.logUri] as string
    expect(decodeURIComponent(uri)).not.toContain(deployed)
    await rm(deployed, { recursive: true, force: true })

    for (let i = 0; i < 50 && !(await logLines(id)).includes('started'); i++) await sleep(100)
    const before = await taskState(client, id)
    expect(before).toBeDefined()
    // The container dies; the monitor restarts it with the URI of its labels, the logger with it.
    process.kill(before?.pid as number, 'SIGKILL')
    const deadline = Date.now() + 3 * interval + 10_000
    let restarted = false
    while (Date.now() < deadline && !restarted) {
      await sleep(200)
      const now = await taskState(client, id)
      restarted = now !== undefined && now.pid !== before?.pid && (await logLines(id)).filter((l) => l === 'started').length === 2
    }
    expect(restarted).toBe(true)
    await sleep(600)
    const lines = await logLines(id)
    const second = lines.lastIndexOf('started')
    // The restarted task's output reaches the log: its own ticks after its own start line.
    expect(lines.slice(second + 1).filter((l) => l.startsWith('tick ')).length).toBeGreaterThan(1)
    expect(loggers()).toHaveLength(1)
    expect(await readFile(loggers()[0]?.argv[1] as string)).toEqual(await readFile(JSON_FILE_LOGGER_PATH))
  })
})
