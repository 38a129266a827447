// A client process the soak kills (SIGKILL) at a random moment: it runs containers with rm and pulls
// until it is killed, so what a dead client leaves is counted. It stops by itself after 60 s (bounded).
import { Client } from '../../src/index.js'

const [address, namespace, dataRoot, image, pullRef] = process.argv.slice(2)
if (address === undefined || namespace === undefined || dataRoot === undefined || image === undefined || pullRef === undefined) {
  throw new Error('usage: soak-child <address> <namespace> <data root> <image> <pull reference>')
}
// Short operation leases, as a platform that wants a crashed process's downloads freed quickly would set.
const client = await Client.connect({ address, namespace, dataRoot, leaseExpiresInMs: 3000 })
const deadline = Date.now() + 60_000
process.stdout.write('ready\n')
for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
  await Promise.allSettled([
    client.run(image, { args: ['sh', '-c', 'echo child; sleep 1'], stdio: 'pipe', rm: true, name: `soak-child-${process.pid}-${i}` }),
    client.pull(pullRef),
  ])
}
client.close()
