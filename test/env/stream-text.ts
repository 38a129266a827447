import type { Readable } from 'node:stream'

/** Collects a stream's text as it arrives; `until` waits (bounded) for a pattern to appear. */
export class StreamText {
  private text = ''
  private ended = false

  constructor(stream: Readable | undefined) {
    if (stream === undefined) throw new Error('no stream to read: was the process created with stdio pipe or terminal?')
    stream.on('data', (chunk: Buffer) => { this.text += chunk.toString('utf8') })
    stream.on('end', () => { this.ended = true })
    stream.on('close', () => { this.ended = true })
  }

  /** Everything read so far. */
  get value(): string {
    return this.text
  }

  /** Whether the stream ended. */
  get done(): boolean {
    return this.ended
  }

  /** Resolves with the text once it matches, or rejects after `timeoutMs` naming what was seen. */
  async until(pattern: RegExp | ((text: string) => boolean), timeoutMs = 15_000): Promise<string> {
    const matches = typeof pattern === 'function' ? pattern : (t: string): boolean => pattern.test(t)
    const deadline = Date.now() + timeoutMs
    while (!matches(this.text)) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${String(pattern)}; got ${JSON.stringify(this.text.slice(-300))}`)
      await new Promise((r) => setTimeout(r, 20))
    }
    return this.text
  }
}
