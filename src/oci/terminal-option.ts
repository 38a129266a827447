import { ensureProcess } from './spec-sections.js'
import type { SpecOption } from './spec-options.js'

/**
 * Runs the process on a pseudo-terminal (`docker run -t`): runc allocates it and hands it to the shim,
 * which joins stdout and stderr into it. The task must then be created with a terminal too.
 */
export function withTerminal(on = true): SpecOption {
  return (spec) => {
    ensureProcess(spec).terminal = on
  }
}
