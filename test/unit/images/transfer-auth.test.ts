import { create } from '@bufbuild/protobuf'
import { AnySchema } from '@bufbuild/protobuf/wkt'
import { describe, expect, it } from 'vitest'
import { AuthRequestSchema, AuthResponseSchema, AuthType } from '../../../src/gen/containerd/types/transfer/registry_pb.js'
import { ProgressSchema } from '../../../src/gen/containerd/types/transfer/progress_pb.js'
import { answerAuth } from '../../../src/images/transfer-pull.js'
import { packAny, unpackAny } from '../../../src/images/transfer-streams.js'

const hosts = new Set(['docker.io', 'registry-1.docker.io'])
const request = (host: string) => create(AnySchema, packAny(AuthRequestSchema, { host, reference: 'docker.io/library/busybox:1', wwwauthenticate: [] }))
const answer = (host: string, creds: Parameters<typeof answerAuth>[1]) => {
  const reply = answerAuth(request(host), creds, hosts)
  if (reply === undefined) throw new Error('no reply')
  const message = unpackAny(create(AnySchema, reply), AuthResponseSchema)
  if (message === undefined) throw new Error('not an AuthResponse')
  return message
}

describe('transfer pull credentials', () => {
  it("answers the registry's own hosts with its credentials", () => {
    expect(answer('registry-1.docker.io', { username: 'u', password: 'p' })).toMatchObject({ authType: AuthType.CREDENTIALS, username: 'u', secret: 'p' })
    expect(answer('docker.io', { identityToken: 'tok' })).toMatchObject({ authType: AuthType.REFRESH, secret: 'tok' })
  })

  it('gives another host (a mirror) nothing, and nothing when there are no credentials', () => {
    const mirror = answer('mirror.example.com', { username: 'u', password: 'p' })
    expect(mirror.authType).toBe(AuthType.NONE)
    expect(mirror.secret).toBe('')
    expect(answer('docker.io', undefined).authType).toBe(AuthType.NONE)
  })

  it('leaves other messages unanswered', () => {
    expect(answerAuth(create(AnySchema, packAny(ProgressSchema, { event: 'waiting' })), { username: 'u', password: 'p' }, hosts)).toBeUndefined()
  })
})
