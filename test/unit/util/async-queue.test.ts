import { describe, it, expect } from 'vitest'
import { AsyncQueue } from '../../../src/util/async-queue.js'

async function drain<T>(q: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of q) out.push(item)
  return out
}

/** Lets pending promise callbacks run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve()
  await new Promise<void>((resolve) => setImmediate(resolve))
}

/** Resolves to true if `p` settled by the time the microtask/immediate queues drained. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false
  void p.then(() => { done = true }, () => { done = true })
  await flush()
  return done
}

describe('AsyncQueue', () => {
  it('yields items in push order, then ends on close', async () => {
    const q = new AsyncQueue<number>()
    q.push(1)
    q.push(2)
    q.push(3)
    q.close()
    expect(await drain(q)).toEqual([1, 2, 3])
  })

  it('delivers the items queued before close (close does not drop them)', async () => {
    const q = new AsyncQueue<string>()
    q.push('a')
    q.close()
    q.push('ignored after close')
    expect(await drain(q)).toEqual(['a'])
  })

  it('ends immediately when closed empty', async () => {
    const q = new AsyncQueue<number>()
    q.close()
    expect(await drain(q)).toEqual([])
  })

  it('wakes a waiting consumer on push and on close', async () => {
    const q = new AsyncQueue<number>()
    const result = drain(q)
    await flush()
    q.push(1)
    await flush()
    q.push(2)
    q.push(3)
    await flush()
    expect(await settled(result)).toBe(false)
    q.close()
    expect(await result).toEqual([1, 2, 3])
  })

  it('interleaves producer and consumer preserving order', async () => {
    const q = new AsyncQueue<number>()
    const result = drain(q)
    for (let i = 0; i < 50; i++) {
      q.push(i)
      if (i % 7 === 0) await flush()
    }
    q.close()
    expect(await result).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })

  it('keeps undefined and falsy items', async () => {
    const q = new AsyncQueue<number | undefined | null>()
    q.push(0)
    q.push(undefined)
    q.push(null)
    q.close()
    expect(await drain(q)).toEqual([0, undefined, null])
  })

  it('fail makes the consumer throw after the queued items', async () => {
    const q = new AsyncQueue<number>()
    const boom = new Error('boom')
    q.push(1)
    q.push(2)
    q.fail(boom)
    const seen: number[] = []
    await expect(async () => {
      for await (const item of q) seen.push(item)
    }).rejects.toBe(boom)
    expect(seen).toEqual([1, 2])
  })

  it('fail wakes a waiting consumer with the error', async () => {
    const q = new AsyncQueue<number>()
    const result = drain(q)
    await flush()
    const err = new Error('stream lost')
    q.fail(err)
    await expect(result).rejects.toBe(err)
  })

  it('fail keeps the first error and ignores later pushes', async () => {
    const q = new AsyncQueue<number>()
    const first = new Error('first')
    q.fail(first)
    q.fail(new Error('second'))
    q.push(1)
    await expect(drain(q)).rejects.toBe(first)
  })

  it('fail after close still reports the error for remaining consumption', async () => {
    const q = new AsyncQueue<number>()
    q.push(1)
    q.close()
    const err = new Error('late')
    q.fail(err)
    await expect(drain(q)).rejects.toBe(err)
  })

  it('fail accepts non-Error values', async () => {
    const q = new AsyncQueue<number>()
    q.fail('reason')
    await expect(drain(q)).rejects.toBe('reason')
  })

  it('stopping the consumer early (break) does not throw', async () => {
    const q = new AsyncQueue<number>()
    q.push(1)
    q.push(2)
    const seen: number[] = []
    for await (const item of q) {
      seen.push(item)
      break
    }
    expect(seen).toEqual([1])
  })

  describe('space() backpressure', () => {
    it('resolves immediately without a highWater', async () => {
      const q = new AsyncQueue<number>()
      for (let i = 0; i < 1000; i++) q.push(i)
      expect(await settled(q.space())).toBe(true)
    })

    it('resolves while below highWater', async () => {
      const q = new AsyncQueue<number>(2)
      expect(await settled(q.space())).toBe(true)
      q.push(1)
      expect(await settled(q.space())).toBe(true)
    })

    it('waits at highWater until the consumer takes an item', async () => {
      const q = new AsyncQueue<number>(2)
      q.push(1)
      q.push(2)
      const space = q.space()
      expect(await settled(space)).toBe(false)

      const it = q[Symbol.asyncIterator]()
      expect(await it.next()).toEqual({ value: 1, done: false })
      expect(await settled(space)).toBe(true)
    })

    it('keeps waiting while the queue is still at highWater after a release', async () => {
      const q = new AsyncQueue<number>(1)
      q.push(1)
      q.push(2) // over highWater: push does not block
      const space = q.space()
      const it = q[Symbol.asyncIterator]()
      expect(await it.next()).toEqual({ value: 1, done: false })
      // one item left, still >= highWater
      expect(await settled(space)).toBe(false)
      expect(await it.next()).toEqual({ value: 2, done: false })
      expect(await settled(space)).toBe(true)
    })

    it('releases every waiting producer', async () => {
      const q = new AsyncQueue<number>(1)
      q.push(1)
      const waits = [q.space(), q.space(), q.space()]
      expect(await settled(Promise.race(waits))).toBe(false)
      const it = q[Symbol.asyncIterator]()
      await it.next()
      expect(await settled(Promise.all(waits))).toBe(true)
    })

    it('close releases waiting producers', async () => {
      const q = new AsyncQueue<number>(1)
      q.push(1)
      const space = q.space()
      expect(await settled(space)).toBe(false)
      q.close()
      expect(await settled(space)).toBe(true)
      // and later calls resolve at once even though the item is still queued
      expect(await settled(q.space())).toBe(true)
    })

    it('fail releases waiting producers', async () => {
      const q = new AsyncQueue<number>(1)
      q.push(1)
      const space = q.space()
      q.fail(new Error('x'))
      expect(await settled(space)).toBe(true)
    })

    it('a producer honouring space() keeps exactly highWater items queued ahead of a slow consumer', async () => {
      const highWater = 3
      const total = 10
      const q = new AsyncQueue<number>(highWater)
      let pushed = 0
      const producer = (async () => {
        for (let i = 0; i < total; i++) {
          await q.space()
          q.push(i)
          pushed++
        }
        q.close()
      })()
      const it = q[Symbol.asyncIterator]()
      const seen: number[] = []
      for (;;) {
        await flush()
        // The producer is blocked with a full queue (or finished).
        expect(pushed - seen.length).toBe(Math.min(highWater, total - seen.length))
        const r = await it.next()
        if (r.done === true) break
        seen.push(r.value)
      }
      await producer
      expect(seen).toEqual(Array.from({ length: total }, (_, i) => i))
    })
  })
})

describe('AsyncQueue.fail with an undefined reason', () => {
  it('still makes the consumer throw', async () => {
    const queue = new AsyncQueue<number>()
    queue.fail(undefined)
    const iterator = queue[Symbol.asyncIterator]()
    await expect(iterator.next()).rejects.toBeUndefined()
  })
})
