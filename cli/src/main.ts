import { parseArgs } from 'node:util'
import { USAGE } from './usage.js'
import { UsageError, exitCodeOf } from './usage-error.js'
import { COMMANDS } from './commands/index.js'

/**
 * `sisporta <command> …`: parses the command line, runs the command, maps errors to exit codes
 * (0 success, 1 the work failed, 2 bad usage or configuration) with a one-line message.
 */
async function main (argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE)
    return name === undefined ? 2 : 0
  }
  const load = COMMANDS[name]
  if (load === undefined) throw new UsageError(`unknown command '${name}' (see sisporta --help)`)
  const command = await load()
  let parsed
  try {
    parsed = parseArgs({ args: rest, options: command.options ?? {}, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}`)
  }
  return await command.run(parsed.values, parsed.positionals)
}

try {
  const code = await main(process.argv.slice(2))
  if (code !== 0) process.exitCode = code
} catch (err) {
  const e = err as { code?: string, message?: string }
  process.stderr.write(`sisporta: ${e.message ?? String(err)}${e.code !== undefined ? ` [${e.code}]` : ''}\n`)
  if (process.env.SISPORTA_DEBUG === '1') console.error(err)
  process.exitCode = exitCodeOf(err)
}
