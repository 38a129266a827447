// Hello, containerd: connect, then print the server's version, its plugins and namespaces.
//
// Uses the daemon at $CONTAINERD_ADDRESS (or /run/containerd/containerd.sock). When none answers there,
// it starts a private containerd under a temp dir for the duration of the demo (root needed) and stops
// it afterwards, so the demo runs on a machine with nothing set up.
import { Client, UnavailableError } from 'containerd-sdk'
import { startContainerd, type ContainerdDaemon } from 'containerd-sdk/testing'

let daemon: ContainerdDaemon | undefined
let client: Client
try {
  client = await Client.connect({ namespace: 'hello' })
} catch (err) {
  if (!(err instanceof UnavailableError)) throw err
  console.log(`No containerd answered (${err.message}).`)
  console.log('Starting a private containerd for this demo…')
  daemon = await startContainerd()
  client = await Client.connect({ address: daemon.address, namespace: 'hello' })
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

  // Touch the namespace so it exists, then list all of them.
  await client.withLease(async () => undefined)
  const namespaces = await client.namespaces.list()
  console.log(`namespaces: ${namespaces.map((n) => n.name).join(', ') || '(none)'}`)
} finally {
  client.close()
  await daemon?.stop()
}
