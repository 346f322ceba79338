import type { ParseArgsConfig } from 'node:util'

export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>

/** One CLI command: its options (node:util parseArgs) and what it does; resolves to the exit code. */
export interface Command {
  readonly options?: NonNullable<ParseArgsConfig['options']>
  run(values: OptionValues, positionals: string[]): Promise<number>
}
