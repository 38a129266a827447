import { describe, it, expect } from 'vitest'
import {
  DEFAULT_DOMAIN,
  DEFAULT_TAG,
  MAX_PATH_LENGTH,
  apiHost,
  familiarName,
  familiarString,
  formatReference,
  parseReference,
  registryHost,
  repositoryOf,
  withDigest,
  withTag,
  type ImageReference,
} from '../../../src/image-spec/reference.js'
import { ContainerdError, InvalidArgumentError } from '../../../src/grpc/errors.js'

// Most vectors come from github.com/distribution/reference (reference_test.go, normalize_test.go,
// regexp_test.go), translated to this module's normalised output.

const F64 = 'f'.repeat(64)
const SHA_F = `sha256:${F64}`
const BUSYBOX_DIGEST = 'sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582'
const REDIS_DIGEST = 'sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c'
const SHA512_F = `sha512:${'f'.repeat(128)}`
const SHA384_A = `sha384:${'a'.repeat(96)}`

/** Runs `fn` and returns what it threw, failing the test when it returns normally. */
function thrown(fn: () => unknown): InvalidArgumentError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError)
    expect(err).toBeInstanceOf(ContainerdError)
    return err as InvalidArgumentError
  }
  throw new Error('expected an InvalidArgumentError')
}

describe('parseReference: valid references', () => {
  // [input, expected domain, path, tag, digest]; `string` is checked against the parts in the test body.
  const cases: [string, string, string, string | undefined, string | undefined][] = [
    // distribution/reference TestReferenceParse, normalised
    ['test_com', 'docker.io', 'library/test_com', 'latest', undefined],
    ['test.com:tag', 'docker.io', 'library/test.com', 'tag', undefined],
    ['test.com:5000', 'docker.io', 'library/test.com', '5000', undefined],
    ['test.com/repo:tag', 'test.com', 'repo', 'tag', undefined],
    ['test:5000/repo', 'test:5000', 'repo', 'latest', undefined],
    ['test:5000/repo:tag', 'test:5000', 'repo', 'tag', undefined],
    [`test:5000/repo@${SHA_F}`, 'test:5000', 'repo', undefined, SHA_F],
    [`test:5000/repo:tag@${SHA_F}`, 'test:5000', 'repo', 'tag', SHA_F],
    ['lowercase:Uppercase', 'docker.io', 'library/lowercase', 'Uppercase', undefined],
    [`${'a/'.repeat(127)}a:tag-puts-this-over-max`, 'docker.io', `${'a/'.repeat(127)}a`, 'tag-puts-this-over-max', undefined],
    ['sub-dom1.foo.com/bar/baz/quux', 'sub-dom1.foo.com', 'bar/baz/quux', 'latest', undefined],
    ['sub-dom1.foo.com/bar/baz/quux:some-long-tag', 'sub-dom1.foo.com', 'bar/baz/quux', 'some-long-tag', undefined],
    ['b.gcr.io/test.example.com/my-app:test.example.com', 'b.gcr.io', 'test.example.com/my-app', 'test.example.com', undefined],
    ['xn--n3h.com/myimage:xn--n3h.com', 'xn--n3h.com', 'myimage', 'xn--n3h.com', undefined],
    [`xn--7o8h.com/myimage:xn--7o8h.com@${SHA_F}`, 'xn--7o8h.com', 'myimage', 'xn--7o8h.com', SHA_F],
    ['foo_bar.com:8080', 'docker.io', 'library/foo_bar.com', '8080', undefined],
    ['foo/foo_bar.com:8080', 'docker.io', 'foo/foo_bar.com', '8080', undefined],
    ['192.168.1.1', 'docker.io', 'library/192.168.1.1', 'latest', undefined],
    ['192.168.1.1:tag', 'docker.io', 'library/192.168.1.1', 'tag', undefined],
    ['192.168.1.1:5000', 'docker.io', 'library/192.168.1.1', '5000', undefined],
    ['192.168.1.1/repo', '192.168.1.1', 'repo', 'latest', undefined],
    ['192.168.1.1:5000/repo', '192.168.1.1:5000', 'repo', 'latest', undefined],
    ['192.168.1.1:5000/repo:5050', '192.168.1.1:5000', 'repo', '5050', undefined],
    ['[2001:db8::1]/repo', '[2001:db8::1]', 'repo', 'latest', undefined],
    ['[2001:db8:1:2:3:4:5:6]/repo:tag', '[2001:db8:1:2:3:4:5:6]', 'repo', 'tag', undefined],
    ['[2001:db8::1]:5000/repo', '[2001:db8::1]:5000', 'repo', 'latest', undefined],
    ['[2001:db8::1]:5000/repo:tag', '[2001:db8::1]:5000', 'repo', 'tag', undefined],
    [`[2001:db8::1]:5000/repo@${SHA_F}`, '[2001:db8::1]:5000', 'repo', undefined, SHA_F],
    [`[2001:db8::1]:5000/repo:tag@${SHA_F}`, '[2001:db8::1]:5000', 'repo', 'tag', SHA_F],
    ['[2001:db8::]:5000/repo', '[2001:db8::]:5000', 'repo', 'latest', undefined],
    ['[::1]:5000/repo', '[::1]:5000', 'repo', 'latest', undefined],
    [`example.com/${'a'.repeat(255)}:tag`, 'example.com', 'a'.repeat(255), 'tag', undefined],
    // sha512 is not registered in the Go tests, but containerd verifies it, so it is accepted here.
    [`validname@${SHA512_F}`, 'docker.io', 'library/validname', undefined, SHA512_F],
    [`validname@${SHA384_A}`, 'docker.io', 'library/validname', undefined, SHA384_A],
    // TestParseDockerRef (except that tag and digest are both kept)
    ['busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['busybox:latest', 'docker.io', 'library/busybox', 'latest', undefined],
    [`busybox@${BUSYBOX_DIGEST}`, 'docker.io', 'library/busybox', undefined, BUSYBOX_DIGEST],
    ['library/busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['docker.io/busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['docker.io/library/busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['docker.io/busybox:latest', 'docker.io', 'library/busybox', 'latest', undefined],
    ['library/busybox:latest', 'docker.io', 'library/busybox', 'latest', undefined],
    ['docker.io/library/busybox:latest', 'docker.io', 'library/busybox', 'latest', undefined],
    ['gcr.io/library/busybox', 'gcr.io', 'library/busybox', 'latest', undefined],
    [`gcr.io/library/busybox:latest@${BUSYBOX_DIGEST}`, 'gcr.io', 'library/busybox', 'latest', BUSYBOX_DIGEST],
    // TestParseAnyReference (named forms)
    ['redis', 'docker.io', 'library/redis', 'latest', undefined],
    [`redis@${REDIS_DIGEST}`, 'docker.io', 'library/redis', undefined, REDIS_DIGEST],
    ['dmcgowan/myapp', 'docker.io', 'dmcgowan/myapp', 'latest', undefined],
    [`dmcgowan/myapp@${REDIS_DIGEST}`, 'docker.io', 'dmcgowan/myapp', undefined, REDIS_DIGEST],
    ['docker.io/mcgowan/myapp:latest', 'docker.io', 'mcgowan/myapp', 'latest', undefined],
    [`${'dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9'}`, 'docker.io', 'library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9', 'latest', undefined],
    ['dbcc1', 'docker.io', 'library/dbcc1', 'latest', undefined],
    // TestNormalizedSplitHostname
    ['test.com/foo', 'test.com', 'foo', 'latest', undefined],
    ['test_com/foo', 'docker.io', 'test_com/foo', 'latest', undefined],
    ['docker/migrator', 'docker.io', 'docker/migrator', 'latest', undefined],
    ['test.com:8080/foo', 'test.com:8080', 'foo', 'latest', undefined],
    ['test-com:8080/foo', 'test-com:8080', 'foo', 'latest', undefined],
    ['foo', 'docker.io', 'library/foo', 'latest', undefined],
    ['xn--n3h.com/foo', 'xn--n3h.com', 'foo', 'latest', undefined],
    ['xn--n3h.com:18080/foo', 'xn--n3h.com:18080', 'foo', 'latest', undefined],
    ['docker.io/foo', 'docker.io', 'library/foo', 'latest', undefined],
    ['docker.io/library/foo', 'docker.io', 'library/foo', 'latest', undefined],
    ['docker.io/library/foo/bar', 'docker.io', 'library/foo/bar', 'latest', undefined],
    // regexp_test.go reference and name vectors
    ['registry.com:8080/myapp:tag', 'registry.com:8080', 'myapp', 'tag', undefined],
    [`registry.com:8080/myapp@${BUSYBOX_DIGEST}`, 'registry.com:8080', 'myapp', undefined, BUSYBOX_DIGEST],
    [`registry.com:8080/myapp:tag2@${BUSYBOX_DIGEST}`, 'registry.com:8080', 'myapp', 'tag2', BUSYBOX_DIGEST],
    ['localhost:8080', 'docker.io', 'library/localhost', '8080', undefined],
    [`localhost:8080/name@${BUSYBOX_DIGEST}`, 'localhost:8080', 'name', undefined, BUSYBOX_DIGEST],
    [`localhost@${BUSYBOX_DIGEST}`, 'docker.io', 'library/localhost', undefined, BUSYBOX_DIGEST],
    ['short', 'docker.io', 'library/short', 'latest', undefined],
    ['simple/name', 'docker.io', 'simple/name', 'latest', undefined],
    ['docker/stevvooe/app', 'docker.io', 'docker/stevvooe/app', 'latest', undefined],
    ['aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb', 'docker.io', 'aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb', 'latest', undefined],
    ['a/a/a/a', 'docker.io', 'a/a/a/a', 'latest', undefined],
    ['a', 'docker.io', 'library/a', 'latest', undefined],
    ['a/aa', 'docker.io', 'a/aa', 'latest', undefined],
    ['aa-a/a', 'docker.io', 'aa-a/a', 'latest', undefined],
    ['foo.com', 'docker.io', 'library/foo.com', 'latest', undefined],
    ['foo.com/bar/baz', 'foo.com', 'bar/baz', 'latest', undefined],
    ['localhost:8080/bar', 'localhost:8080', 'bar', 'latest', undefined],
    ['blog.foo.com/bar/baz', 'blog.foo.com', 'bar/baz', 'latest', undefined],
    ['foo_bar', 'docker.io', 'library/foo_bar', 'latest', undefined],
    ['foo_bar.com', 'docker.io', 'library/foo_bar.com', 'latest', undefined],
    ['foo.com/foo_bar', 'foo.com', 'foo_bar', 'latest', undefined],
    ['example.com/xn--7o8h.com/myimage', 'example.com', 'xn--7o8h.com/myimage', 'latest', undefined],
    ['example.com/some_separator__underscore/myimage', 'example.com', 'some_separator__underscore/myimage', 'latest', undefined],
    ['do__cker/docker', 'docker.io', 'do__cker/docker', 'latest', undefined],
    ['registry.io/foo/project--id.module--name.ver---sion--name', 'registry.io', 'foo/project--id.module--name.ver---sion--name', 'latest', undefined],
    ['Asdf.com/foo/bar', 'Asdf.com', 'foo/bar', 'latest', undefined],
    // normalize_test.go TestValidateReferenceName / TestValidateRemoteName
    ['docker/docker', 'docker.io', 'docker/docker', 'latest', undefined],
    ['library/debian', 'docker.io', 'library/debian', 'latest', undefined],
    ['debian', 'docker.io', 'library/debian', 'latest', undefined],
    ['localhost/library/debian', 'localhost', 'library/debian', 'latest', undefined],
    ['localhost/debian', 'localhost', 'debian', 'latest', undefined],
    ['LOCALDOMAIN/library/debian', 'LOCALDOMAIN', 'library/debian', 'latest', undefined],
    ['LOCALDOMAIN/debian', 'LOCALDOMAIN', 'debian', 'latest', undefined],
    ['docker.io/docker/docker', 'docker.io', 'docker/docker', 'latest', undefined],
    ['docker.io/library/debian', 'docker.io', 'library/debian', 'latest', undefined],
    ['docker.io/debian', 'docker.io', 'library/debian', 'latest', undefined],
    ['index.docker.io/docker/docker', 'docker.io', 'docker/docker', 'latest', undefined],
    ['index.docker.io/library/debian', 'docker.io', 'library/debian', 'latest', undefined],
    ['index.docker.io/debian', 'docker.io', 'library/debian', 'latest', undefined],
    ['127.0.0.1:5000/docker/docker', '127.0.0.1:5000', 'docker/docker', 'latest', undefined],
    ['127.0.0.1:5000/library/debian', '127.0.0.1:5000', 'library/debian', 'latest', undefined],
    ['127.0.0.1:5000/debian', '127.0.0.1:5000', 'debian', 'latest', undefined],
    ['192.168.0.1', 'docker.io', 'library/192.168.0.1', 'latest', undefined],
    ['192.168.0.1:80', 'docker.io', 'library/192.168.0.1', '80', undefined],
    ['192.168.0.1:8/debian', '192.168.0.1:8', 'debian', 'latest', undefined],
    ['192.168.0.2:25000/debian', '192.168.0.2:25000', 'debian', 'latest', undefined],
    ['thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev', 'docker.io', 'library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev', 'latest', undefined],
    ['[fc00::1]:5000/docker', '[fc00::1]:5000', 'docker', 'latest', undefined],
    ['[fc00::1]:5000/docker/docker', '[fc00::1]:5000', 'docker/docker', 'latest', undefined],
    ['[fc00:1:2:3:4:5:6:7]:5000/library/debian', '[fc00:1:2:3:4:5:6:7]:5000', 'library/debian', 'latest', undefined],
    [`docker.io/${'1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a'}`, 'docker.io', 'library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a', 'latest', undefined],
    ['Docker/docker', 'Docker', 'docker', 'latest', undefined],
    ['DOCKER/docker', 'DOCKER', 'docker', 'latest', undefined],
    ['docker-rules/docker', 'docker.io', 'docker-rules/docker', 'latest', undefined],
    ['docker---rules/docker', 'docker.io', 'docker---rules/docker', 'latest', undefined],
    ['doc/docker', 'docker.io', 'doc/docker', 'latest', undefined],
    ['d/docker', 'docker.io', 'd/docker', 'latest', undefined],
    ['jess/t', 'docker.io', 'jess/t', 'latest', undefined],
    ['dock__er/docker', 'docker.io', 'dock__er/docker', 'latest', undefined],
    // regexp_test.go identifier vectors that are not a bare 64-hex ID are ordinary names
    ['da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf', 'docker.io', 'library/da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf', 'latest', undefined],
    ['da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf98218482', 'docker.io', 'library/da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf98218482', 'latest', undefined],
    // The brief's examples and other everyday forms
    ['nginx', 'docker.io', 'library/nginx', 'latest', undefined],
    ['user/app', 'docker.io', 'user/app', 'latest', undefined],
    ['localhost:5000/a/b:tag', 'localhost:5000', 'a/b', 'tag', undefined],
    [`host:5000/a/b:tag@${BUSYBOX_DIGEST}`, 'host:5000', 'a/b', 'tag', BUSYBOX_DIGEST],
    ['localhost/app', 'localhost', 'app', 'latest', undefined],
    ['localhost', 'docker.io', 'library/localhost', 'latest', undefined],
    ['ghcr.io/owner/repo/sub:v1.2.3', 'ghcr.io', 'owner/repo/sub', 'v1.2.3', undefined],
    ['quay.io/coreos/etcd:v3.5.0_rc-1', 'quay.io', 'coreos/etcd', 'v3.5.0_rc-1', undefined],
    ['registry.k8s.io/pause:3.9', 'registry.k8s.io', 'pause', '3.9', undefined],
    ['example.com/app:3f2a9c1d0e8b7a6f5e4d3c2b1a0f9e8d7c6b5a49', 'example.com', 'app', '3f2a9c1d0e8b7a6f5e4d3c2b1a0f9e8d7c6b5a49', undefined],
    [`app:${'0123456789abcdef'.repeat(4)}`, 'docker.io', 'library/app', '0123456789abcdef'.repeat(4), undefined],
    ['example.com/app:_private', 'example.com', 'app', '_private', undefined],
    [`example.com/app:${'t'.repeat(128)}`, 'example.com', 'app', 't'.repeat(128), undefined],
    ['sha256', 'docker.io', 'library/sha256', 'latest', undefined],
    ['sha256:v1', 'docker.io', 'library/sha256', 'v1', undefined],
    ['192.168.1.1:75050/x', '192.168.1.1:75050', 'x', 'latest', undefined],
  ]

  it.each(cases)('%s', (input, domain, path, tag, digest) => {
    const ref = parseReference(input)
    const expected: Record<string, string> = { domain, path, name: `${domain}/${path}` }
    if (tag !== undefined) expected['tag'] = tag
    if (digest !== undefined) expected['digest'] = digest
    expected['string'] = `${domain}/${path}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`
    expect(ref).toStrictEqual(expected)
    // Optional fields are absent rather than present-but-undefined (exactOptionalPropertyTypes).
    expect('tag' in ref).toBe(tag !== undefined)
    expect('digest' in ref).toBe(digest !== undefined)
  })

  it.each(cases.map(([input]) => input))('round-trips %s through string and familiar forms', (input) => {
    const ref = parseReference(input)
    expect(parseReference(ref.string)).toStrictEqual(ref)
    expect(parseReference(familiarString(ref))).toStrictEqual(ref)
    expect(formatReference(ref)).toBe(ref.string)
    expect(parseReference(formatReference(ref))).toStrictEqual(ref)
  })
})

describe('parseReference: invalid references', () => {
  // [input, fragment of the reason]
  const cases: [string, string][] = [
    // distribution/reference TestReferenceParse
    ['', 'must not be empty'],
    [':justtag', 'missing repository name'],
    [`@${SHA_F}`, 'missing repository name'],
    [`repo@sha256:${'f'.repeat(34)}`, 'must have 64 lower-case hex digits'],
    [`validname@invaliddigest:${F64}`, 'digest algorithm "invaliddigest" is not supported'],
    ['Uppercase:tag', 'must be lowercase'],
    ['test:5000/Uppercase/lowercase:tag', 'must be lowercase'],
    [`domain/${'a'.repeat(256)}:tag`, 'must not be more than 255 characters'],
    ['aa/asdf$$^/aa', 'path component "asdf$$^" is invalid'],
    ['[2001:db8::1]', 'is invalid'],
    ['[2001:db8::1]:5000', 'is invalid'],
    ['[2001:db8::1]:tag', 'is invalid'],
    ['[fe80::1%eth0]:5000/repo', 'registry host "[fe80::1%eth0]:5000" is not a valid host'],
    ['[fe80::1%@invalidzone]:5000/repo', 'path component "[fe80" is invalid'],
    // normalize_test.go TestValidateReferenceName / TestValidateRemoteName
    ['https://github.com/docker/docker', 'registry host "https:"'],
    ['docker/Docker', 'must be lowercase'],
    ['-docker', 'path component "-docker" is invalid'],
    ['-docker/docker', 'path component "-docker" is invalid'],
    ['-docker.io/docker/docker', 'registry host "-docker.io"'],
    ['docker///docker', 'empty path component'],
    ['docker.io/docker/Docker', 'must be lowercase'],
    ['docker.io/docker///docker', 'empty path component'],
    ['[fc00::1]', 'is invalid'],
    ['[fc00::1]:5000', 'is invalid'],
    ['fc00::1:5000/debian', 'registry host "fc00::1:5000"'],
    ['[fe80::1%eth0]:5000/debian', 'registry host'],
    ['[2001:db8:3:4::192.0.2.33]:5000/debian', 'registry host'],
    ['1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a', 'cannot specify 64-byte hexadecimal strings'],
    ['docker-/docker', 'path component "docker-" is invalid'],
    ['-docker-/docker', 'path component "-docker-" is invalid'],
    ['____/____', 'path component "____" is invalid'],
    ['_docker/_docker', 'path component "_docker" is invalid'],
    ['dock..er/docker', 'registry host "dock..er"'],
    ['dock_.er/docker', 'registry host "dock_.er"'],
    ['dock-.er/docker', 'registry host "dock-.er"'],
    ['docker/', 'empty path component'],
    [`${Array(4).fill('this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255').join('_')}/docker`, 'must not be more than 255 characters'],
    ['-foo', 'path component "-foo" is invalid'],
    // regexp_test.go name and reference vectors
    ['a/a/a/a/', 'empty path component'],
    ['a//a/a', 'empty path component'],
    ['foo.com/', 'empty path component'],
    ['foo.com:http/bar', 'registry host "foo.com:http"'],
    ['a^a', 'path component "a^a" is invalid'],
    ['asdf$$^/aa', 'path component "asdf$$^" is invalid'],
    ['a-/a/a/a', 'path component "a-" is invalid'],
    ['foo.com/a-/a/a', 'path component "a-" is invalid'],
    ['-foo/bar', 'path component "-foo" is invalid'],
    ['foo/bar-', 'path component "bar-" is invalid'],
    ['foo-/bar', 'path component "foo-" is invalid'],
    ['foo/-bar', 'path component "-bar" is invalid'],
    ['_foo/bar', 'path component "_foo" is invalid'],
    ['foo_bar.com:8080/app', 'registry host "foo_bar.com:8080"'],
    ['docker_/docker_', 'path component "docker_" is invalid'],
    ['example.com/__underscore/myimage', 'path component "__underscore" is invalid'],
    ['example.com/..dots/myimage', 'path component "..dots" is invalid'],
    ['example.com/.dots/myimage', 'path component ".dots" is invalid'],
    ['example.com/nodouble..dots/myimage', 'path component "nodouble..dots" is invalid'],
    ['docker./docker', 'registry host "docker."'],
    ['.docker/docker', 'registry host ".docker"'],
    ['do..cker/docker', 'registry host "do..cker"'],
    ['do__cker:8080/docker', 'registry host "do__cker:8080"'],
    ['Foo/FarB', 'must be lowercase'],
    [`${'a/'.repeat(128)}a`, 'must not be more than 255 characters'],
    ['registry.com:8080/myapp@sha256:badbadbadbad', 'malformed'],
    ['registry.com:8080/myapp:invalid~tag', 'tag "invalid~tag" is invalid'],
    ['bad_hostname.com:8080/myapp:tag', 'registry host "bad_hostname.com:8080"'],
    [`localhost:http/name@${BUSYBOX_DIGEST}`, 'registry host "localhost:http"'],
    ['registry.com:8080/myapp@bad', 'malformed'],
    ['registry.com:8080/myapp@2bad', 'malformed'],
    ['7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C', 'must be lowercase'],
    // Digests: only sha256/sha384/sha512 in lower-case hex of the right length
    [`foo@sha256:${'F'.repeat(64)}`, 'lower-case hex'],
    [`foo@sha256:${'f'.repeat(63)}`, 'must have 64'],
    [`foo@sha256:${'f'.repeat(65)}`, 'must have 64'],
    [`foo@sha512:${F64}`, 'must have 128'],
    [`foo@md5:${'f'.repeat(32)}`, 'digest algorithm "md5" is not supported'],
    [`foo@SHA256:${F64}`, 'digest algorithm "SHA256" is not supported'],
    [`foo@${SHA_F}@${SHA_F}`, 'malformed'],
    ['foo@', 'malformed'],
    [`foo:tag@`, 'malformed'],
    // Bare digests and whitespace
    [SHA_F, 'is a digest, not an image name'],
    [`sha256:${'F'.repeat(64)}`, 'is a digest, not an image name'],
    [SHA512_F, 'is a digest, not an image name'],
    [' nginx', 'must not contain whitespace'],
    ['nginx ', 'must not contain whitespace'],
    ['ngi nx', 'must not contain whitespace'],
    ['nginx\n', 'must not contain whitespace'],
    ['nginx:\tlatest', 'must not contain whitespace'],
    // Tags
    ['nginx:', 'tag must not be empty'],
    ['nginx:-x', 'tag "-x" is invalid'],
    ['nginx:.x', 'tag ".x" is invalid'],
    ['nginx:a:b', 'tag "a:b" is invalid'],
    [`nginx:${'t'.repeat(129)}`, 'is longer than 128 characters'],
    ['example.com/app:tag/x', 'path component "app:tag" is invalid'],
    // Other malformed forms
    ['/nginx', 'repository name "/nginx" has an empty path component'],
    ['example.com//nginx', 'empty path component'],
    ['ngïnx', 'path component "ngïnx" is invalid'],
    ['a_b.com/foo', 'registry host "a_b.com"'],
  ]

  it.each(cases)('%j', (input, reason) => {
    const err = thrown(() => parseReference(input))
    expect(err.code).toBe('InvalidArgument')
    expect(err.message.startsWith(`invalid image reference ${JSON.stringify(input)}: `)).toBe(true)
    expect(err.message).toContain(reason)
  })

  it('gives whole messages that name the reference and the reason', () => {
    expect(() => parseReference('')).toThrow('invalid image reference "": must not be empty')
    expect(() => parseReference('docker/Docker')).toThrow(
      'invalid image reference "docker/Docker": repository name "docker/Docker" must be lowercase',
    )
    expect(() => parseReference('1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a')).toThrow(
      'invalid image reference "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a": cannot specify 64-byte hexadecimal strings; a bare image ID is not a repository name',
    )
    expect(() => parseReference(SHA_F)).toThrow(
      `invalid image reference "${SHA_F}": is a digest, not an image name; write <name>@<digest>`,
    )
    expect(() => parseReference('foo:bar baz')).toThrow('invalid image reference "foo:bar baz": must not contain whitespace')
    expect(() => parseReference(`x/${'a'.repeat(300)}`)).toThrow(
      `invalid image reference "x/${'a'.repeat(300)}": repository name must not be more than 255 characters (302)`,
    )
    expect(() => parseReference('nginx:-x')).toThrow(
      'invalid image reference "nginx:-x": tag "-x" is invalid: use letters, digits, "_", "." and "-", not starting with "." or "-"',
    )
    expect(() => parseReference('nginx@md5:0123456789abcdef0123456789abcdef')).toThrow(
      'invalid image reference "nginx@md5:0123456789abcdef0123456789abcdef": digest algorithm "md5" is not supported (use sha256, sha384 or sha512)',
    )
    expect(() => parseReference('foo.com:http/bar')).toThrow(
      'invalid image reference "foo.com:http/bar": registry host "foo.com:http" is not a valid host name, IPv4 address or [IPv6] address with optional :port',
    )
    expect(() => parseReference('a/B_c')).toThrow('invalid image reference "a/B_c": repository name "a/B_c" must be lowercase')
    expect(() => parseReference('a/-b')).toThrow(
      'invalid image reference "a/-b": path component "-b" is invalid: use lower-case letters and digits, separated by ".", "_", "__" or "-"',
    )
  })

  it('rejects non-string input from untyped callers', () => {
    for (const value of [undefined, null, 42, {}]) {
      const err = thrown(() => parseReference(value as unknown as string))
      expect(err.message).toMatch(/^image reference must be a string, got (undefined|null|number|object)$/)
    }
  })

  it('accepts a path of exactly the maximum length and rejects one more', () => {
    const path = `${'a'.repeat(MAX_PATH_LENGTH - 2)}/b`
    expect(parseReference(`example.com/${path}`).path).toBe(path)
    expect(() => parseReference(`example.com/a${path}`)).toThrow('must not be more than 255 characters')
    // Docker Hub official images count their library/ prefix.
    expect(parseReference('a'.repeat(MAX_PATH_LENGTH - 'library/'.length)).path).toHaveLength(MAX_PATH_LENGTH)
    expect(() => parseReference('a'.repeat(MAX_PATH_LENGTH - 'library/'.length + 1))).toThrow('255')
  })
})

describe('parseReference: defaults and options', () => {
  it('adds latest only when there is neither tag nor digest', () => {
    expect(parseReference('nginx').tag).toBe(DEFAULT_TAG)
    expect(parseReference('nginx:1.25').tag).toBe('1.25')
    expect(parseReference(`nginx@${BUSYBOX_DIGEST}`).tag).toBeUndefined()
    expect(parseReference(`nginx@${BUSYBOX_DIGEST}`).string).toBe(`docker.io/library/nginx@${BUSYBOX_DIGEST}`)
  })

  it('uses options.defaultTag', () => {
    expect(parseReference('nginx', { defaultTag: 'stable' }).string).toBe('docker.io/library/nginx:stable')
    expect(parseReference('nginx:1', { defaultTag: 'stable' }).tag).toBe('1')
    expect(parseReference(`nginx@${BUSYBOX_DIGEST}`, { defaultTag: 'stable' }).tag).toBeUndefined()
  })

  it('rejects a malformed defaultTag even when it would not be used', () => {
    expect(() => parseReference('nginx', { defaultTag: '' })).toThrow('invalid defaultTag "": tag must not be empty')
    expect(() => parseReference('nginx:1', { defaultTag: '-x' })).toThrow('invalid defaultTag "-x"')
    expect(thrown(() => parseReference('nginx', { defaultTag: 'a b' })).code).toBe('InvalidArgument')
  })

  it('returns frozen objects', () => {
    const ref = parseReference('nginx')
    expect(Object.isFrozen(ref)).toBe(true)
    expect(() => {
      ;(ref as { tag?: string }).tag = 'x'
    }).toThrow(TypeError)
  })

  it('keeps upper case in the registry host as written', () => {
    expect(parseReference('Asdf.com/foo').domain).toBe('Asdf.com')
    expect(parseReference('LOCALDOMAIN/fooo').string).toBe('LOCALDOMAIN/fooo:latest')
  })

  it('exports the Docker Hub domain', () => {
    expect(DEFAULT_DOMAIN).toBe('docker.io')
  })
})

describe('familiarName and familiarString', () => {
  // distribution/reference TestParseRepositoryInfo: [path, familiar name, full name, ambiguous name, domain]
  const repositoryInfo: [string, string, string, string, string][] = [
    ['fooo', 'localhost/fooo', 'localhost/fooo', 'localhost/fooo', 'localhost'],
    ['fooo/bar', 'localhost/fooo/bar', 'localhost/fooo/bar', 'localhost/fooo/bar', 'localhost'],
    ['fooo', 'LOCALDOMAIN/fooo', 'LOCALDOMAIN/fooo', 'LOCALDOMAIN/fooo', 'LOCALDOMAIN'],
    ['fooo/bar', 'LOCALDOMAIN/fooo/bar', 'LOCALDOMAIN/fooo/bar', 'LOCALDOMAIN/fooo/bar', 'LOCALDOMAIN'],
    ['fooo/bar', 'fooo/bar', 'docker.io/fooo/bar', 'index.docker.io/fooo/bar', 'docker.io'],
    ['library/ubuntu', 'ubuntu', 'docker.io/library/ubuntu', 'library/ubuntu', 'docker.io'],
    ['nonlibrary/ubuntu', 'nonlibrary/ubuntu', 'docker.io/nonlibrary/ubuntu', '', 'docker.io'],
    ['other/library', 'other/library', 'docker.io/other/library', '', 'docker.io'],
    ['private/moonbase', '127.0.0.1:8000/private/moonbase', '127.0.0.1:8000/private/moonbase', '', '127.0.0.1:8000'],
    ['privatebase', '127.0.0.1:8000/privatebase', '127.0.0.1:8000/privatebase', '', '127.0.0.1:8000'],
    ['private/moonbase', 'example.com/private/moonbase', 'example.com/private/moonbase', '', 'example.com'],
    ['privatebase', 'example.com/privatebase', 'example.com/privatebase', '', 'example.com'],
    ['private/moonbase', 'example.com:8000/private/moonbase', 'example.com:8000/private/moonbase', '', 'example.com:8000'],
    ['privatebasee', 'example.com:8000/privatebasee', 'example.com:8000/privatebasee', '', 'example.com:8000'],
    ['library/ubuntu-12.04-base', 'ubuntu-12.04-base', 'docker.io/library/ubuntu-12.04-base', 'index.docker.io/library/ubuntu-12.04-base', 'docker.io'],
    ['library/foo', 'foo', 'docker.io/library/foo', 'docker.io/foo', 'docker.io'],
    ['library/foo/bar', 'library/foo/bar', 'docker.io/library/foo/bar', '', 'docker.io'],
    ['store/foo/bar', 'store/foo/bar', 'docker.io/store/foo/bar', '', 'docker.io'],
    ['bar', 'Foo/bar', 'Foo/bar', '', 'Foo'],
    ['bar', 'FOO/bar', 'FOO/bar', '', 'FOO'],
  ]
  const rows = repositoryInfo.flatMap(([path, familiar, full, ambiguous, domain]) =>
    [familiar, full, ...(ambiguous === '' ? [] : [ambiguous])].map((input) => [input, path, familiar, full, domain] as const),
  )

  it.each(rows)('%s', (input, path, familiar, full, domain) => {
    const ref = parseReference(input)
    expect(familiarName(ref)).toBe(familiar)
    expect(ref.name).toBe(full)
    expect(ref.domain).toBe(domain)
    expect(ref.path).toBe(path)
    expect(familiarString(ref)).toBe(`${familiar}:latest`)
  })

  it.each([
    ['docker.io/library/nginx', 'nginx', 'nginx:latest'],
    ['docker.io/user/app:v1', 'user/app', 'user/app:v1'],
    [`busybox:latest@${'sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa'}`, 'busybox', 'busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa'],
    [`redis@${REDIS_DIGEST}`, 'redis', `redis@${REDIS_DIGEST}`],
    ['ghcr.io/owner/app:1', 'ghcr.io/owner/app', 'ghcr.io/owner/app:1'],
    ['localhost:5000/a/b:tag', 'localhost:5000/a/b', 'localhost:5000/a/b:tag'],
    // A first component that would read back as a registry keeps docker.io (the Go package drops it).
    ['docker.io/foo.com/bar', 'docker.io/foo.com/bar', 'docker.io/foo.com/bar:latest'],
    ['docker.io/localhost/bar', 'docker.io/localhost/bar', 'docker.io/localhost/bar:latest'],
    ['docker.io/library/foo.com', 'foo.com', 'foo.com:latest'],
    ['docker.io/foo_bar/baz.qux', 'foo_bar/baz.qux', 'foo_bar/baz.qux:latest'],
  ])('%s → %s / %s', (input, name, full) => {
    const ref = parseReference(input)
    expect(familiarName(ref)).toBe(name)
    expect(familiarString(ref)).toBe(full)
    expect(parseReference(full)).toStrictEqual(ref)
  })

  it('works on references built by hand', () => {
    const ref: ImageReference = { domain: 'docker.io', path: 'library/x', name: 'docker.io/library/x', string: 'docker.io/library/x' }
    expect(familiarName(ref)).toBe('x')
    expect(familiarString(ref)).toBe('x')
  })
})

describe('formatReference', () => {
  it.each([
    [{ domain: 'docker.io', path: 'library/nginx' }, 'docker.io/library/nginx'],
    [{ domain: 'docker.io', path: 'library/nginx', tag: 'latest' }, 'docker.io/library/nginx:latest'],
    [{ domain: 'docker.io', path: 'library/nginx', digest: BUSYBOX_DIGEST }, `docker.io/library/nginx@${BUSYBOX_DIGEST}`],
    [{ domain: 'host:5000', path: 'a/b', tag: 't', digest: BUSYBOX_DIGEST }, `host:5000/a/b:t@${BUSYBOX_DIGEST}`],
    [{ domain: 'example.com', path: 'app', tag: undefined, digest: undefined }, 'example.com/app'],
    // Formatting does not normalise.
    [{ domain: 'docker.io', path: 'nginx' }, 'docker.io/nginx'],
    [{ domain: 'index.docker.io', path: 'x/y' }, 'index.docker.io/x/y'],
  ])('%j → %s', (parts, expected) => {
    expect(formatReference(parts)).toBe(expected)
  })

  // regexp_test.go domain vectors: [domain, valid]
  it.each([
    ['test.com', true],
    ['test.com:10304', true],
    ['test.com:http', false],
    ['localhost', true],
    ['localhost:8080', true],
    ['a', true],
    ['a.b', true],
    ['ab.cd.com', true],
    ['a-b.com', true],
    ['-ab.com', false],
    ['ab-.com', false],
    ['ab.c-om', true],
    ['ab.-com', false],
    ['ab.com-', false],
    ['0101.com', true],
    ['001a.com', true],
    ['b.gbc.io:443', true],
    ['b.gbc.io', true],
    ['xn--n3h.com', true],
    ['Asdf.com', true],
    ['192.168.1.1:75050', true],
    ['192.168.1.1:750050', true],
    ['[fd00:1:2::3]:75050', true],
    ['[fd00:1:2::3]75050', false],
    ['[fd00:1:2::3]::75050', false],
    ['[fd00:1:2::3%eth0]:75050', false],
    ['[fd00123123123]:75050', true],
    ['[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050', true],
    ['[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505', true],
    ['fd00:1:2::3:75050', false],
    ['', false],
    ['a.', false],
    ['[]', false],
  ])('domain %j valid=%s', (domain, valid) => {
    if (valid) expect(formatReference({ domain, path: 'foo' })).toBe(`${domain}/foo`)
    else expect(thrown(() => formatReference({ domain, path: 'foo' })).message).toContain('cannot format image reference from')
  })

  it('names the bad part', () => {
    expect(() => formatReference({ domain: '', path: 'x' })).toThrow(
      'cannot format image reference from {"domain":"","path":"x"}: domain must not be empty',
    )
    expect(() => formatReference({ domain: 'a.com', path: 'X' })).toThrow('repository name "X" must be lowercase')
    expect(() => formatReference({ domain: 'a.com', path: 'x//y' })).toThrow('empty path component')
    expect(() => formatReference({ domain: 'a.com', path: 'x', tag: '' })).toThrow('tag must not be empty')
    expect(() => formatReference({ domain: 'a.com', path: 'x', digest: 'sha256:abc' })).toThrow('digest "sha256:abc" is malformed')
    expect(() => formatReference({ domain: 'a.com', path: 'a'.repeat(256) })).toThrow('must not be more than 255 characters')
  })
})

describe('repositoryOf, registryHost and apiHost', () => {
  it.each([
    ['nginx', 'library/nginx', 'docker.io', 'registry-1.docker.io'],
    ['user/app', 'user/app', 'docker.io', 'registry-1.docker.io'],
    ['index.docker.io/user/app', 'user/app', 'docker.io', 'registry-1.docker.io'],
    ['ghcr.io/o/r:1', 'o/r', 'ghcr.io', 'ghcr.io'],
    ['localhost:5000/a/b', 'a/b', 'localhost:5000', 'localhost:5000'],
    ['[::1]:5000/repo', 'repo', '[::1]:5000', '[::1]:5000'],
  ])('%s', (input, repository, host, api) => {
    const ref = parseReference(input)
    expect(repositoryOf(ref)).toBe(repository)
    expect(registryHost(ref)).toBe(host)
    expect(apiHost(registryHost(ref))).toBe(api)
  })

  it('maps only Docker Hub domains', () => {
    expect(apiHost('docker.io')).toBe('registry-1.docker.io')
    expect(apiHost('index.docker.io')).toBe('registry-1.docker.io')
    expect(apiHost('registry-1.docker.io')).toBe('registry-1.docker.io')
    expect(apiHost('docker.io:443')).toBe('docker.io:443')
    expect(apiHost('mirror.gcr.io')).toBe('mirror.gcr.io')
  })
})

describe('withTag and withDigest', () => {
  it.each([
    // distribution/reference TestWithTag, normalised
    ['test.com/foo', 'tag', 'test.com/foo:tag'],
    ['foo', 'tag2', 'docker.io/library/foo:tag2'],
    ['test.com:8000/foo', 'tag4', 'test.com:8000/foo:tag4'],
    ['test.com:8000/foo', 'TAG5', 'test.com:8000/foo:TAG5'],
    [`test.com:8000/foo@${BUSYBOX_DIGEST}`, 'TAG5', `test.com:8000/foo:TAG5@${BUSYBOX_DIGEST}`],
    ['nginx:1', 'latest', 'docker.io/library/nginx:latest'],
  ])('withTag(%s, %s) → %s', (input, tag, expected) => {
    const ref = parseReference(input)
    const tagged = withTag(ref, tag)
    expect(tagged.string).toBe(expected)
    expect(tagged.tag).toBe(tag)
    expect(tagged).toStrictEqual(parseReference(expected))
    expect(Object.isFrozen(tagged)).toBe(true)
    // The original is untouched.
    expect(ref).toStrictEqual(parseReference(input))
  })

  it.each([
    // distribution/reference TestWithDigest, normalised (with full-length digests)
    ['test.com/foo', REDIS_DIGEST, `test.com/foo:latest@${REDIS_DIGEST}`],
    [`foo@${BUSYBOX_DIGEST}`, REDIS_DIGEST, `docker.io/library/foo@${REDIS_DIGEST}`],
    ['test.com:8000/foo:latest', REDIS_DIGEST, `test.com:8000/foo:latest@${REDIS_DIGEST}`],
    ['test.com:8000/foo:v2', SHA512_F, `test.com:8000/foo:v2@${SHA512_F}`],
  ])('withDigest(%s, %s) → %s', (input, digest, expected) => {
    const ref = parseReference(input)
    const pinned = withDigest(ref, digest)
    expect(pinned.string).toBe(expected)
    expect(pinned.digest).toBe(digest)
    expect(pinned).toStrictEqual(parseReference(expected))
    expect(ref).toStrictEqual(parseReference(input))
  })

  it('rejects bad tags and digests (TestInvalidReferenceComponents)', () => {
    const ref = parseReference('busybox')
    expect(thrown(() => withTag(ref, '-foo')).message).toBe(
      'cannot tag image reference "docker.io/library/busybox:latest" with "-foo": tag "-foo" is invalid: use letters, digits, "_", "." and "-", not starting with "." or "-"',
    )
    expect(() => withTag(ref, '')).toThrow('tag must not be empty')
    expect(() => withTag(ref, 't'.repeat(129))).toThrow('longer than 128 characters')
    expect(thrown(() => withDigest(ref, 'foo')).message).toBe(
      'cannot pin image reference "docker.io/library/busybox:latest" to "foo": digest "foo" is malformed: expected <algorithm>:<hex>, e.g. sha256:<64 hex digits>',
    )
    // Upstream accepts any 32+ hex digits; containerd needs the algorithm's full length.
    expect(() => withDigest(ref, 'sha256:1234567890098765432112345667890098765')).toThrow('must have 64 lower-case hex digits')
    expect(() => withDigest(ref, `md5:${'0'.repeat(32)}`)).toThrow('not supported')
  })
})
