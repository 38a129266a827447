// Type tests of the public API: `npm run typecheck` compiles this file (it is never run). Each
// `@ts-expect-error` fails the typecheck when the error it expects goes away, so a change that makes a
// misspelled option acceptable again, or loses run()'s result types, breaks CI.
import type { Client, CompletedRun, DetachedRun } from '../../src/index.js'

declare const client: Client

export async function runResultTypes(): Promise<void> {
  const detached: DetachedRun = await client.run('busybox', { detach: true, name: 'web' })
  const completed: CompletedRun = await client.run('busybox', { args: ['true'] })
  const defaulted: CompletedRun = await client.run('busybox')
  // @ts-expect-error an attached run does not give a DetachedRun
  const wrong: DetachedRun = await client.run('busybox', { args: ['true'] })
  void [detached, completed, defaulted, wrong]
}

export async function misspelledOptionsNameThemselves(): Promise<void> {
  // TypeScript reports "Object literal may only specify known properties, … Did you mean to write 'memory'?"
  // @ts-expect-error memroy is not an option of run()
  await client.run('busybox', { detach: true, memroy: '32m' })
  // @ts-expect-error netwrok is not an option of run()
  await client.run('busybox', { netwrok: 'host' })
  // @ts-expect-error args is an array
  await client.run('busybox', { args: 'sleep 30' })
  // @ts-expect-error timeut is not an option of stop()
  await (await client.containers.get('web')).stop({ timeut: 3 })
}
