// Run by the direct-output tests in a pid namespace of its own (unshare --pid --mount-proc), where the
// pids containerd reports name nothing or other processes. `run` (default): creates a task with a stdout
// stream, runs it and prints JSON with the stdout URI the task got and what it printed. `attach`: attaches
// to the running task of container <id> and prints JSON with the error's name and message.
import { Writable } from 'node:stream'
import { Client } from '../../src/index.js'

const [address, namespace, id, imageName, mode = 'run'] = process.argv.slice(2)
if (address === undefined || namespace === undefined || id === undefined || imageName === undefined || !['run', 'attach'].includes(mode)) {
  throw new Error('usage: direct-output-child <address> <namespace> <id> <image> [run|attach]')
}
const client = await Client.connect({ address, namespace })
if (mode === 'attach') {
  const error = await (await client.containers.get(id)).task({ attach: true }).then(() => undefined, (err: unknown) => err as Error)
  client.close()
  process.stdout.write(`${JSON.stringify({ name: error?.name, message: error?.message })}\n`)
  process.exit(0)
}
let output = ''
const stdout = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    output += chunk.toString()
    callback()
  },
})
const container = await client.containers.create(id, { image: imageName, args: ['echo', 'hello'] })
const task = await container.newTask({ stdio: { stdout } })
const uri = (await client.services.tasks.get({ containerId: id })).process?.stdout ?? ''
const exited = task.wait()
await task.start()
const { exitCode } = await exited
await task.delete()
await container.delete()
client.close()
process.stdout.write(`${JSON.stringify({ uri, output, exitCode })}\n`)
