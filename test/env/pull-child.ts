// Run as a separate process by the pull-concurrency tests: pulls the given references concurrently in
// its own client and prints one JSON line per reference (`{ ref, ok, code?, message? }`), then exits.
// With `hold` as the first reference it instead starts one pull and prints `started` once a layer over
// 1 MiB is downloading (its ingest open), so the test can SIGKILL it mid-pull.
import { Client } from '../../src/index.js'

const [address, namespace, leaseExpiry, ...refs] = process.argv.slice(2)
if (address === undefined || namespace === undefined || leaseExpiry === undefined || refs.length === 0) {
  throw new Error('usage: pull-child <address> <namespace> <lease expiry ms|-> <ref…> | hold <ref>')
}
const client = await Client.connect({ address, namespace })
if (refs[0] === 'hold') {
  let said = false
  await client.pull(refs[1] ?? '', {
    onProgress: (e) => {
      if (!said && e.status === 'downloading' && (e.total ?? 0) > 1024 * 1024) {
        said = true
        process.stdout.write('started\n')
      }
    },
    ...(leaseExpiry === '-' ? {} : { leaseExpiresInMs: Number(leaseExpiry) }),
  })
  process.stdout.write('finished\n')
} else {
  const results = await Promise.all(refs.map(async (ref) => {
    try {
      await client.pull(ref)
      return { ref, ok: true }
    } catch (err) {
      return { ref, ok: false, code: (err as { code?: string }).code, message: (err as Error).message }
    }
  }))
  for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`)
}
client.close()
