import type { Readable } from 'node:stream'

/** Everything a process's output stream carries, as UTF-8 text, once it ends (or closes); `''` for no stream. */
export function readText(stream: Readable | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    if (stream === undefined) return resolve('')
    const chunks: Buffer[] = []
    const done = (): void => resolve(Buffer.concat(chunks).toString('utf8'))
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', done)
    stream.on('close', done)
    stream.on('error', reject)
  })
}
