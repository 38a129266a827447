import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Image } from '../../src/index.js'
import { createStateDir } from '../../src/nerdctl/state-dir.js'
import { HostsStore } from '../../src/network/hosts-store.js'
import { withNetworkFiles } from '../../src/network/network-files.js'
import { writeResolvConf } from '../../src/network/resolv-conf.js'
import { connectTestClient } from '../env/test-client.js'
import { runnableBusybox, uniqueId } from '../env/runnable-image.js'

// The network files as a running container sees them: bind-mounted at /etc/{resolv.conf,hosts,hostname},
// and a hosts file regenerated while the container runs shows the new entries inside it (the rewrite keeps
// the inode the bind mount pins). No CNI here: the container has a network namespace with loopback only.

const client = await connectTestClient('hosts-store')
let image: Image
let dir: string

beforeAll(async () => {
  image = await runnableBusybox(client, 'docker.io/library/busybox:fixture')
  dir = await mkdtemp(join(tmpdir(), 'csdk-hosts-store-'))
})
afterAll(async () => rm(dir, { recursive: true, force: true }))

describe('network files in a running container', () => {
  it('shows resolv.conf, hostname and the sysctl, and sees hosts entries added while it runs', async () => {
    const id = uniqueId('hosts')
    const stateDir = join(dir, 'containers', id)
    await createStateDir(stateDir, { hostname: 'web-host' })
    const hostResolv = join(dir, 'host-resolv.conf')
    await writeFile(hostResolv, 'nameserver 127.0.0.53\nsearch corp.example\n')
    const resolvConf = await writeResolvConf(stateDir, { hostResolvConf: hostResolv })
    const store = new HostsStore(join(dir, 'store'), client.namespace)
    const hosts = await store.allocate(id)
    await store.acquire({ id, hostname: 'web-host', name: 'web', networks: { net1: ['10.5.0.2/24'] } })

    const log = join(dir, `${id}.log`)
    const script = [
      'echo "resolv=$(cat /etc/resolv.conf | tr "\\n" "|")"',
      'echo "hostname=$(cat /etc/hostname)"',
      'echo "uport=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"',
      'echo "self=$(grep -c " web.net1" /etc/hosts)"',
      // Wait (bounded) for db to appear, written by the test while this runs.
      'i=0; while [ $i -lt 100 ]; do if grep -q " db.net1" /etc/hosts; then echo "db=$(grep " db.net1" /etc/hosts | cut -d" " -f1)"; exit 0; fi; sleep 0.1; i=$((i+1)); done',
      'echo db=missing',
    ].join('; ')
    const container = await client.containers.create(id, {
      image,
      args: ['sh', '-c', script],
      hostname: 'web-host',
      specOptions: [withNetworkFiles({ resolvConf, hosts, stateDir })],
    })
    try {
      const task = await container.newTask({ stdio: { logFile: log } })
      const exited = task.wait()
      await task.start()
      // Let the container read its files first, then add a second container on its network.
      await new Promise((resolve) => setTimeout(resolve, 500))
      await store.acquire({ id: `${id}-db`, hostname: 'db-host', name: 'db', networks: { net1: ['10.5.0.3/24'] } })
      const { exitCode } = await exited
      await task.delete()
      const output = await readFile(log, 'utf8')
      expect(exitCode, output).toBe(0)
      expect(output).toContain('resolv=search corp.example|nameserver 8.8.8.8|nameserver 8.8.4.4|')
      expect(output).toContain('hostname=web-host')
      expect(output).toContain('uport=0')
      expect(output).toContain('self=1')
      expect(output).toContain('db=10.5.0.3')
    } finally {
      await container.delete()
      await store.delete(id)
      await store.delete(`${id}-db`)
    }
  })
})
