import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { daemonAddress } from '../env/test-client.js'

const run = promisify(execFile)

// The examples are what users copy from: run them as users would, against the daemon under test.
describe('examples', () => {
  it('hello prints the version, plugins and namespaces, and runs a container', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/hello/main.ts'], {
      env: { ...process.env, CONTAINERD_ADDRESS: daemonAddress() },
      timeout: 60_000,
    })
    expect(stdout).toMatch(/^containerd \S+ \(revision .*\) at /m)
    expect(stdout).toMatch(/server uuid [0-9a-f-]{36}/)
    expect(stdout).toMatch(/\d+ plugins:/)
    expect(stdout).toContain('io.containerd.snapshotter.v1: ')
    expect(stdout).toMatch(/namespaces: .*hello/)
    expect(stdout).toMatch(/^image docker\.io\/library\/busybox:hello sha256:[0-9a-f]{64}$/m)
    expect(stdout).toMatch(/^Hello from a container: hello, uid 0, Linux$/m)
    expect(stdout).toMatch(/^container busybox-[0-9a-f]{5} exited with 0$/m)
    expect(stdout).toMatch(/^on \/dev\/pts\/0\nlog busybox-[0-9a-f]{5} stdout: on \/dev\/pts\/0$/m)
    expect(stdout).toMatch(/^log busybox-[0-9a-f]{5} stdout: tick 1\nlog busybox-[0-9a-f]{5} stdout: tick 2\nlog busybox-[0-9a-f]{5} stdout: tick 3$/m)
  })
})
