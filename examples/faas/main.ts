// A tiny function platform, the way faasd runs OpenFaaS on containerd: each function is a container on a
// private bridge network of the platform's, serving HTTP on port 8080; a gateway container on the same
// network invokes functions by name (the hosts store makes `<name>` resolve) and by IP. Functions are
// deployed, invoked, scaled to zero (task stopped, network detached) and back (new task, re-attached),
// redeployed with new settings, and removed, with the network after them.
//
// Uses the daemon at $CONTAINERD_ADDRESS (or /run/containerd/containerd.sock); when none answers, a
// private containerd under a temp dir for the demo (root needed). The function image is built locally
// from Debian's static busybox: its httpd runs a CGI script that prints the function's environment.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, UnavailableError, type Container } from 'containerd-sdk'
import { startContainerd, writeBusyboxImageArchive, type ContainerdDaemon } from 'containerd-sdk/testing'

// A network's name decides its bridge device (nerdctl's rule), so two platforms on one host, say one per
// containerd, each need a name of their own: FAAS_NETWORK picks it.
const NETWORK = process.env['FAAS_NETWORK'] ?? 'faas-example'
const NAMESPACE = 'faas-example'

let daemon: ContainerdDaemon | undefined
let client: Client
try {
  client = await Client.connect({ namespace: NAMESPACE })
} catch (err) {
  if (!(err instanceof UnavailableError)) throw err
  console.log('No containerd answered: starting a private one for this demo…')
  daemon = await startContainerd()
  client = await Client.connect({ address: daemon.address, namespace: NAMESPACE, dataRoot: join(daemon.dir, 'nerdctl') })
}

/** The function's "handler": a CGI script answering with the function's name and settings. */
const HANDLER = [
  'mkdir -p /www/cgi-bin',
  `printf '#!/bin/sh\\necho "Content-Type: text/plain"\\necho\\necho "$FUNCTION says $GREETING"\\n' > /www/cgi-bin/invoke`,
  'chmod +x /www/cgi-bin/invoke',
  'exec httpd -f -p 8080 -h /www',
].join(' && ')

const dir = await mkdtemp(join(tmpdir(), 'csdk-faas-'))
try {
  const archive = join(dir, 'busybox.tar')
  await writeBusyboxImageArchive(archive, { name: 'docker.io/library/busybox:faas' })
  const [image] = await client.images.import(archive)
  if (image === undefined) throw new Error('the archive held no image')
  await platform(client, image.name)
  await client.images.remove(image.name)
} finally {
  await rm(dir, { recursive: true, force: true })
  client.close()
  await daemon?.stop()
}

async function platform(client: Client, image: string): Promise<void> {
  // The platform's own network (faasd: openfaas0); a subnet is picked that nothing else uses.
  await client.networks.create(NETWORK, { labels: { 'example.com/role': 'functions' } })
  try {
    await using gateway = await client.run(image, { name: 'gateway', detach: true, network: NETWORK, args: ['sleep', '3600'] })

    const deploy = (name: string, greeting: string): Promise<Container> =>
      client.run(image, { name, detach: true, network: NETWORK, env: { FUNCTION: name, GREETING: greeting }, args: ['sh', '-c', HANDLER] })

    /** Invokes a function from the gateway, by name or address; polls until it answers (bounded). */
    const invoke = async (target: string): Promise<string> => {
      for (let attempt = 0; attempt < 40; attempt++) {
        const exec = await gateway.exec({ args: ['wget', '-q', '-O', '-', `http://${target}:8080/cgi-bin/invoke`] })
        const { exitCode, stdout } = await exec.output({ timeoutMs: 5_000 })
        if (exitCode === 0) return stdout.trim()
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      throw new Error(`function at ${target} did not become ready`)
    }

    let hello = await deploy('hello', 'hi')
    const echo = await deploy('echo', 'echo')
    console.log(`invoke hello by name: ${await invoke('hello')}`)
    const { NetworkSettings } = await echo.inspect()
    const ip = NetworkSettings.Networks[NETWORK]?.IPAddress ?? ''
    console.log(`invoke echo at ${ip}: ${await invoke(ip)}`)

    // Scale to zero: the task goes, and with it the function's address; the container stays deployed.
    await hello.stop({ timeout: 2 })
    await (await hello.task()).delete()
    console.log(`hello scaled to zero: ${(await hello.inspect()).State.Status}`)
    // And back: a new task on the same network, under the same name.
    const task = await hello.newTask({ stdio: { jsonFile: {} } })
    await task.start()
    console.log(`hello scaled up again: ${await invoke('hello')}`)

    // Redeploy with new settings: remove, run again under the same name.
    await hello.remove({ force: true })
    hello = await deploy('hello', 'hello again')
    console.log(`hello redeployed: ${await invoke('hello')}`)

    for (const fn of [hello, echo]) await fn.remove({ force: true })
    console.log(`functions removed; network ${NETWORK} had ${Object.keys((await client.networks.inspect(NETWORK)).Containers).length - 1} function(s) left`)
  } finally {
    await client.networks.remove(NETWORK)
    console.log(`network ${NETWORK} removed`)
  }
}
