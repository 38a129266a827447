// A web server on a published port, the SDK's `nerdctl run -d -p 8080:80 --name=web --restart=always`:
// busybox's httpd in a container on the default bridge network, its port 8080 published on 127.0.0.1
// (a free host port is chosen), restarted by containerd if it dies, fetched through the port, then
// removed with everything it had (address, port rules, network namespace, name, log).
//
// Uses the daemon at $CONTAINERD_ADDRESS (or /run/containerd/containerd.sock); when none answers, a
// private containerd under a temp dir for the demo (root needed). The image is built locally from
// Debian's static busybox; with a registry, `client.run('nginx', …)` does the same.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, UnavailableError } from 'containerd-sdk'
import { startContainerd, writeBusyboxImageArchive, type ContainerdDaemon } from 'containerd-sdk/testing'

let daemon: ContainerdDaemon | undefined
let client: Client
try {
  client = await Client.connect({ namespace: 'web-example' })
} catch (err) {
  if (!(err instanceof UnavailableError)) throw err
  console.log('No containerd answered: starting a private one for this demo…')
  daemon = await startContainerd()
  client = await Client.connect({ address: daemon.address, namespace: 'web-example', dataRoot: join(daemon.dir, 'nerdctl') })
}

const dir = await mkdtemp(join(tmpdir(), 'csdk-web-'))
try {
  const archive = join(dir, 'busybox.tar')
  await writeBusyboxImageArchive(archive, { name: 'docker.io/library/busybox:web' })
  const [image] = await client.images.import(archive)
  if (image === undefined) throw new Error('the archive held no image')

  await serve(client, image.name)
  await client.images.remove(image.name)
} finally {
  await rm(dir, { recursive: true, force: true })
  client.close()
  await daemon?.stop()
}

async function serve(client: Client, image: string): Promise<void> {
  // `-d -p 127.0.0.1::8080 --name web --restart always`; `await using` removes it when this function ends.
  await using web = await client.run(image, {
    name: 'web',
    detach: true,
    restart: 'always',
    ports: ['127.0.0.1::8080'],
    args: ['httpd', '-f', '-p', '8080', '-h', '/etc'],
  })
  const [published] = await web.ports()
  if (published === undefined) throw new Error('no port published')
  const { NetworkSettings } = await web.inspect()
  console.log(`container ${web.name} at ${NetworkSettings.IPAddress} on bridge, 8080/tcp published on ${published.HostIP}:${published.HostPort}`)

  // The server may take a moment to listen: poll, bounded in count and time.
  const url = `http://${published.HostIP}:${published.HostPort}/passwd`
  let body: string | undefined
  for (let attempt = 0; attempt < 50 && body === undefined; attempt++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) })
      body = `${res.status} ${(await res.text()).split('\n')[0] ?? ''}`
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  console.log(`GET ${url} -> ${body ?? 'no answer'}`)
}
