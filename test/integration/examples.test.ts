import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { daemonAddress } from '../env/test-client.js'

const run = promisify(execFile)

// The examples are what users copy from: run them as users would, against the daemon under test.
describe('examples', () => {
  it('hello prints the version, plugins and namespaces', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/hello/main.ts'], {
      env: { ...process.env, CONTAINERD_ADDRESS: daemonAddress() },
      timeout: 60_000,
    })
    expect(stdout).toMatch(/^containerd \S+ \(revision .*\) at /m)
    expect(stdout).toMatch(/server uuid [0-9a-f-]{36}/)
    expect(stdout).toMatch(/\d+ plugins:/)
    expect(stdout).toContain('io.containerd.snapshotter.v1: ')
    expect(stdout).toMatch(/namespaces: .*hello/)
  })
})
