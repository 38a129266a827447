import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { parseGroup, parsePasswd, resolveGroups, resolveUser, supplementaryGids } from '../../../src/oci/user-database.js'

const passwd = ['root:x:0:0:root:/root:/bin/sh', 'app:x:1000:1000::/home/app:/bin/sh', 'daemon:x:2:2::/:/usr/sbin/nologin', ''].join('\n')
const group = ['root:x:0:', 'app:x:1000:app', 'extra:x:2000:app', 'wheel:x:10:root,app', 'daemon:x:2:'].join('\n')
const db = { passwd, group }

describe('parsePasswd / parseGroup', () => {
  it('reads the fields', () => {
    expect(parsePasswd(passwd)[1]).toEqual({ name: 'app', uid: 1000, gid: 1000, home: '/home/app', shell: '/bin/sh' })
    expect(parseGroup(group)[3]).toEqual({ name: 'wheel', gid: 10, members: ['root', 'app'] })
    expect(parseGroup(group)[0]).toEqual({ name: 'root', gid: 0, members: [] })
  })

  it('skips comments, blank lines and lines with non-numeric ids (which could pass for uid 0)', () => {
    expect(parsePasswd('# comment\n\nbad:x:abc:0::/:/bin/sh\n  ok:x:5:5::/:/bin/sh  \r\n').map((e) => e.name)).toEqual(['ok'])
  })
})

describe('resolveUser (containerd WithUser + WithAdditionalGIDs)', () => {
  it('resolves a name to its ids and supplementary groups, primary first', () => {
    expect(resolveUser('app', db)).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 2000, 10] })
  })

  it('resolves a uid through /etc/passwd', () => {
    expect(resolveUser('1000', db)).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 2000, 10] })
  })

  it('accepts a uid missing from /etc/passwd with gid 0', () => {
    expect(resolveUser('4242', db)).toEqual({ uid: 4242, gid: 0, additionalGids: [0] })
    expect(resolveUser('4242', {})).toEqual({ uid: 4242, gid: 0, additionalGids: [0] })
  })

  it('resolves name:group and uid:gid, the group replacing the primary one', () => {
    expect(resolveUser('app:extra', db)).toEqual({ uid: 1000, gid: 2000, additionalGids: [2000, 10] })
    expect(resolveUser('app:50', db)).toEqual({ uid: 1000, gid: 50, additionalGids: [50, 2000, 10] })
    expect(resolveUser('1000:1000', {})).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000] })
    expect(resolveUser('0:wheel', db)).toEqual({ uid: 0, gid: 10, additionalGids: [10] })
  })

  it('gives root the groups that list root', () => {
    expect(resolveUser('root', db)).toEqual({ uid: 0, gid: 0, additionalGids: [0, 10] })
    expect(supplementaryGids('root', db)).toEqual([10])
  })

  it('fails on an unknown user, naming it and the fix', () => {
    expect(() => resolveUser('nobody', db)).toThrow(InvalidArgumentError)
    expect(() => resolveUser('nobody', db)).toThrow(/--user: unable to find user "nobody" in \/etc\/passwd; .*numeric uid/)
    expect(() => resolveUser('nobody', { group }, 'image USER')).toThrow(/image USER: cannot resolve user "nobody": no \/etc\/passwd was given/)
  })

  it('fails on an unknown group', () => {
    expect(() => resolveUser('app:nogroup', db)).toThrow(/unable to find group "nogroup"/)
    expect(() => resolveUser('app:nogroup', { passwd })).toThrow(/no \/etc\/group was given/)
  })

  it('rejects malformed values and ids out of runc range', () => {
    expect(() => resolveUser('a:b:c', db)).toThrow(/too many ':'/)
    expect(() => resolveUser('', db)).toThrow(/empty part/)
    expect(() => resolveUser('app:', db)).toThrow(/empty part/)
    expect(() => resolveUser('2147483648', db)).toThrow(/uid out of range/)
    expect(() => resolveUser('0:-1', db)).toThrow(/gid out of range/)
  })
})

describe('resolveGroups (--group-add)', () => {
  it('takes numbers as gids and looks names up', () => {
    expect(resolveGroups(['extra', '4242', 'wheel'], db)).toEqual([2000, 4242, 10])
  })

  it('fails on an unknown name', () => {
    expect(() => resolveGroups(['nope'], db)).toThrow(/--group-add: unable to find group "nope"/)
  })
})
