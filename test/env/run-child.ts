// Run as a separate process by the run-attached tests: runs a container like `nerdctl run [-t] -i` with
// this process's own stdio ('inherit'), prints `exit=<code>` and then ends by itself: a stdin still held
// by the run would keep this process alive, which the tests would notice.
import { Client } from '../../src/index.js'

const [address, namespace, dataRoot, image, tty, ...args] = process.argv.slice(2)
if (address === undefined || namespace === undefined || dataRoot === undefined || image === undefined || tty === undefined) {
  throw new Error('usage: run-child <address> <namespace> <data root> <image> <tty|notty> <args…>')
}
const client = await Client.connect({ address, namespace, dataRoot })
const { exitCode } = await client.run(image, { args, interactive: true, tty: tty === 'tty', rm: true })
client.close()
process.stdout.write(`exit=${exitCode}\n`)
