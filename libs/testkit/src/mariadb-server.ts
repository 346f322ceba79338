import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createConnection, type Connection } from 'mysql2/promise'
import { freeLoopbackPort } from './nats-server.js'

/** The binaries private servers are made with (SISPORTA_TEST_MARIADBD / _MARIADB_INSTALL_DB override them). */
export const MARIADBD_BIN = process.env.SISPORTA_TEST_MARIADBD ?? '/usr/sbin/mariadbd'
export const MARIADB_INSTALL_DB_BIN = process.env.SISPORTA_TEST_MARIADB_INSTALL_DB ?? '/usr/bin/mariadb-install-db'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface PrivateMariadb {
  readonly port: number
  /** `mysql://root@127.0.0.1:<port>`: the server for SISPORTA_MYSQL_URL and the like (add `/db`). */
  readonly url: string
  /** The server's Unix socket. */
  readonly socket: string
  /** The server's directory: data directory, socket, error log. */
  readonly dir: string
  /**
   * A root connection over the socket, made at start with an explicit utf8mb4 session (an
   * oracle that no server setting changes). It dies with {@link kill}; open new ones after a restart.
   */
  readonly root: Connection
  /** Everything the server wrote to its error log so far. */
  errorLog(): string
  /** SIGKILL: the server dies as in a crash, mid-transaction; resolves once it has exited. */
  kill(): Promise<void>
  /** Starts the server again on the same port and data directory (after {@link kill}); resolves once it accepts connections. */
  restart(): Promise<void>
}

/**
 * A MariaDB of the test's own: a fresh data directory in a temp dir, `args` added to its
 * command line (a hostile character set, say), on a free loopback port; the test may kill and
 * restart it. Stopped and removed at teardown. Runs as the `mysql` user, as mariadbd insists
 * when started by root. Throws, with the server's error log, when the binaries are missing or
 * the server does not start: such a test fails loudly instead of being skipped.
 *
 * @example
 * const server = await privateMariadb(t, ['--character-set-server=gbk'])
 * const target = `${server.url}/sisporta`
 * await server.kill(); await server.restart()
 */
export async function privateMariadb (t: Teardown, args: readonly string[] = []): Promise<PrivateMariadb> {
  for (const bin of [MARIADBD_BIN, MARIADB_INSTALL_DB_BIN]) {
    if (!existsSync(bin)) throw new Error(`${bin} not found: this test needs a private MariaDB server`)
  }
  const dir = mkdtempSync(join(tmpdir(), 'sisporta-mariadb-'))
  const data = join(dir, 'data')
  mkdirSync(data)
  execFileSync('chown', ['-R', 'mysql:mysql', dir])
  execFileSync(MARIADB_INSTALL_DB_BIN, ['--no-defaults', `--datadir=${data}`, '--user=mysql', '--auth-root-authentication-method=normal', '--skip-test-db'], { stdio: 'ignore' })
  const port = await freeLoopbackPort()
  const socket = join(dir, 'mysqld.sock')
  const errorLogFile = join(dir, 'error.log')
  const argv = ['--no-defaults', `--datadir=${data}`, `--socket=${socket}`, `--port=${port}`, '--bind-address=127.0.0.1',
    '--user=mysql', '--skip-name-resolve', `--log-error=${errorLogFile}`, `--pid-file=${join(dir, 'mysqld.pid')}`, '--innodb-buffer-pool-size=32M', ...args]
  const errorLog = (): string => existsSync(errorLogFile) ? readFileSync(errorLogFile, 'utf8') : ''

  let server: ChildProcess
  let exited: Promise<void>
  const launch = async (): Promise<void> => {
    server = spawn(MARIADBD_BIN, argv, { stdio: 'ignore' })
    const child = server
    exited = new Promise((resolve) => child.once('exit', () => resolve()))
    const probe = await waitForConnection(socket, child, errorLog)
    await probe.end()
  }
  await launch()
  t.teardown(async () => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM')
    await exited
    rmSync(dir, { recursive: true, force: true })
  })
  const root = await createConnection({ socketPath: socket, user: 'root', charset: 'utf8mb4_bin', multipleStatements: true })
  t.teardown(async () => { await root.end().catch(() => {}) })
  // the oracle's own session, set explicitly whatever the server imposes
  await root.query('SET NAMES utf8mb4 COLLATE utf8mb4_bin')
  return {
    port,
    url: `mysql://root@127.0.0.1:${port}`,
    socket,
    dir,
    root,
    errorLog,
    kill: async () => {
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL')
      await exited
    },
    restart: async () => {
      if (server.exitCode === null && server.signalCode === null) throw new Error('privateMariadb: restart() while the server still runs; kill() it first')
      await launch()
    }
  }
}

/** Connects over the socket until the server answers (crash recovery included), or throws with its error log. */
async function waitForConnection (socket: string, child: ChildProcess, errorLog: () => string): Promise<Connection> {
  const deadline = Date.now() + 120_000
  for (;;) {
    try {
      return await createConnection({ socketPath: socket, user: 'root' })
    } catch (err) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`mariadbd exited (${child.exitCode ?? child.signalCode}) before accepting connections:\n${errorLog().slice(-3000)}`)
      if (Date.now() > deadline) throw new Error(`mariadbd did not accept connections within 120 s (${(err as Error).message}):\n${errorLog().slice(-3000)}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}
