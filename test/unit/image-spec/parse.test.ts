import { describe, expect, it } from 'vitest'
import { DataLossError } from '../../../src/grpc/errors.js'
import type { ImageConfig } from '../../../src/image-spec/image-config.js'
import { isImageConfig, parseJson } from '../../../src/image-spec/parse.js'

const bytes = (text: string) => new TextEncoder().encode(text)

describe('parseJson', () => {
  it('parses bytes, including a view into a larger buffer', () => {
    const whole = bytes('xx{"schemaVersion":2}yy')
    expect(parseJson<{ schemaVersion: number }>(whole.subarray(2, whole.length - 2), 'manifest sha256:1')).toEqual({ schemaVersion: 2 })
  })

  it('fails with DataLossError naming the document', () => {
    expect(() => parseJson(bytes('{"schemaVersion":'), 'manifest sha256:1')).toThrow(DataLossError)
    expect(() => parseJson(bytes('{'), 'config sha256:2')).toThrow(/^config sha256:2 is not valid JSON/)
  })
})

describe('isImageConfig', () => {
  const config: ImageConfig = { architecture: 'arm64', os: 'linux', rootfs: { type: 'layers', diff_ids: ['sha256:a'] } }

  it('accepts an image config, with or without runtime defaults', () => {
    expect(isImageConfig(config)).toBe(true)
    expect(isImageConfig({ ...config, config: { Cmd: null, Entrypoint: null, Labels: null } })).toBe(true)
    expect(isImageConfig({ ...config, rootfs: { type: 'layers', diff_ids: [] } })).toBe(true)
  })

  it('rejects an artifact config and anything without os, architecture or string diff_ids', () => {
    expect(isImageConfig({})).toBe(false)
    expect(isImageConfig(null)).toBe(false)
    expect(isImageConfig([config])).toBe(false)
    expect(isImageConfig({ ...config, os: 1 })).toBe(false)
    expect(isImageConfig({ os: 'linux', rootfs: config.rootfs })).toBe(false)
    expect(isImageConfig({ ...config, rootfs: undefined })).toBe(false)
    expect(isImageConfig({ ...config, rootfs: { type: 'layers' } })).toBe(false)
    expect(isImageConfig({ ...config, rootfs: { type: 'layers', diff_ids: ['sha256:a', 2] } })).toBe(false)
  })
})
