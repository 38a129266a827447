import { execFile } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { Client } from '../../src/index.js'
import { dataStorePath } from '../../src/nerdctl/data-store.js'
import { daemonAddress, daemonLine, sweepNamespace } from '../env/test-client.js'
import { startDockerd } from '../env/dockerd.js'
import type { ContainerdLine } from '../../src/testing/index.js'

const run = promisify(execFile)

afterAll(async () => {
  // hello uses nerdctl's default data root; the data store of this private daemon's socket is the
  // examples' alone (an external daemon's is shared with nerdctl, so it stays).
  if (daemonLine() !== 'external') await rm(dataStorePath(daemonAddress()), { recursive: true, force: true })
})

// The examples are what users copy from: run them as users would, against the daemon under test.
describe('examples', () => {
  it('hello prints the version, plugins and namespaces, runs containers, and cleans up after itself', async () => {
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

    // It removes what it made: its three containers (with their names) and the image.
    const client = await Client.connect({ address: daemonAddress(), namespace: 'hello' })
    try {
      expect(await client.containers.list()).toEqual([])
      expect(await client.containers.ps({ all: true })).toEqual([])
      expect(await client.images.list()).toEqual([])
    } finally {
      // The namespace itself is the demo's to keep on a daemon of the user's.
      if (daemonLine() !== 'external') await sweepNamespace(client)
      client.close()
    }
  })

  it('web serves on a published port on the default bridge and removes itself', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/web/main.ts'], {
      env: { ...process.env, CONTAINERD_ADDRESS: daemonAddress() },
      timeout: 60_000,
    })
    expect(stdout).toMatch(/^container web at 10\.4\.0\.\d+ on bridge, 8080\/tcp published on 127\.0\.0\.1:\d+$/m)
    expect(stdout).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/passwd -> 200 root:x:0:0:/m)
    const client = await Client.connect({ address: daemonAddress(), namespace: 'web-example' })
    try {
      expect(await client.containers.list()).toEqual([])
    } finally {
      if (daemonLine() !== 'external') await sweepNamespace(client)
      client.close()
    }
  })

  it('faas deploys functions on its own network, invokes them by name and IP, scales to zero and back, redeploys, removes', async () => {
    // The lines run beside each other on one host: a network (so a bridge) of each one's own.
    const network = `faas-example-${daemonLine().replace('.', '')}`
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/faas/main.ts'], {
      env: { ...process.env, CONTAINERD_ADDRESS: daemonAddress(), FAAS_NETWORK: network },
      timeout: 120_000,
    })
    expect(stdout).toMatch(/^invoke hello by name: hello says hi$/m)
    expect(stdout).toMatch(/^invoke echo at 10\.\d+\.\d+\.\d+: echo says echo$/m)
    expect(stdout).toMatch(/^hello scaled up again: hello says hi$/m)
    expect(stdout).toMatch(/^hello redeployed: hello says hello again$/m)
    expect(stdout).toContain(`\nnetwork ${network} removed\n`)
    const client = await Client.connect({ address: daemonAddress(), namespace: 'faas-example' })
    try {
      expect(await client.containers.list()).toEqual([])
      expect((await client.networks.list()).map((n) => n.name)).not.toContain(network)
    } finally {
      if (daemonLine() !== 'external') await sweepNamespace(client)
      client.close()
    }
  }, 150_000)

  it('build-and-run builds a Dockerfile with the BuildKit inside a private dockerd and runs the image', async () => {
    const line: ContainerdLine = daemonLine() === '1.7' || daemonLine() === '2.x' ? (daemonLine() as ContainerdLine) : '1.6'
    await using dockerd = await startDockerd('28.5', { containerdLine: line })
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/build-and-run/main.ts'], {
      env: { ...process.env, CONTAINERD_ADDRESS: daemonAddress(), BUILDKIT_HOST: dockerd.buildkitAddress },
      timeout: 150_000,
    })
    expect(stdout).toMatch(/^built example\.com\/hello-build:1 \(sha256:[0-9a-f]{64}\)$/m)
    expect(stdout).toContain('run exited 0:\nhello from a Dockerfile built by BuildKit\ncontext files: app.txt \n')
    const client = await Client.connect({ address: daemonAddress(), namespace: 'build-example' })
    try {
      expect(await client.images.list()).toEqual([])
      expect(await client.containers.list()).toEqual([])
    } finally {
      if (daemonLine() !== 'external') await sweepNamespace(client)
      client.close()
    }
  }, 240_000)
})
