import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import {
  formatRestartPolicy,
  parseRestartPolicy,
  readRestartState,
  restartLabels,
  RESTART_LABELS,
} from '../../../src/containers/restart-policy.js'
import { renderContainerdConfig } from '../../../src/testing/containerd-config.js'

describe('parseRestartPolicy', () => {
  it.each([
    ['no', { name: 'no', maxRetries: 0 }],
    ['always', { name: 'always', maxRetries: 0 }],
    ['unless-stopped', { name: 'unless-stopped', maxRetries: 0 }],
    ['on-failure', { name: 'on-failure', maxRetries: 0 }],
    ['on-failure:0', { name: 'on-failure', maxRetries: 0 }],
    ['on-failure:1', { name: 'on-failure', maxRetries: 1 }],
    ['on-failure:2147483647', { name: 'on-failure', maxRetries: 2147483647 }],
  ])('%s', (text, expected) => {
    expect(parseRestartPolicy(text)).toEqual(expected)
  })

  it.each([
    ['', /not one of/],
    ['Always', /not one of/],
    ['never', /not one of/],
    [' always', /not one of/],
    ['always:3', /only on-failure takes a maximum retry count/],
    ['unless-stopped:1', /only on-failure/],
    ['no:0', /only on-failure/],
    ['on-failure:', /whole number/],
    ['on-failure:-1', /whole number/],
    ['on-failure:+1', /whole number/],
    ['on-failure:1.5', /whole number/],
    ['on-failure:x', /whole number/],
    ['on-failure:1:2', /whole number/],
    ['on-failure:2147483648', /whole number/],
  ])('rejects %j', (text, message) => {
    expect(() => parseRestartPolicy(text)).toThrow(InvalidArgumentError)
    expect(() => parseRestartPolicy(text)).toThrow(message)
  })
})

describe('formatRestartPolicy', () => {
  it('writes the count only when there is a limit, as containerd does', () => {
    expect(formatRestartPolicy({ name: 'on-failure', maxRetries: 3 })).toBe('on-failure:3')
    expect(formatRestartPolicy({ name: 'on-failure', maxRetries: 0 })).toBe('on-failure')
    expect(formatRestartPolicy({ name: 'always', maxRetries: 0 })).toBe('always')
  })

  it('round-trips every policy', () => {
    for (const text of ['no', 'always', 'unless-stopped', 'on-failure', 'on-failure:7'] as const) {
      expect(formatRestartPolicy(parseRestartPolicy(text))).toBe(text)
    }
  })
})

describe('restartLabels', () => {
  it('gives the policy and log URI, never the status (set only after the task started)', () => {
    expect(restartLabels('always')).toEqual({ 'containerd.io/restart.policy': 'always' })
    expect(restartLabels('on-failure:2', { logUri: 'binary:///usr/bin/logger?x=1' })).toEqual({
      'containerd.io/restart.policy': 'on-failure:2',
      'containerd.io/restart.loguri': 'binary:///usr/bin/logger?x=1',
    })
    expect(restartLabels({ name: 'unless-stopped', maxRetries: 0 })).toEqual({ 'containerd.io/restart.policy': 'unless-stopped' })
    expect(Object.keys(restartLabels('always'))).not.toContain(RESTART_LABELS.status)
  })

  it('gives nothing for no, and refuses a bad policy', () => {
    expect(restartLabels('no', { logUri: 'file:///tmp/x' })).toEqual({})
    expect(() => restartLabels('sometimes' as 'always')).toThrow(InvalidArgumentError)
  })
})

describe('readRestartState', () => {
  it('is undefined without restart labels', () => {
    expect(readRestartState({})).toBeUndefined()
    expect(readRestartState({ 'containerd.io/restart.loguri': 'file:///x', other: 'y' })).toBeUndefined()
  })

  it('reads policy, status, count, explicit stop and log URI', () => {
    expect(
      readRestartState({
        'containerd.io/restart.policy': 'on-failure:3',
        'containerd.io/restart.status': 'running',
        'containerd.io/restart.count': '2',
        'containerd.io/restart.explicitly-stopped': 'false',
        'containerd.io/restart.loguri': 'file:///var/log/x',
      }),
    ).toEqual({ policy: { name: 'on-failure', maxRetries: 3 }, status: 'running', count: 2, explicitlyStopped: false, logUri: 'file:///var/log/x' })
  })

  it('treats a status without a policy as always (containerd 1.6 and the Go client write only the status)', () => {
    expect(readRestartState({ 'containerd.io/restart.status': 'stopped', 'containerd.io/restart.explicitly-stopped': 'true' })).toEqual({
      policy: { name: 'always', maxRetries: 0 },
      status: 'stopped',
      count: 0,
      explicitlyStopped: true,
      logUri: undefined,
    })
  })

  it('tolerates odd values written by others', () => {
    expect(readRestartState({ 'containerd.io/restart.policy': 'bogus' })).toBeUndefined()
    expect(readRestartState({ 'containerd.io/restart.policy': 'always', 'containerd.io/restart.status': 'paused', 'containerd.io/restart.count': 'x' })).toMatchObject({
      status: undefined,
      count: 0,
    })
  })
})

describe('renderContainerdConfig restart monitor interval', () => {
  const paths = { root: '/r', state: '/s', address: '/a.sock' }

  it('leaves the config as it was without the option', () => {
    expect(renderContainerdConfig('1.7', paths)).not.toContain('[plugins')
  })

  it('sets the interval under the plugin name each line uses', () => {
    const v1 = renderContainerdConfig('1.6', paths, { restartMonitorIntervalMs: 1000 })
    expect(v1).toContain('[plugins]\n  [plugins."io.containerd.internal.v1.restart"]\n    interval = "1000ms"\n')
    const v2 = renderContainerdConfig('2.x', paths, { restartMonitorIntervalMs: 250 })
    expect(v2).toContain('  [plugins."io.containerd.monitor.container.v1.restart"]\n    interval = "250ms"\n')
    expect(v2).not.toContain('internal.v1.restart')
    // The plugins table comes last, after [metrics], so it does not swallow other keys.
    expect(v2.indexOf('[plugins]')).toBeGreaterThan(v2.indexOf('[metrics]'))
  })

  it('refuses an interval that is not a positive whole number', () => {
    for (const bad of [0, -5, 1.5, Number.NaN]) {
      expect(() => renderContainerdConfig('1.7', paths, { restartMonitorIntervalMs: bad })).toThrow(InvalidArgumentError)
    }
  })
})
