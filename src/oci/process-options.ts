/**
 * Options for the container's process: command, working directory, environment, OOM score, and an init
 * process in front of the command.
 */

import { posix } from 'node:path'
import { checkStringArray } from '../client/option-check.js'
import { InvalidArgumentError } from '../grpc/errors.js'
import { DEFAULT_PATH_ENV } from './default-spec.js'
import { mergeEnv, normalizeEnv, parseEnvFile, resolveEnvList, type EnvInput, type EnvResolveOptions, type ParseEnvFileOptions } from './environment.js'
import type { Mount } from './runtime-spec.js'
import { ensureProcess } from './spec-sections.js'
import type { SpecOption } from './spec-options.js'

/**
 * Replaces the process's args (the executable first).
 *
 * @throws InvalidArgumentError for an empty list or an empty executable, or a value that is not an array of strings.
 */
export function withProcessArgs(args: readonly string[]): SpecOption {
  // A string would be taken per character (`'sleep 30'` runs `s`): refused with the fix.
  checkStringArray(args, 'args', "['sleep', '30']")
  if (args.length === 0 || args[0] === '') {
    throw new InvalidArgumentError('args: the command is empty; pass the executable and its arguments, e.g. ["sh", "-c", "echo hi"]')
  }
  const copy = [...args]
  return (spec) => {
    ensureProcess(spec).args = [...copy]
  }
}

/**
 * Sets the working directory (`--workdir`).
 *
 * @throws InvalidArgumentError when the path is not absolute.
 */
export function withProcessCwd(cwd: string): SpecOption {
  if (!cwd.startsWith('/')) throw new InvalidArgumentError(`--workdir: "${cwd}" must be an absolute path inside the container`)
  const normalised = posix.normalize(cwd)
  const clean = normalised.length > 1 && normalised.endsWith('/') ? normalised.slice(0, -1) : normalised
  return (spec) => {
    ensureProcess(spec).cwd = clean
  }
}

/**
 * Adds `-e` entries: `KEY=value` replaces or appends; a bare `KEY` takes the caller's value, or, when the
 * caller has none, removes the key (Docker CLI rules, containerd merging). A map (`{ A: '1' }`) gives one
 * `KEY=value` per entry.
 *
 * @throws InvalidArgumentError for an entry without a name, or a value that is neither a list of strings
 *   nor a map of strings (see `normalizeEnv`).
 */
export function withEnv(entries: EnvInput, options: EnvResolveOptions = {}): SpecOption {
  const resolved = resolveEnvList(normalizeEnv(entries), options)
  return (spec) => {
    const process = ensureProcess(spec)
    process.env = mergeEnv(process.env ?? [], resolved)
  }
}

/**
 * Adds the variables of an env file, given as text (`--env-file`), with Docker's file rules.
 *
 * @throws InvalidArgumentError for a malformed line, naming it.
 */
export function withEnvFile(text: string, options: ParseEnvFileOptions = {}): SpecOption {
  const entries = parseEnvFile(text, options)
  return (spec) => {
    const process = ensureProcess(spec)
    process.env = mergeEnv(process.env ?? [], entries)
  }
}

/**
 * Adds the default `PATH` when the environment has none: for containers without an image config, whose
 * commands would otherwise not be found. An existing `PATH` is kept (containerd's `WithDefaultPathEnv`
 * overwrites it; nerdctl only applies it when the image sets no PATH, which is what this does).
 */
export function withDefaultPathEnv(): SpecOption {
  return (spec) => {
    const process = ensureProcess(spec)
    const env = process.env ?? []
    if (!env.some((e) => e.startsWith('PATH='))) process.env = [...env, DEFAULT_PATH_ENV]
  }
}

/**
 * Sets the process's `oom_score_adj` (`--oom-score-adj`).
 *
 * @throws InvalidArgumentError outside -1000..1000.
 */
export function withOomScoreAdj(score: number): SpecOption {
  if (!Number.isInteger(score) || score < -1000 || score > 1000) {
    throw new InvalidArgumentError(`--oom-score-adj: ${score} is out of range; use an integer from -1000 to 1000`)
  }
  return (spec) => {
    ensureProcess(spec).oomScoreAdj = score
  }
}

/** Where {@link withInit} mounts the init binary, the path Docker uses. */
export const INIT_PATH = '/sbin/docker-init'

/**
 * Runs the command under an init process (`--init`): the host binary (e.g. tini) is bind-mounted read-only
 * at {@link INIT_PATH} and the args become `[INIT_PATH, '--', ...args]`, so signals are forwarded and
 * zombies reaped. Apply it after the args are final (after `withImageConfig` / `withProcessArgs`).
 *
 * @param initBinary absolute host path of a static init binary.
 * @throws InvalidArgumentError for a relative path, or when applied to a spec without args.
 */
export function withInit(initBinary: string): SpecOption {
  if (!initBinary.startsWith('/')) {
    throw new InvalidArgumentError(`--init: "${initBinary}" must be an absolute host path to the init binary (e.g. /usr/bin/tini-static)`)
  }
  return (spec) => {
    const process = ensureProcess(spec)
    const args = process.args ?? []
    if (args.length === 0) {
      throw new InvalidArgumentError('--init: the spec has no command yet; apply withInit after withImageConfig or withProcessArgs')
    }
    // Applying twice must not stack two inits.
    if (args[0] === INIT_PATH) return
    process.args = [INIT_PATH, '--', ...args]
    const mount: Mount = { destination: INIT_PATH, type: 'bind', source: initBinary, options: ['bind', 'ro'] }
    // Last, so that a mount over /sbin already in the spec does not hide it.
    spec.mounts = [...(spec.mounts ?? []).filter((m) => m.destination !== INIT_PATH), mount]
  }
}
