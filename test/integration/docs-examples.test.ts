// The doc-example runner: every ```ts block of README.md and docs/guide-*.md is type-checked against the
// package's source, and every program among them (a block not marked `snippet`) runs against the daemon
// under test, in a namespace of its own, with the registries it names served locally (doc-sandbox.ts).
// A program passes when it exits 0 and leaves no namespace behind but its own, which is swept after it.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client } from '../../src/index.js'
import { dataStorePath } from '../../src/nerdctl/data-store.js'
import { blockName, readDocBlocks } from '../env/doc-blocks.js'
import { startDocSandbox, type DocSandbox } from '../env/doc-sandbox.js'
import { REPO_ROOT, typecheckDocBlocks, writeDocBlocks, type WrittenBlock } from '../env/doc-typecheck.js'
import { daemonAddress, daemonLine, sweepNamespace, uniqueNamespace } from '../env/test-client.js'

const blocks = readDocBlocks(REPO_ROOT)
const programs = blocks.filter((b) => b.kind === 'program')
const PROGRAM_TIMEOUT_MS = 90_000

let dir: string
let written: Map<string, WrittenBlock>
let sandbox: DocSandbox
let client: Client

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'csdk-docs-examples-'))
  written = new Map(writeDocBlocks(blocks, dir).map((w) => [blockName(w.block), w]))
  sandbox = await startDocSandbox(daemonAddress())
  client = await Client.connect({ address: daemonAddress() })
}, 180_000)

afterAll(async () => {
  client?.close()
  await sandbox?.stop()
  await rm(dir, { recursive: true, force: true })
  // The programs use nerdctl's default data root: the data store of this private daemon's socket is
  // theirs alone.
  if (daemonLine() !== 'external') await rm(dataStorePath(daemonAddress()), { recursive: true, force: true })
})

/** Removes what a program left in its namespace (containers the Docker way: tasks, names, logs), then the namespace. */
async function sweep(namespace: string): Promise<void> {
  const ns = client.withNamespace(namespace)
  for (const container of await ns.containers.list()) await container.remove({ force: true }).catch(() => undefined)
  await sweepNamespace(ns)
}

describe('docs examples', () => {
  it('every block type-checks', () => {
    expect(programs.length).toBeGreaterThan(20)
    expect(typecheckDocBlocks([...written.values()], dir)).toEqual([])
  }, 180_000)

  // Programs run on the private daemons only: they are free to make namespaces of their own (the client
  // guide makes and deletes `builds`) and to use nerdctl's data store, which on a daemon of the user's
  // (CONTAINERD_ADDRESS) could be theirs.
  for (const block of programs) {
    it.skipIf(daemonLine() === 'external')(`${blockName(block)} runs`, async () => {
      const namespace = uniqueNamespace(`doc-${block.file}-${block.line}`)
      const before = (await client.namespaces.list()).map((n) => n.name)
      const program = written.get(blockName(block))
      if (program === undefined) throw new Error(`${blockName(block)} was not written`)
      try {
        const result = await sandbox.run(program.path, { namespace, timeoutMs: PROGRAM_TIMEOUT_MS })
        expect(result.code, `${blockName(block)} failed:\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`).toBe(0)
      } finally {
        await sweep(namespace)
      }
      // A program may make namespaces of its own (the client guide does), but must delete them again.
      expect((await client.namespaces.list()).map((n) => n.name).sort()).toEqual(before.sort())
    }, PROGRAM_TIMEOUT_MS + 30_000)
  }
})
