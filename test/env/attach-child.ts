// Run as a separate process by the Attach tests: creates a container whose task prints a numbered line
// every 50 ms, starts it with piped stdio (`pipe`, the default: FIFOs) or a stdout stream (`streams`:
// direct output), reads the first line and exits without cleaning up, the way a crashed service would.
// Prints the container id.
import { PassThrough } from 'node:stream'
import { Client } from '../../src/index.js'

const [address, namespace, id, imageName, mode = 'pipe'] = process.argv.slice(2)
if (address === undefined || namespace === undefined || id === undefined || imageName === undefined || !['pipe', 'streams'].includes(mode)) {
  throw new Error('usage: attach-child <address> <namespace> <id> <image> [pipe|streams]')
}
const client = await Client.connect({ address, namespace })
const container = await client.containers.create(id, {
  image: imageName,
  args: ['sh', '-c', 'i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); sleep 0.05; done'],
})
const stdout = new PassThrough()
const task = await container.newTask({ stdio: mode === 'pipe' ? 'pipe' : { stdout } })
await task.start()
await new Promise<void>((resolve) => (task.stdout ?? stdout).once('data', () => resolve()))
process.stdout.write(`${container.id}\n`)
process.exit(0)
