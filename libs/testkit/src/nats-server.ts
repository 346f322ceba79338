import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import type { NatsConnection } from 'nats'
import { NO_BUS_SECURITY, connectBus } from '@sisporta/nats'

/** The nats-server binary private servers are started from (SISPORTA_TEST_NATS_SERVER overrides it). */
export const NATS_SERVER_BIN = process.env.SISPORTA_TEST_NATS_SERVER ?? '/usr/sbin/nats-server'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface PrivateNatsServer {
  /** 127.0.0.1:<port>, without a scheme. */
  readonly hostPort: string
  readonly port: number
  /** The server's own directory: its config, the files written beside it, its JetStream store. */
  readonly dir: string
  /** Everything the server logged so far. */
  output(): string
  /** SIGKILL: the server dies as in a crash; resolves once it has exited. */
  kill(): Promise<void>
  /** Starts the server again with the same config, port and JetStream store (after {@link kill}); resolves once it is ready. */
  restart(): Promise<void>
}

/**
 * A nats-server of the test's own, with a configuration the test writes (users, permissions,
 * TLS, operator mode…), on a free loopback port, stopped at teardown; a fault test may `kill()`
 * it and `restart()` it on the same port and JetStream store. `files` are written into
 * the server's directory first, so the config can `include` them by relative path; `env` is the
 * server's environment (config variables such as `$GATEWAY_PASSWORD` resolve from it). Throws,
 * with the server's output, when the binary is missing or the server does not start: such a test
 * fails loudly instead of being skipped.
 *
 * @example
 * const server = await privateNatsServer(t, { config: 'authorization { token: $T }', env: { T: 's3cret' } })
 * const nc = await connect({ servers: server.hostPort, token: 's3cret' })
 */
export async function privateNatsServer (t: Teardown, options: { config: string, files?: Record<string, string>, env?: Record<string, string>, jetstream?: boolean }): Promise<PrivateNatsServer> {
  if (!existsSync(NATS_SERVER_BIN)) throw new Error(`nats-server not found at ${NATS_SERVER_BIN} (set SISPORTA_TEST_NATS_SERVER): this test needs a private NATS server`)
  const dir = mkdtempSync(join(tmpdir(), 'sisporta-nats-'))
  for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), content)
  const configFile = join(dir, 'nats-server.conf')
  writeFileSync(configFile, options.config)
  const port = await freeLoopbackPort()
  const args = ['-c', configFile, '-a', '127.0.0.1', '-p', String(port)]
  if (options.jetstream !== false) args.push('-js', '-sd', join(dir, 'jetstream'))
  let output = ''
  let child: ChildProcess
  let exited: Promise<void>
  const launch = async (): Promise<void> => {
    const started = output.length
    child = spawn(NATS_SERVER_BIN, args, { env: { PATH: process.env.PATH ?? '', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const server = child
    server.stdout!.on('data', (c: Buffer) => { output += c.toString('utf8') })
    server.stderr!.on('data', (c: Buffer) => { output += c.toString('utf8') })
    exited = new Promise<void>((resolve) => server.once('exit', () => resolve()))
    const deadline = Date.now() + 15_000
    while (!output.slice(started).includes('Server is ready')) {
      if (server.exitCode !== null) throw new Error(`nats-server exited with ${server.exitCode}:\n${output}`)
      if (Date.now() > deadline) throw new Error(`nats-server did not start within 15 s:\n${output}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  const running = (): boolean => child.exitCode === null && child.signalCode === null
  t.teardown(async () => {
    if (running()) child.kill('SIGTERM')
    await exited
    rmSync(dir, { recursive: true, force: true })
  })
  await launch()
  return {
    hostPort: `127.0.0.1:${port}`,
    port,
    dir,
    output: () => output,
    kill: async () => {
      if (running()) child.kill('SIGKILL')
      await exited
    },
    restart: async () => {
      if (running()) throw new Error('privateNatsServer: restart() while the server still runs; kill() it first')
      await launch()
    }
  }
}

/** A TCP port free on 127.0.0.1 right now (for a server a test starts). */
export async function freeLoopbackPort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** The shipped permission file (deploy/nats/sisporta-permissions.conf). */
export const NATS_PERMISSIONS_FILE = fileURLToPath(new URL('../../../deploy/nats/sisporta-permissions.conf', import.meta.url))

/**
 * The shipped permission file rendered for another namespace, exactly as docs/deploy.md says to
 * (every `sisporta` → the namespace, every `SISPORTA` → it in capitals), with the names of the
 * environment variables its passwords are read from.
 *
 * @example
 * const { config, passwordVariables } = natsPermissionsFor('e2e_x1')
 * passwordVariables.gateway // 'E2E_X1_GATEWAY_PASSWORD'
 */
export function natsPermissionsFor (namespace: string): { config: string, users: Record<NatsRole, string>, passwordVariables: Record<NatsRole, string> } {
  const upper = namespace.toUpperCase()
  const config = readFileSync(NATS_PERMISSIONS_FILE, 'utf8').replaceAll('sisporta', namespace).replaceAll('SISPORTA', upper)
  const roles = ['admin', 'gateway', 'persister', 'reconciler'] as const
  return {
    config,
    users: Object.fromEntries(roles.map((r) => [r, `${namespace}-${r}`])) as Record<NatsRole, string>,
    passwordVariables: Object.fromEntries(roles.map((r) => [r, `${upper}_${r.toUpperCase()}_PASSWORD`])) as Record<NatsRole, string>
  }
}

export type NatsRole = 'admin' | 'gateway' | 'persister' | 'reconciler'

/** A private nats-server running the shipped permissions for one namespace, and a way in as each role. */
export interface PermissionedNats {
  readonly server: PrivateNatsServer
  /** nats://127.0.0.1:<port> */
  readonly url: string
  readonly users: Record<NatsRole, string>
  readonly passwords: Record<NatsRole, string>
  /** A connection as `role` (its user and password), closed at teardown. */
  as(role: NatsRole): Promise<NatsConnection>
}

/**
 * A private nats-server (see {@link privateNatsServer}) running deploy/nats/sisporta-permissions.conf
 * rendered for `namespace` (see {@link natsPermissionsFor}), each role with a random password,
 * and `as(role)` to connect as that identity through sisporta's own `connectBus`.
 *
 * @example
 * const bus = await permissionedNats(t, 'p_x1')
 * const gateway = await bus.as('gateway')
 */
export async function permissionedNats (t: Teardown, namespace: string): Promise<PermissionedNats> {
  const perms = natsPermissionsFor(namespace)
  const passwords = Object.fromEntries(Object.keys(perms.users).map((r) => [r, randomBytes(18).toString('base64url')])) as Record<NatsRole, string>
  const server = await privateNatsServer(t, {
    config: 'include ./permissions.conf\n',
    files: { 'permissions.conf': perms.config },
    // quoted: nats-server parses a variable's value as a config value
    env: Object.fromEntries(Object.entries(perms.passwordVariables).map(([r, v]) => [v, `"${passwords[r as NatsRole]}"`]))
  })
  const url = `nats://${server.hostPort}`
  return {
    server,
    url,
    users: perms.users,
    passwords,
    as: async (role) => {
      const nc = await connectBus({ url, security: { ...NO_BUS_SECURITY, user: perms.users[role], password: passwords[role] }, name: `test-${role}`, connectTimeoutMs: 5_000 })
      t.teardown(async () => { await nc.close() })
      return nc
    }
  }
}
