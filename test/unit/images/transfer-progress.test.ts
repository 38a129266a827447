import { describe, expect, it } from 'vitest'
import { NotFoundError, UnknownError } from '../../../src/grpc/errors.js'
import { mapTransferProgress, type TransferProgress } from '../../../src/images/transfer-progress.js'
import { registryFailure } from '../../../src/images/transfer-pull.js'
import { RegistryError } from '../../../src/registry/registry-error.js'

const ref = '127.0.0.1:5000/library/busybox:latest'
const layer = 'sha256:1eaeb2dd36d7136f7a939267e075244763d4e2a031bb20ce975224049cbb35e6'
const p = (event: string, name = '', progress = 0n, total = 0n, desc?: TransferProgress['desc']): TransferProgress =>
  ({ event, name, progress, total, ...(desc === undefined ? {} : { desc }) })

describe('mapTransferProgress', () => {
  it('maps containerd 1.7 messages, which name blobs by ingest key only', () => {
    expect(mapTransferProgress(ref, p(`Resolving from OCI Registry (${ref})`))).toEqual({ status: 'resolving', ref })
    expect(mapTransferProgress(ref, p(`Pulling from OCI Registry (${ref})`))).toEqual({ status: 'resolved', ref })
    expect(mapTransferProgress(ref, p('fetching image content', ref))).toBeUndefined()
    expect(mapTransferProgress(ref, p('waiting', `layer-${layer}`, 0n, 1052766n))).toEqual({ status: 'waiting', ref, digest: layer, total: 1052766 })
    expect(mapTransferProgress(ref, p('downloading', `layer-${layer}`, 4096n, 1052766n)))
      .toEqual({ status: 'downloading', ref, digest: layer, current: 4096, total: 1052766 })
    expect(mapTransferProgress(ref, p('complete', `layer-${layer}`, 1052766n, 1052766n)))
      .toEqual({ status: 'downloaded', ref, digest: layer, current: 1052766, total: 1052766 })
    expect(mapTransferProgress(ref, p('already exists', `config-${layer}`, 284n, 284n))).toMatchObject({ status: 'exists', digest: layer })
    expect(mapTransferProgress(ref, p('saved', ref))).toBe('saved')
    expect(mapTransferProgress(ref, p(`Completed pull from OCI Registry (${ref})`))).toBeUndefined()
  })

  it('takes digest and media type from 2.x descriptors', () => {
    const desc = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: 1052766n }
    expect(mapTransferProgress(ref, p('waiting', `layer-${layer}`, 0n, 1052766n, desc)))
      .toEqual({ status: 'waiting', ref, digest: layer, mediaType: desc.mediaType, total: 1052766 })
  })
})

describe('registryFailure', () => {
  const host = '127.0.0.1:5000'
  it('turns the daemon\'s registry failures into RegistryError codes', () => {
    const denied = registryFailure(new UnknownError('failed to resolve image: failed to authorize: failed to fetch oauth token: unexpected status from GET request to http://127.0.0.1:1/token?scope=x: 401 Unauthorized'), host)
    expect(denied).toBeInstanceOf(RegistryError)
    expect((denied as RegistryError).code).toBe('Unauthorized')
    const anonymous = registryFailure(new UnknownError('failed to resolve image: pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials'), host)
    expect((anonymous as RegistryError).code).toBe('Unauthorized')
    expect((registryFailure(new NotFoundError(`failed to resolve image: ${ref}: not found`), host) as RegistryError).code).toBe('NotFound')
    const http = registryFailure(new UnknownError('failed to resolve image: failed to do request: Head "https://127.0.0.1:5000/v2/library/busybox/manifests/latest": http: server gave HTTP response to HTTPS client'), host)
    expect((http as RegistryError).code).toBe('Unavailable')
    expect((http as Error).message).toMatch(/1\.7/)
    expect((registryFailure(new UnknownError('failed to resolve image: tls: failed to verify certificate: x509: certificate signed by unknown authority'), host) as RegistryError).code).toBe('Unavailable')
  })

  it('leaves other errors alone', () => {
    const other = new NotFoundError('content sha256:abc: not found')
    expect(registryFailure(other, host)).toBe(other)
    const plain = new Error('x')
    expect(registryFailure(plain, host)).toBe(plain)
  })
})
