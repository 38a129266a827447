// Every stream or path the caller names that cannot be used (a path in a missing directory, a directory,
// a directory nothing may be written in, a destroyed stream, a Writable that fails on its first write, a Readable that fails mid-way) ends the
// call with a typed rejection, never a crash: each case runs in a child process (test/env/stream-errors-child.ts)
// with no error handlers of its own, which must exit 0 having caught the typed error.
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client } from '../../src/index.js'
import { connectTestClient, daemonAddress } from '../env/test-client.js'
import { runnableBusybox } from '../env/runnable-image.js'

const base = await connectTestClient('stream-errors')
const IMAGE = 'docker.io/library/busybox:stream-errors'
let client: Client
let dataRoot: string
let scratch: string
let archive: string

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'csdk-stream-errors-root-'))
  scratch = await mkdtemp(join(tmpdir(), 'csdk-stream-errors-'))
  client = await Client.connect({ address: daemonAddress(), namespace: base.namespace, dataRoot })
  await runnableBusybox(client, IMAGE)
  archive = join(scratch, 'busybox.tar')
  await client.images.export([IMAGE], archive)
})
afterAll(async () => {
  client?.close()
  await rm(dataRoot, { recursive: true, force: true })
  await rm(scratch, { recursive: true, force: true })
})

interface ChildResult {
  exitCode: number | null
  signal: string | null
  report: Record<string, unknown> | undefined
  stderr: string
}

function runCase(name: string): Promise<ChildResult> {
  const args = ['--import', 'tsx', 'test/env/stream-errors-child.ts', daemonAddress(), client.namespace, dataRoot, IMAGE, archive, scratch, name]
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: 90_000 }, (err, stdout, stderr) => {
      const line = stdout.trim().split('\n').at(-1) ?? ''
      let report: Record<string, unknown> | undefined
      try {
        report = JSON.parse(line) as Record<string, unknown>
      } catch {
        report = undefined
      }
      const e = err as (Error & { code?: number | string; signal?: string }) | null
      resolve({ exitCode: e === null ? 0 : typeof e.code === 'number' ? e.code : null, signal: e?.signal ?? null, report, stderr })
    })
  })
}

/** Each case and the typed error it must reject with (`resolved` for one that may succeed). */
const CASES: Record<string, string> = {
  'import-missing-path': 'NotFoundError',
  'import-directory': 'InvalidArgumentError',
  'import-destroyed-stream': 'InvalidArgumentError',
  'import-stream-fails-midway': 'UnknownError',
  'export-missing-dir': 'NotFoundError',
  'export-directory': 'InvalidArgumentError',
  'export-read-only-dir': 'PermissionDeniedError',
  'export-destroyed-stream': 'InvalidArgumentError',
  'export-stream-fails-first-write': 'UnknownError',
  'task-logfile-missing-dir': 'NotFoundError',
  'task-logfile-directory': 'InvalidArgumentError',
  'task-logfile-read-only-dir': 'PermissionDeniedError',
  'task-stdout-destroyed': 'InvalidArgumentError',
  'task-stdout-fails-first-write': 'resolved',
  'task-stdin-fails-midway': 'resolved',
  'task-stdin-destroyed': 'InvalidArgumentError',
  'run-stdout-destroyed': 'InvalidArgumentError',
  'run-stdout-fails-first-write': 'resolved',
  'run-stdin-fails-midway': 'resolved',
  'run-logfile-directory': 'InvalidArgumentError',
  'logs-file-is-directory': 'NotFoundError',
  'logs-file-unparsable': 'resolved',
  'content-write-stream-fails-midway': 'UnknownError',
  'content-write-destroyed-stream': 'InvalidArgumentError',
  'content-read-missing': 'NotFoundError',
}

describe.concurrent('streams and paths the caller names that cannot be used: typed rejections, no crash', () => {
  for (const [name, expected] of Object.entries(CASES)) {
    it(`${name}: ${expected === 'resolved' ? 'settles' : `rejects with ${expected}`}, the process survives`, async () => {
      const result = await runCase(name)
      expect(result.stderr, 'the child crashed').not.toMatch(/Unhandled|unhandled|ERR_UNHANDLED_ERROR/)
      expect(result.exitCode, result.stderr.slice(0, 2000)).toBe(0)
      expect(result.report).toBeDefined()
      if (expected === 'resolved') {
        // It ended by itself: a task's process did not block on a broken output (exit code 0).
        expect(result.report, JSON.stringify(result.report)).toMatchObject({ resolved: true })
        if (name.startsWith('task-')) expect(result.report?.value).toBe(0)
      } else {
        expect(result.report).toMatchObject({ resolved: false, typed: true, name: expected })
      }
    }, 120_000)
  }
})
