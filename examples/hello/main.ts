// Hello, containerd: connect, print the server's version, its plugins and namespaces, then run real
// containers like `nerdctl run` does: one attached (its output returned), one on a terminal (its output
// returned and read back from its json-file log), one detached (its output read back from the log).
//
// Uses the daemon at $CONTAINERD_ADDRESS (or /run/containerd/containerd.sock). When none answers there,
// it starts a private containerd under a temp dir for the duration of the demo (root needed) and stops
// it afterwards, so the demo runs on a machine with nothing set up. The image is built locally from
// Debian's static busybox (no registry needed); with network access, `client.pull('busybox')` does the
// same job.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, UnavailableError } from 'containerd-sdk'
import { startContainerd, writeBusyboxImageArchive, type ContainerdDaemon } from 'containerd-sdk/testing'

let daemon: ContainerdDaemon | undefined
let client: Client
try {
  client = await Client.connect({ namespace: 'hello' })
} catch (err) {
  if (!(err instanceof UnavailableError)) throw err
  console.log(`No containerd answered (${err.message}).`)
  console.log('Starting a private containerd for this demo…')
  daemon = await startContainerd()
  // Names, state dirs and logs of the private daemon's containers live in its temp dir too.
  client = await Client.connect({ address: daemon.address, namespace: 'hello', dataRoot: join(daemon.dir, 'nerdctl') })
}

try {
  const { version, revision } = await client.version()
  console.log(`containerd ${version} (revision ${revision || 'n/a'}) at ${client.address}`)

  const server = await client.introspection.server()
  console.log(`server uuid ${server.uuid}`)

  const plugins = await client.introspection.plugins()
  const byType = new Map<string, string[]>()
  for (const p of plugins) {
    const ids = byType.get(p.type) ?? []
    ids.push(p.initError === undefined ? p.id : `${p.id} (failed: ${p.initError.message})`)
    byType.set(p.type, ids)
  }
  console.log(`${plugins.length} plugins:`)
  for (const [type, ids] of [...byType].sort()) console.log(`  ${type}: ${ids.join(', ')}`)

  // Load the image (stored and unpacked), then run a container from it.
  const dir = await mkdtemp(join(tmpdir(), 'csdk-hello-'))
  try {
    const archive = join(dir, 'busybox.tar')
    await writeBusyboxImageArchive(archive, { name: 'docker.io/library/busybox:hello' })
    const [image] = await client.images.import(archive)
    if (image === undefined) throw new Error('the archive held no image')
    console.log(`image ${image.name} ${image.digest}`)

    // Attached, like `nerdctl run --rm`: resolves when the process exited, with what it wrote.
    const hello = await client.run(image.name, {
      hostname: 'hello',
      args: ['sh', '-c', 'echo "Hello from a container: $(hostname), uid $(id -u), $(uname -s)"'],
      stdio: 'pipe',
      rm: true,
    })
    process.stdout.write(hello.stdout ?? '')
    console.log(`container ${hello.name} exited with ${hello.exitCode}`)

    // On a terminal, like `nerdctl run -t`: stdout and stderr arrive joined, with the terminal's \r\n. An
    // attached run's output also goes to its json-file log, as with nerdctl: read it back after the run.
    const term = await client.run(image.name, { tty: true, stdio: 'pipe', args: ['sh', '-c', 'echo "on $(tty)"'] })
    process.stdout.write((term.stdout ?? '').replace(/\r\n/g, '\n'))
    for await (const entry of client.logs(term.name)) console.log(`log ${term.name} ${entry.stream}: ${entry.line.trimEnd()}`)
    // Kept (no `rm`): the run hands back the container, which `remove()` takes away like `docker rm`.
    await term.container?.remove()

    // Detached, like `nerdctl run -d`: a Container handle; its output goes to the json-file log. Follow
    // the log to the end (the task's exit), then remove the container (task, record, snapshot, name,
    // state dir, log).
    const ticker = await client.run(image.name, {
      detach: true,
      args: ['sh', '-c', 'for i in 1 2 3; do echo "tick $i"; sleep 0.2; done'],
    })
    for await (const entry of client.logs(ticker.name, { follow: true })) {
      console.log(`log ${ticker.name} ${entry.stream}: ${entry.line}`)
    }
    await ticker.remove()
    await client.images.remove(image.name)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }

  const namespaces = await client.namespaces.list()
  console.log(`namespaces: ${namespaces.map((n) => n.name).join(', ') || '(none)'}`)
} finally {
  client.close()
  await daemon?.stop()
}
