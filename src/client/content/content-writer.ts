import { createHash, type Hash } from 'node:crypto'
import type { MessageInitShape } from '@bufbuild/protobuf'
import {
  WriteAction,
  type WriteContentRequestSchema,
  type WriteContentResponse,
} from '../../gen/containerd/services/content/v1/content_pb.js'
import { CanceledError, FailedPreconditionError, InternalError, InvalidArgumentError, UnavailableError } from '../../grpc/errors.js'
import type { Services } from '../services.js'
import type { CallOptions } from '../../grpc/call-options.js'
import { AsyncQueue } from '../../util/async-queue.js'
import { digestAlgorithm, validateDigest, type Digest } from './digest.js'
import type { PreEncoded } from '../../grpc/pre-encoded.js'
import { encodeWriteMessage } from './write-message.js'

/** containerd's content service takes writes of up to 1 MiB per message (DESIGN.md). */
export const WRITE_CHUNK_BYTES = 1024 * 1024
// WRITE messages sent ahead of the daemon's answers: enough to keep the unix socket busy. 8 was no faster
// on a pull (measured) and cost 4 MiB more per concurrent download.
const WRITES_IN_FLIGHT = 4

// Free 1 MiB slots shared by every writer of the process. A pull opens one writer per blob: slots that
// outlive their writer spare the next one the allocations, and the GC the garbage (each freed megabyte of
// external memory brings V8's next full collection closer). At most MAX_FREE_SLOTS are kept, and none once
// no write happened for SLOT_IDLE_MS: an idle client holds no buffers.
const MAX_FREE_SLOTS = 32
const SLOT_IDLE_MS = 5000
const freeSlots: Buffer[] = []
let slotIdleTimer: NodeJS.Timeout | undefined

function takeSlot(): Buffer {
  return freeSlots.pop() ?? Buffer.allocUnsafeSlow(WRITE_CHUNK_BYTES)
}

function returnSlot(slot: Buffer): void {
  if (freeSlots.length < MAX_FREE_SLOTS) freeSlots.push(slot)
  if (slotIdleTimer !== undefined) {
    slotIdleTimer.refresh()
  } else {
    slotIdleTimer = setTimeout(() => {
      freeSlots.length = 0
      slotIdleTimer = undefined
    }, SLOT_IDLE_MS).unref()
  }
}

// Waiting for an ingest ref another writer holds (containerd answers `UnavailableError: ref … locked`),
// as the Go client's content.OpenWriter does: a random sleep below a bound that doubles from 16 ms up to
// 2 s, so writers that collided spread out. Bounded in count and in time; the default time covers a large
// layer another process is still downloading.
const LOCK_FIRST_BACKOFF_MS = 16
const LOCK_MAX_BACKOFF_MS = 2048
/** How long opening a writer waits for a locked ref by default (10 minutes). */
export const DEFAULT_LOCK_WAIT_MS = 10 * 60 * 1000
const LOCK_MAX_ATTEMPTS = 2000

/** Whether `err` is containerd's answer for an ingest ref another writer holds. */
export function isLockedError(err: unknown): boolean {
  return err instanceof UnavailableError && / locked\b/.test(err.message)
}

/** Options for opening a content writer. */
export interface ContentWriterOptions extends CallOptions {
  /** Total size, when known: containerd checks it on commit and reports progress against it. */
  total?: number
  /** The digest the content must have; checked on commit by us (when we wrote every byte) and by containerd. */
  expected?: Digest
  /**
   * Hash the bytes here too, to refuse a mismatch before committing. Default true. Turn it off only when
   * the bytes were verified on the way in (a registry download is) — containerd checks on commit anyway.
   */
  verify?: boolean
  /**
   * How long to wait, in total, while another writer holds the same ref (two pulls of one layer): the
   * open is retried with a growing random backoff until the ref is free, or the blob it was writing is
   * committed (then `AlreadyExistsError`, with `expected`). Default 10 minutes; 0
   * fails at once with containerd's `UnavailableError`.
   */
  lockWaitMs?: number
}

/** Options for {@link ContentWriter.commit}. */
export interface CommitOptions {
  /** Expected size; default the `total` given when opening, else what was written. */
  size?: number
  /** Expected digest; default the `expected` given when opening. */
  expected?: Digest
  /** Labels to set on the committed blob (e.g. `containerd.io/gc.ref.*`). */
  labels?: Record<string, string>
}

type Request = MessageInitShape<typeof WriteContentRequestSchema>

interface Pending {
  action: WriteAction
  resolve: (res: WriteContentResponse) => void
  reject: (err: unknown) => void
}

/**
 * A resumable write into containerd's content store, identified by its ingest `ref`.
 *
 * Opening asks containerd for the ref's status: if an earlier write under the same ref was interrupted,
 * `offset` says where it stopped and writing continues from there. `commit()` turns the ingest into a blob
 * and fails if the digest or size differ from what was expected. `[Symbol.asyncDispose]` aborts an
 * uncommitted write (removing the partial ingest); call `close()` instead to keep it for a later resume.
 */
export class ContentWriter implements AsyncDisposable {
  /** The ingest reference. */
  readonly ref: string
  /** Bytes stored so far (where the next write goes). */
  get offset(): number {
    return this.written
  }

  /**
   * @internal Whether the client's calls now carry another lease than the write stream opened with: a
   * renewing lease renewed since. That lease expires soon, so close and reopen the writer before committing.
   */
  get leaseChanged(): boolean {
    return this.streamLease !== this.leaseNow()
  }

  private written: number
  // Bytes handed to containerd; `written - sent` wait in `gathered` or `slot`.
  private sent = 0
  // The next message's bytes: the first `gatheredBytes` of `slot`.
  private gatheredBytes = 0
  private slot: Buffer | undefined
  // Wake the `sendChunk`s waiting for an answer.
  private answered: (() => void)[] = []
  private readonly total: number | undefined
  private readonly expected: Digest | undefined
  private hash: Hash | undefined
  private readonly requests = new AsyncQueue<Request | PreEncoded>(WRITES_IN_FLIGHT)
  // The lease the write stream carries (containerd adds the ingest, and on commit the blob, to it).
  private readonly streamLease: string | undefined
  private readonly pending: Pending[] = []
  private failure: unknown
  private finished = false
  private reading: Promise<void> = Promise.resolve()
  private readonly refBytes: Buffer

  private constructor(
    private readonly services: Services,
    ref: string,
    options: ContentWriterOptions,
    private readonly callOptions: CallOptions,
    private readonly leaseNow: () => string | undefined,
  ) {
    this.ref = ref
    this.written = 0
    this.total = options.total
    this.expected = options.expected
    this.hash = options.verify === false ? undefined : createHash(options.expected !== undefined ? digestAlgorithm(options.expected) : 'sha256')
    this.refBytes = Buffer.from(ref)
    this.streamLease = leaseNow()
  }

  /**
   * @internal Opens the write stream and reads the ingest's status; while another writer holds the ref,
   * waits and retries (see {@link ContentWriterOptions.lockWaitMs}). `leaseNow` gives the lease id the
   * client's calls carry now (the stream carries the one current when it opens).
   */
  static async open(services: Services, ref: string, options: ContentWriterOptions, leaseNow: () => string | undefined): Promise<ContentWriter> {
    if (ref === '') throw new InvalidArgumentError('a content writer needs a non-empty ref')
    if (options.expected !== undefined) validateDigest(options.expected)
    if (options.total !== undefined && (!Number.isSafeInteger(options.total) || options.total < 0)) {
      throw new InvalidArgumentError(`content total must be a non-negative integer, got ${options.total}`)
    }
    const lockWaitMs = options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS
    if (!Number.isFinite(lockWaitMs) || lockWaitMs < 0) throw new InvalidArgumentError(`content lockWaitMs must be a non-negative number, got ${lockWaitMs}`)
    const deadline = Date.now() + lockWaitMs
    let backoff = LOCK_FIRST_BACKOFF_MS
    for (let attempt = 1; ; attempt++) {
      try {
        return await ContentWriter.openOnce(services, ref, options, leaseNow)
      } catch (err) {
        if (!isLockedError(err) || attempt >= LOCK_MAX_ATTEMPTS) throw err
        const sleep = Math.min(Math.random() * backoff, deadline - Date.now())
        // Past the bound: containerd's error says which ref and since when it is locked.
        if (sleep <= 0) throw err
        await abortableSleep(sleep, options.signal)
        backoff = Math.min(backoff * 2, LOCK_MAX_BACKOFF_MS)
      }
    }
  }

  private static async openOnce(services: Services, ref: string, options: ContentWriterOptions, leaseNow: () => string | undefined): Promise<ContentWriter> {
    const callOptions: CallOptions = { signal: options.signal, timeoutMs: options.timeoutMs }
    const writer = new ContentWriter(services, ref, options, callOptions, leaseNow)
    writer.startReading()
    const status = await writer.send({
      action: WriteAction.STAT,
      ref,
      total: BigInt(options.total ?? 0),
      expected: options.expected ?? '',
    })
    writer.written = Number(status.offset)
    writer.sent = writer.written
    // Bytes stored by an earlier attempt were not hashed here: only containerd can verify those.
    if (writer.written > 0) writer.hash = undefined
    return writer
  }

  /**
   * Appends bytes. They are sent in messages of exactly 1 MiB (the last one shorter): small writes are
   * gathered first, because every WRITE message costs containerd a status update and an answer, and a
   * file stream's 64 KiB chunks would cost it sixteen times as many. Resolves when the bytes are queued;
   * a failure surfaces on a later write or on commit.
   *
   * As with Node's writable streams, whole megabytes of a large `data` are sent as views of it, without a
   * copy: do not modify `data` after passing it. Smaller pieces are copied into one of the writer's
   * reusable 1 MiB slots: one copy, and no allocation per message once the slots exist. (Sending a socket's
   * chunks uncopied was measured too: no faster, because they then live long enough to need full GCs.)
   */
  async write(data: Uint8Array): Promise<void> {
    this.checkUsable()
    this.hash?.update(data)
    this.written += data.byteLength
    let rest = data
    while (rest.byteLength > 0) {
      if (this.gatheredBytes === 0 && rest.byteLength >= WRITE_CHUNK_BYTES) {
        // A whole 1 MiB piece of a large write goes out as a view of the caller's buffer.
        await this.sendChunk([rest.subarray(0, WRITE_CHUNK_BYTES)], undefined)
        rest = rest.subarray(WRITE_CHUNK_BYTES)
        continue
      }
      const take = Math.min(rest.byteLength, WRITE_CHUNK_BYTES - this.gatheredBytes)
      this.gather(rest.subarray(0, take))
      rest = rest.subarray(take)
      if (this.gatheredBytes === WRITE_CHUNK_BYTES) await this.flush()
    }
  }

  /**
   * @internal The free part of the next message's 1 MiB slot, for a reader that fills it in place (a
   * socket reading a registry's blob straight into it): no copy at all. Report what was filled with
   * {@link wroteIntoTarget} before asking again; write nothing in between.
   */
  writeTarget(): Uint8Array {
    this.checkUsable()
    this.slot ??= takeSlot()
    return this.slot.subarray(this.gatheredBytes)
  }

  /**
   * @internal `n` bytes were put at the start of the last {@link writeTarget}. Returns a promise when the
   * slot was full and went out as a message: fill nothing more until it resolves (the writer's bound on
   * unanswered messages); a rejection is the writer's failure.
   */
  wroteIntoTarget(n: number): Promise<void> | undefined {
    const slot = this.slot
    if (slot === undefined || n < 0 || this.gatheredBytes + n > WRITE_CHUNK_BYTES) {
      throw new InternalError(`content ${this.ref}: ${n} bytes reported outside the write target`)
    }
    this.hash?.update(slot.subarray(this.gatheredBytes, this.gatheredBytes + n))
    this.gatheredBytes += n
    this.written += n
    return this.gatheredBytes === WRITE_CHUNK_BYTES ? this.flush() : undefined
  }

  // Copies a piece into the slot of the next message.
  private gather(piece: Uint8Array): void {
    this.slot ??= takeSlot()
    this.slot.set(piece, this.gatheredBytes)
    this.gatheredBytes += piece.byteLength
  }

  /** Sends what `write` has gathered, even if less than 1 MiB. */
  private async flush(): Promise<void> {
    const slot = this.slot
    if (this.gatheredBytes === 0 || slot === undefined) return
    const bytes = this.gatheredBytes
    this.gatheredBytes = 0
    this.slot = undefined
    await this.sendChunk([slot.subarray(0, bytes)], slot)
  }

  /**
   * Sends one WRITE message once fewer than WRITES_IN_FLIGHT are unanswered: that bounds the memory a
   * writer holds (its slots, or views of the caller's large buffers) whatever the daemon's pace. `slot` goes back to the
   * shared free list when containerd has answered: it has then received every byte, so nothing reads it anymore.
   */
  private async sendChunk(parts: readonly Uint8Array[], slot: Buffer | undefined): Promise<void> {
    while (this.pending.length >= WRITES_IN_FLIGHT && this.failure === undefined && !this.finished) {
      await new Promise<void>((resolve) => this.answered.push(resolve))
    }
    await this.requests.space()
    this.checkUsable()
    const offset = this.sent
    for (const part of parts) this.sent += part.byteLength
    // Acknowledgements are checked asynchronously; a failure surfaces on the next write or commit.
    this.send(encodeWriteMessage(this.refBytes, offset, parts), WriteAction.WRITE).then(
      () => { if (slot !== undefined) returnSlot(slot) },
      () => undefined,
    )
  }

  /**
   * Commits the ingest as a blob and returns its digest.
   * @throws FailedPreconditionError when the digest or size differ from the expected ones (the ingest is
   * aborted, nothing is stored).
   */
  async commit(options: CommitOptions = {}): Promise<Digest> {
    this.checkUsable()
    const expected = options.expected ?? this.expected
    if (expected !== undefined) validateDigest(expected)
    const size = options.size ?? this.total ?? this.written
    if (this.hash !== undefined && expected !== undefined) {
      const actual = `${digestAlgorithm(expected)}:${this.hash.copy().digest('hex')}`
      if (actual !== expected) {
        await this.abort()
        throw new FailedPreconditionError(`content ${this.ref}: wrote ${actual}, expected ${expected}; the write was aborted`)
      }
    }
    try {
      await this.flush()
      const res = await this.send({
        action: WriteAction.COMMIT,
        ref: this.ref,
        total: BigInt(size),
        offset: BigInt(this.written),
        expected: expected ?? '',
        labels: options.labels ?? {},
      })
      this.finish()
      return res.digest as Digest
    } catch (err) {
      await this.abort()
      throw err
    }
  }

  /** Ends the stream and removes the partial ingest. Idempotent. */
  async abort(): Promise<void> {
    this.finish()
    // containerd holds the ingest open until the write stream ends; removing it earlier races with
    // that writer (containerd 1.6 then fails with "unlinkat … directory not empty").
    await this.reading
    try {
      await this.services.content.abort({ ref: this.ref })
    } catch (err) {
      if ((err as { code?: string }).code !== 'NotFound') throw err
    }
  }

  /**
   * Ends the stream but keeps the partial ingest, so a writer opened later with the same ref resumes.
   * Resolves once containerd has released the ingest's lock.
   */
  async close(): Promise<void> {
    if (!this.finished && this.failure === undefined) await this.flush()
    this.finish()
    await this.reading
  }

  /** Aborts the write unless it was committed or closed. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.finished) await this.abort()
  }

  private checkUsable(): void {
    if (this.failure !== undefined) throw this.failure
    if (this.finished) throw new FailedPreconditionError(`content writer ${this.ref} is already committed, closed or aborted`)
  }

  private finish(): void {
    this.finished = true
    this.requests.close()
    this.wakeSender()
  }

  private wakeSender(): void {
    const waiting = this.answered
    this.answered = []
    for (const wake of waiting) wake()
  }

  private send(request: Request | PreEncoded, action: WriteAction = (request as Request).action ?? WriteAction.STAT): Promise<WriteContentResponse> {
    return new Promise<WriteContentResponse>((resolve, reject) => {
      this.pending.push({ action, resolve, reject })
      this.requests.push(request)
    })
  }

  private startReading(): void {
    this.reading = (async () => {
      try {
        for await (const res of this.services.content.write(this.requests, this.callOptions)) {
          const waiting = this.pending.shift()
          if (waiting === undefined) throw new InternalError(`content ${this.ref}: unexpected response from the write stream`)
          waiting.resolve(res)
          this.wakeSender()
        }
        if (this.pending.length > 0) throw new InternalError(`content ${this.ref}: the write stream ended early`)
      } catch (err) {
        this.failure = err
        this.requests.close()
        for (const waiting of this.pending.splice(0)) waiting.reject(err)
        this.wakeSender()
      }
    })()
  }
}

// Sleeps `ms`, or rejects with CanceledError (the signal's reason as cause) once `signal` aborts.
function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const canceled = (): CanceledError => new CanceledError('canceled while waiting for a locked content ref', { cause: signal?.reason })
    if (signal?.aborted === true) return reject(canceled())
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(canceled())
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
