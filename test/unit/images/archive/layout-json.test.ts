import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ArchiveError } from '../../../../src/images/archive/archive-error.js'
import { checkOciLayout, MAX_JSON_BYTES, parseIndexDocument, parseManifestDocument } from '../../../../src/images/archive/archive-json.js'
import { buildDockerManifestJson, parseDockerManifestJson } from '../../../../src/images/archive/docker-manifest-json.js'
import { DOCKER_LAYER_TAR, dockerLayerMediaType, dockerSchema2Manifest } from '../../../../src/images/archive/docker-schema2.js'
import { buildIndexJson, ociLayoutJson } from '../../../../src/images/archive/index-json.js'
import { MediaTypes } from '../../../../src/image-spec/media-types.js'

const D1 = `sha256:${'1'.repeat(64)}`
const D2 = `sha256:${'2'.repeat(64)}`
const D3 = `sha256:${'3'.repeat(64)}`

function reasonOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return err instanceof ArchiveError ? err.reason : `not an ArchiveError: ${String(err)}`
  }
  return undefined
}

describe('index.json and oci-layout as containerd writes them', () => {
  it('writes the layout marker', () => {
    expect(ociLayoutJson().toString()).toBe('{"imageLayoutVersion":"1.0.0"}')
  })

  it('orders keys like Go and sorts annotations', () => {
    const json = buildIndexJson([
      { mediaType: MediaTypes.ociIndex, digest: D1, size: 10, annotations: { 'org.opencontainers.image.ref.name': 'v1', 'io.containerd.image.name': 'docker.io/library/a:v1' } },
      { mediaType: MediaTypes.ociManifest, digest: D2, size: 20, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    ]).toString()
    expect(json).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[' +
        `{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"${D1}","size":10,"annotations":{"io.containerd.image.name":"docker.io/library/a:v1","org.opencontainers.image.ref.name":"v1"}},` +
        `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${D2}","size":20,"platform":{"architecture":"arm","os":"linux","variant":"v7"}}]}`,
    )
  })

  it('parses back what it writes', () => {
    const index = parseIndexDocument(buildIndexJson([{ mediaType: MediaTypes.ociManifest, digest: D1, size: 5, annotations: { a: 'b' } }]), 'index.json')
    expect(index.manifests).toEqual([{ mediaType: MediaTypes.ociManifest, digest: D1, size: 5, annotations: { a: 'b' } }])
  })

  it('refuses malformed indexes and descriptors', () => {
    expect(reasonOf(() => parseIndexDocument(Buffer.from('{'), 'index.json'))).toBe('Malformed')
    expect(reasonOf(() => parseIndexDocument(Buffer.from('{"manifests":{}}'), 'index.json'))).toBe('Malformed')
    expect(reasonOf(() => parseIndexDocument(Buffer.from('{"manifests":[{"mediaType":"x","digest":"sha256:zz","size":1}]}'), 'index.json'))).toBe('Malformed')
    expect(reasonOf(() => parseIndexDocument(Buffer.from(`{"manifests":[{"mediaType":"x","digest":"${D1}","size":-1}]}`), 'index.json'))).toBe('Malformed')
    expect(reasonOf(() => parseIndexDocument(Buffer.from(`{"manifests":[{"mediaType":"x","digest":"${D1}","size":1,"annotations":{"a":1}}]}`), 'index.json'))).toBe('Malformed')
    expect(reasonOf(() => parseManifestDocument(Buffer.from(`{"config":{"mediaType":"x","digest":"${D1}","size":1}}`), 'manifest'))).toBe('Malformed')
  })

  it('refuses JSON over 4 MiB before parsing it', () => {
    const big = Buffer.alloc(MAX_JSON_BYTES + 1, 0x20)
    expect(reasonOf(() => parseIndexDocument(big, 'index.json'))).toBe('TooLarge')
  })

  it('accepts only layout version 1.0.0', () => {
    expect(() => checkOciLayout(ociLayoutJson())).not.toThrow()
    expect(reasonOf(() => checkOciLayout(Buffer.from('{"imageLayoutVersion":"2.0.0"}')))).toBe('UnsupportedVersion')
    expect(reasonOf(() => checkOciLayout(Buffer.from('{}')))).toBe('Malformed')
  })
})

describe("Docker's manifest.json", () => {
  it('writes Config, RepoTags, Layers in docker save order', () => {
    expect(buildDockerManifestJson([{ Config: 'blobs/sha256/1', RepoTags: ['busybox:latest'], Layers: ['blobs/sha256/2'] }]).toString()).toBe(
      '[{"Config":"blobs/sha256/1","RepoTags":["busybox:latest"],"Layers":["blobs/sha256/2"]}]',
    )
  })

  it('reads null RepoTags as none and refuses malformed entries', () => {
    expect(parseDockerManifestJson(Buffer.from('[{"Config":"a.json","RepoTags":null,"Layers":["b/layer.tar"]}]'))).toEqual([{ Config: 'a.json', RepoTags: [], Layers: ['b/layer.tar'] }])
    expect(reasonOf(() => parseDockerManifestJson(Buffer.from('{}')))).toBe('Malformed')
    expect(reasonOf(() => parseDockerManifestJson(Buffer.from('[{"Layers":[]}]')))).toBe('Malformed')
    expect(reasonOf(() => parseDockerManifestJson(Buffer.from('[{"Config":"a","Layers":[1]}]')))).toBe('Malformed')
  })
})

describe('Docker schema 2 manifests for docker save images', () => {
  it('produces the bytes containerd does (same digest as ctr import)', () => {
    const { bytes, descriptor } = dockerSchema2Manifest({ digest: D1, size: 100 }, [{ mediaType: DOCKER_LAYER_TAR, digest: D2, size: 200 }, { mediaType: MediaTypes.dockerLayerGzip, digest: D3, size: 300 }])
    expect(bytes.toString()).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",' +
        `"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"${D1}","size":100},` +
        `"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar","digest":"${D2}","size":200},` +
        `{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"${D3}","size":300}]}`,
    )
    expect(descriptor).toEqual({ mediaType: MediaTypes.dockerManifest, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.byteLength })
  })

  it('tells compressed layers from plain tars by their first bytes', () => {
    expect(dockerLayerMediaType(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe(MediaTypes.dockerLayerGzip)
    expect(dockerLayerMediaType(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe(MediaTypes.dockerLayerGzip)
    expect(dockerLayerMediaType(Buffer.from('bin/\0\0\0'))).toBe(DOCKER_LAYER_TAR)
    expect(dockerLayerMediaType(Buffer.alloc(0))).toBe(DOCKER_LAYER_TAR)
  })
})
