import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { pack, type Header, type Pack } from 'tar-stream'
import type { ClientCore } from '../../client/client.js'
import { digestAlgorithm, type Digest } from '../../client/content/digest.js'
import { DataLossError } from '../../grpc/errors.js'
import type { OciDescriptor } from '../../image-spec/descriptor.js'
import { buildDockerManifestJson, DOCKER_MANIFEST_FILE } from './docker-manifest-json.js'
import { BLOBS_DIR, blobPath } from './entry-path.js'
import { buildIndexJson, INDEX_FILE, OCI_LAYOUT_FILE, ociLayoutJson } from './index-json.js'
import type { ExportPlan } from './export-plan.js'
import { throwIfAborted } from '../../grpc/abort.js'

// Fixed header fields, as containerd's exporter leaves them (zero time, root, no user names): the same
// images give the same archive bytes.
const MTIME = new Date(0)

type TarRecord =
  | { name: string; kind: 'dir' }
  | { name: string; kind: 'bytes'; bytes: Buffer; mode: number }
  | { name: string; kind: 'blob'; desc: OciDescriptor }

/**
 * The entries of an export, sorted by name as containerd writes them: `blobs/`, `blobs/<alg>/`, the
 * blobs, `index.json`, `manifest.json` (when there is an image for it), `oci-layout`.
 */
export function layoutRecords(plan: ExportPlan): TarRecord[] {
  const records: TarRecord[] = [{ name: `${BLOBS_DIR}/`, kind: 'dir' }]
  const algorithms = new Set(plan.blobs.map((b) => b.digest.slice(0, b.digest.indexOf(':'))))
  for (const alg of algorithms) records.push({ name: `${BLOBS_DIR}/${alg}/`, kind: 'dir' })
  for (const desc of plan.blobs) records.push({ name: blobPath(desc.digest), kind: 'blob', desc })
  records.push({ name: INDEX_FILE, kind: 'bytes', bytes: buildIndexJson(plan.index), mode: 0o644 })
  if (plan.docker.length > 0) records.push({ name: DOCKER_MANIFEST_FILE, kind: 'bytes', bytes: buildDockerManifestJson(plan.docker), mode: 0o644 })
  records.push({ name: OCI_LAYOUT_FILE, kind: 'bytes', bytes: ociLayoutJson(), mode: 0o444 })
  return records.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/**
 * Streams the export as a tar: blobs go from the content store's read stream into the tar as they
 * arrive (backpressure from the destination reaches the content reads), and each is hashed and counted
 * on the way, so a store that returns other bytes than the digest promises fails the export instead of
 * producing a corrupt archive. The returned stream errors (and ends without the tar trailer) on failure.
 */
export function layoutTarStream(client: ClientCore, plan: ExportPlan, signal?: AbortSignal): Readable {
  const tar = pack()
  const produce = async (): Promise<void> => {
    for (const record of layoutRecords(plan)) {
      throwIfAborted(signal, 'the export')
      if (record.kind === 'dir') await addEntry(tar, { name: record.name, type: 'directory', mode: 0o755, ...OWNER })
      else if (record.kind === 'bytes') await addEntry(tar, { name: record.name, type: 'file', mode: record.mode, size: record.bytes.byteLength, ...OWNER }, record.bytes)
      else await addBlob(client, tar, record.name, record.desc, signal)
    }
    tar.finalize()
  }
  produce().catch((err: unknown) => tar.destroy(err as Error))
  return Readable.from(tar as AsyncIterable<Buffer>, { objectMode: false })
}

const OWNER = { uid: 0, gid: 0, uname: '', gname: '', mtime: MTIME } as const

function addEntry(tar: Pack, header: Partial<Header> & Pick<Header, 'name'>, bytes?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null): void => (err ? reject(err) : resolve())
    if (bytes === undefined) tar.entry(header, done)
    else tar.entry(header, bytes, done)
  })
}

async function addBlob(client: ClientCore, tar: Pack, name: string, desc: OciDescriptor, signal: AbortSignal | undefined): Promise<void> {
  const digest = desc.digest as Digest
  const hash = createHash(digestAlgorithm(digest))
  let written = 0
  let settle: { resolve: () => void; reject: (err: Error) => void } | undefined
  const finished = new Promise<void>((resolve, reject) => { settle = { resolve, reject } })
  finished.catch(() => undefined)
  const sink = tar.entry({ name, type: 'file', mode: 0o444, size: desc.size, ...OWNER }, (err?: Error | null) => (err ? settle?.reject(err) : settle?.resolve()))
  // When the tar is torn down (the destination failed, or the export was aborted) the entry stream is
  // destroyed with that error and emits it; the export learns of it through the entry's callback and the
  // tar, so without this listener the 'error' event would be unhandled and crash the process.
  sink.on('error', () => undefined)
  for await (const chunk of client.content.read(digest, { signal }) as AsyncIterable<Buffer>) {
    written += chunk.byteLength
    // Checked before writing: a tar entry longer than its header says would corrupt every later entry.
    if (written > desc.size) throw new DataLossError(`content ${digest}: the store returned more than the ${desc.size} bytes the descriptor declares`)
    hash.update(chunk)
    if (!sink.write(chunk)) await drained(sink)
  }
  if (written !== desc.size) throw new DataLossError(`content ${digest}: the store returned ${written} bytes, the descriptor declares ${desc.size}`)
  const actual = `${digestAlgorithm(digest)}:${hash.digest('hex')}`
  if (actual !== digest) throw new DataLossError(`content ${digest}: the store returned bytes with digest ${actual}`)
  sink.end(null)
  await finished
}

/** Waits for a full entry stream to take more; fails if the tar is torn down meanwhile (a consumer gone). */
function drained(sink: ReturnType<Pack['entry']>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onDrain = (): void => { cleanup(); resolve() }
    const onClose = (): void => { cleanup(); reject(new Error('the archive stream was closed')) }
    const cleanup = (): void => {
      sink.removeListener('drain', onDrain)
      sink.removeListener('close', onClose)
      sink.removeListener('error', onClose)
    }
    sink.on('drain', onDrain)
    sink.on('close', onClose)
    sink.on('error', onClose)
  })
}
