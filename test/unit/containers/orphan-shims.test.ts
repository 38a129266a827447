import { spawn, type ChildProcess } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { killOrphanShims } from '../../../src/containers/orphan-shims.js'
import { isRunning, processTable, withDescendants } from '../../../src/util/process-tree.js'

const SOCKET = `/tmp/csdk-orphan-shims-${process.pid}.sock`
const started: ChildProcess[] = []
afterEach(async () => {
  // The stand-ins and the children below them.
  const table = await processTable()
  for (const pid of withDescendants(table, started.splice(0).map((c) => c.pid as number))) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone
    }
  }
})

/**
 * A stand-in shim: a process whose argv[0] is `containerd-shim-runc-v2` with a shim's flags, and one child
 * below it (as a container's init is). Resolves with both pids.
 */
async function fakeShim(namespace: string, id: string, address = SOCKET): Promise<{ shim: number; child: number }> {
  const code = '$| = 1; my $c = fork(); if ($c == 0) { $0 = "container-init"; sleep 300; exit 0 } print "$c\\n"; sleep 300'
  const proc = spawn('perl', ['-e', `exec { $^X } 'containerd-shim-runc-v2', '-e', q{${code}}, '--', '-namespace', '${namespace}', '-id', '${id}', '-address', '${address}'`], { stdio: ['ignore', 'pipe', 'inherit'] })
  started.push(proc)
  const child = await new Promise<number>((resolve, reject) => {
    proc.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())))
    proc.once('error', reject)
  })
  return { shim: proc.pid as number, child }
}

describe('killOrphanShims', () => {
  it("kills the daemon's shims of the namespace whose container is unknown, with the processes below them, and no other", async () => {
    const orphan = await fakeShim('ns', 'gone')
    const known = await fakeShim('ns', 'alive')
    const otherNamespace = await fakeShim('other', 'gone')
    const otherDaemon = await fakeShim('ns', 'gone', '/tmp/another.sock')
    const table = await processTable()
    expect(table.get(orphan.shim)?.cmdline.slice(0, 1)).toEqual(['containerd-shim-runc-v2'])

    expect(await killOrphanShims({ address: `unix://${SOCKET}`, namespace: 'ns' }, new Set(['alive']), 3600)).toEqual([])
    expect(await isRunning(orphan.shim)).toBe(true)

    expect(await killOrphanShims({ address: `unix://${SOCKET}`, namespace: 'ns' }, new Set(['alive']), 0)).toEqual(['gone'])
    expect(await isRunning(orphan.shim)).toBe(false)
    expect(await isRunning(orphan.child)).toBe(false)
    for (const p of [known, otherNamespace, otherDaemon]) {
      expect(await isRunning(p.shim)).toBe(true)
      expect(await isRunning(p.child)).toBe(true)
    }
  })
})
