import { describe, expect, it } from 'vitest'
import { ArchiveError } from '../../../../src/images/archive/archive-error.js'
import {
  ANNOTATION_IMAGE_NAME,
  ANNOTATION_REF_NAME,
  dockerRepoTag,
  dockerTagName,
  exportNameAnnotations,
  importedImageName,
  normalizeNamePrefix,
  ociRefName,
} from '../../../../src/images/archive/image-names.js'
import { InvalidArgumentError } from '../../../../src/grpc/errors.js'

const DIGEST = `sha256:${'a'.repeat(64)}`

describe('export name annotations (containerd exporter rules)', () => {
  it('writes the tag as the OCI ref name and the full name for containerd', () => {
    expect(exportNameAnnotations('docker.io/library/busybox:latest')).toEqual({
      [ANNOTATION_IMAGE_NAME]: 'docker.io/library/busybox:latest',
      [ANNOTATION_REF_NAME]: 'latest',
    })
  })

  it('writes tag@digest for a name with both, and the full name for a digest-only name', () => {
    expect(ociRefName(`example.com/app:v1@${DIGEST}`)).toBe(`v1@${DIGEST}`)
    expect(ociRefName(`example.com/app@${DIGEST}`)).toBe(`example.com/app@${DIGEST}`)
  })

  it('gives docker load familiar RepoTags, and none for digest-only names', () => {
    expect(dockerRepoTag('docker.io/library/busybox:latest')).toBe('busybox:latest')
    expect(dockerRepoTag('docker.io/user/app:v1')).toBe('user/app:v1')
    expect(dockerRepoTag('localhost:5000/app:v1')).toBe('localhost:5000/app:v1')
    expect(dockerRepoTag(`example.com/app:v1@${DIGEST}`)).toBe('example.com/app:v1')
    expect(dockerRepoTag(`example.com/app@${DIGEST}`)).toBeUndefined()
  })
})

describe('import names (containerd importer rules)', () => {
  it('prefers io.containerd.image.name, normalized', () => {
    const annotations = { [ANNOTATION_IMAGE_NAME]: 'busybox', [ANNOTATION_REF_NAME]: 'other' }
    expect(importedImageName(annotations, DIGEST, undefined)).toBe('docker.io/library/busybox:latest')
  })

  it('takes a full reference from the OCI ref name (as skopeo writes it)', () => {
    expect(importedImageName({ [ANNOTATION_REF_NAME]: 'example.com/app:v2' }, DIGEST, undefined)).toBe('example.com/app:v2')
    expect(importedImageName({ [ANNOTATION_REF_NAME]: 'busybox:1' }, DIGEST, undefined)).toBe('docker.io/library/busybox:1')
  })

  it('needs a prefix for a bare tag, and for an entry without any name', () => {
    expect(importedImageName({ [ANNOTATION_REF_NAME]: 'latest' }, DIGEST, undefined)).toBeUndefined()
    expect(importedImageName(undefined, DIGEST, undefined)).toBeUndefined()
    expect(importedImageName({ [ANNOTATION_REF_NAME]: 'v1.2' }, DIGEST, 'example.com/app')).toBe('example.com/app:v1.2')
    expect(importedImageName({}, DIGEST, 'example.com/app')).toBe(`example.com/app@${DIGEST}`)
  })

  it('keeps a full name over the prefix', () => {
    expect(importedImageName({ [ANNOTATION_IMAGE_NAME]: 'example.com/x:1' }, DIGEST, 'example.com/app')).toBe('example.com/x:1')
  })

  it('refuses invalid names with a typed error', () => {
    const err = (() => {
      try {
        importedImageName({ [ANNOTATION_IMAGE_NAME]: 'Not A Name' }, DIGEST, undefined)
      } catch (e) {
        return e
      }
      return undefined
    })()
    expect(err).toBeInstanceOf(ArchiveError)
    expect((err as ArchiveError).reason).toBe('InvalidName')
    expect(err).toBeInstanceOf(InvalidArgumentError)
  })

  it('normalizes docker save RepoTags', () => {
    expect(dockerTagName('busybox:latest')).toBe('docker.io/library/busybox:latest')
    expect(dockerTagName('localhost:5000/a/b:c')).toBe('localhost:5000/a/b:c')
  })

  it('checks and normalizes a name prefix', () => {
    expect(normalizeNamePrefix('app')).toBe('docker.io/library/app')
    expect(normalizeNamePrefix('localhost:5000/team/app')).toBe('localhost:5000/team/app')
    expect(() => normalizeNamePrefix('app:v1')).toThrow(InvalidArgumentError)
    expect(() => normalizeNamePrefix(`app@${DIGEST}`)).toThrow(InvalidArgumentError)
  })
})
