import { describe, expect, it } from 'vitest'
import { AbortableReader } from '../../../../src/build/filesync/abortable-reader.js'
import { AsyncQueue } from '../../../../src/util/async-queue.js'

describe('AbortableReader', () => {
  it('reads items in order, then done', async () => {
    const q = new AsyncQueue<number>()
    q.push(1)
    q.push(2)
    q.close()
    const r = new AbortableReader(q, new AbortController().signal)
    expect(await r.next()).toEqual({ value: 1, done: false })
    expect(await r.next()).toEqual({ value: 2, done: false })
    expect((await r.next()).done).toBe(true)
    r.close()
  })

  it('rejects a waiting read with the abort reason, and later reads too', async () => {
    const ac = new AbortController()
    const r = new AbortableReader(new AsyncQueue<number>(), ac.signal)
    const waiting = r.next()
    ac.abort(new Error('stop'))
    await expect(waiting).rejects.toThrow('stop')
    await expect(r.next()).rejects.toThrow('stop')
    r.close()
  })

  it('passes the source’s error through', async () => {
    const q = new AsyncQueue<number>()
    q.fail(new Error('broken'))
    const r = new AbortableReader(q, new AbortController().signal)
    await expect(r.next()).rejects.toThrow('broken')
  })
})
