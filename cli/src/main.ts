import { parseArgs } from 'node:util'
import { USAGE, usageOf } from './usage.js'
import { UsageError, exitCodeOf } from './usage-error.js'
import { COMMANDS } from './commands/index.js'
import { SERVICE_COMMANDS, runUnderHeapCap } from './heap-cap.js'

const HELP = ['--help', '-h']

/**
 * What a node:util parseArgs error says, shortly: `unknown option '--strem'` rather than its
 * advice about positionals starting with '-'.
 */
function optionProblem (err: unknown): string {
  const e = err as { code?: string, message?: string }
  const unknown = /Unknown option '([^']+)'/.exec(e.message ?? '')
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown !== null) return `unknown option '${unknown[1]}'`
  return e.message ?? String(err)
}

/**
 * `sisporta <command> …`: parses the command line, runs the command, maps errors to exit codes
 * (0 success, 1 the work failed, 2 bad usage or configuration) with a one-line message.
 * `sisporta <command> --help` and `sisporta help <command>` print that command's usage (exit 0);
 * a bad option prints the message, then the command's usage (exit 2).
 */
async function main (argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === 'help' || HELP.includes(name)) {
    const topic = name === 'help' ? rest[0] : undefined
    if (topic !== undefined && COMMANDS[topic] === undefined) throw new UsageError(`unknown command '${topic}' (see sisporta --help)`)
    process.stdout.write(topic === undefined ? USAGE : usageOf(topic))
    return name === undefined ? 2 : 0
  }
  const load = COMMANDS[name]
  if (load === undefined) throw new UsageError(`unknown command '${name}' (see sisporta --help)`)
  // --help anywhere before a `--` asks for help, whatever else the line holds
  const end = rest.indexOf('--')
  if ((end === -1 ? rest : rest.slice(0, end)).some((arg) => HELP.includes(arg))) {
    process.stdout.write(usageOf(name))
    return 0
  }
  if (SERVICE_COMMANDS.has(name)) {
    // under the one heap cap (DEFAULT_HEAP_MB / SISPORTA_HEAP_MB), started again if need be
    const code = await runUnderHeapCap()
    if (code !== undefined) return code
  }
  const command = await load()
  let parsed
  try {
    parsed = parseArgs({ args: rest, options: command.options ?? {}, allowPositionals: true, strict: true })
  } catch (err) {
    process.stderr.write(`sisporta: ${name}: ${optionProblem(err)} [SIS_CLI_USAGE]\n\n${usageOf(name)}`)
    return 2
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
