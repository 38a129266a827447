import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defineConfig } from 'vitest/config'

// Integration tests run once per containerd release line: each line is its own project whose global
// setup starts a private daemon of that version (test/env/global-setup.ts). CONTAINERD_VERSIONS picks
// the lines (default all three); CONTAINERD_ADDRESS runs them once against an existing daemon instead.
const external = process.env['CONTAINERD_ADDRESS'] !== undefined && process.env['CONTAINERD_ADDRESS'] !== ''
const lines = external ? ['external'] : (process.env['CONTAINERD_VERSIONS'] ?? '1.6,1.7,2.x').split(',').map((v) => v.trim()).filter(Boolean)

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      ...lines.map((line) => ({
        test: {
          name: `containerd-${line}`,
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/env/global-setup.ts'],
          // NETCONFPATH (nerdctl's variable, read by Client.connect): each line's networks in a private
          // conf dir, made and removed by the global setup, never the host's /etc/cni/net.d.
          env: { CSDK_CONTAINERD_LINE: line, NETCONFPATH: join(tmpdir(), `csdk-netconf-${line}-${process.pid}`) },
          // Files in one project share a daemon; running them one by one keeps timings (and the two
          // cores of a CI machine) predictable.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      })),
    ],
  },
})
