import { DEFAULT_HEAP_MB } from '@sisporta/config'

export const USAGE = `sisporta — mirror ERP tables into MySQL through JetStream

Usage: sisporta <command> [options]   (sisporta <command> --help for one command)

Services (foreground, stop with SIGTERM / Ctrl-C):
  gateway                         ingestion API (HTTPS + JWT), port 8080
  persister                       applies batches to MySQL (scale out freely)
  reconciler                      seals the load lifecycle, propagates deletes
  extractor                       scheduler daemon: runs each stream's schedule
  console                         web console for operators (admin token), port 9104

Operations:
  migrate                         create bookkeeping tables and target tables/columns (idempotent)
  extract --stream NAME [--mode full|incremental] [--reload diff|rows] [--wait] [--timeout 6h] [--allow-writable-login]
                                  one load now; with --wait, exit 0 once applied and reconciled
  verify --stream NAME [--repair] [--json]
                                  compare source and target row hashes (writes nothing): rows
                                  missing, extra, different; --repair sends only what differs
  token issue (--stream NAME... | --admin) [--ttl 1h] [--subject NAME] [--kid ID]
                                  print a JWT scoped to those streams ('*' for all), or with
                                  --admin one that opens the console; with
                                  iss, aud, iat, exp, jti; --ttl at most SISPORTA_JWT_MAX_TTL
                                  (30d); --kid names the JWKS key the gateway verifies it with
  loads list [--stream NAME] [--state S] [--since 24h] [--limit N] [--json]
                                  load history: start, end, duration, outcome
  loads show ID [--json]
  loads approve ID                let a held load delete what it would delete
  loads discard ID                drop a held (or open) load: it deletes nothing
  loads prune                     a retention pass now, as the operator (docs/history-and-retention.md)
  status [--json]                 per stream: last loads, consumer backlog, dead letters
  dlq list [--stream NAME] [--load ID] [--limit N] [--after N] [--json] | show N [--json]
  dlq replay|drop N [N ...] | --all | --stream NAME | --load ID [--yes] [--json]
                                  rows the persisters gave up on (docs/dead-letters.md): show
                                  names the offending rows; replay applies them into their
                                  load even if it failed; drop by filter needs --yes off a terminal
  streams list [--json] | pause NAME [--reason TEXT] | resume NAME | sync NAME | verify NAME
                                  a paused stream opens no new load (one open finishes);
                                  sync asks the extractor daemon for a load now, verify for
                                  a comparison of source and target (report in streams list)
  teardown --namespace NAME [--yes]
                                  remove a namespace's JetStream streams, consumer and bucket
  demo [--rows N] [--keep] [--serve] [--db-prefix NAME]
                                  the whole pipeline on a generated demo ERP, end to end

Environment: SISPORTA_CONFIG (./sisporta.yaml), SISPORTA_NAMESPACE (sisporta),
  SISPORTA_NATS_URL, SISPORTA_MYSQL_URL, SISPORTA_SOURCE_URL, SISPORTA_GATEWAY_URL,
  SISPORTA_TOKEN, SISPORTA_JWT_SECRET, SISPORTA_BATCH_SIZE, SISPORTA_LOG_LEVEL, … (see README)

Exit codes: 0 success, 1 the work failed (the message says why), 2 bad usage or configuration.
`

/**
 * Per-command usage, printed by `sisporta <command> --help` and `sisporta help <command>`, and
 * after a bad option of that command. One entry per command in `commands/index.ts` (a test keeps
 * them in step): the first line is the synopsis, then what it does, its options, an example.
 */
export const COMMAND_USAGE: Readonly<Record<string, string>> = Object.freeze({
  migrate: `Usage: sisporta migrate

Creates the target database if missing, sisporta's bookkeeping table, each stream's target
table (or the columns sisporta needs on an existing one). Idempotent. Reads SISPORTA_CONFIG and
SISPORTA_MYSQL_URL.
`,
  gateway: serviceUsage('gateway', 'the ingestion API (HTTPS + JWT)', 8080),
  persister: serviceUsage('persister', 'applies batches to MySQL; scale it out freely', 9101),
  reconciler: serviceUsage('reconciler', 'moves loads on, propagates deletes, prunes old load history', 9102),
  extractor: serviceUsage('extractor', 'the scheduler daemon: runs each stream\'s schedule', 9103),
  console: serviceUsage('console', 'the web console for operators (admin token)', 9104),
  extract: `Usage: sisporta extract --stream NAME [--mode full|incremental] [--reload diff|rows] [--wait] [--timeout 6h] [--allow-writable-login]

One load of one stream now. Without --wait it exits once the load is sealed; with --wait once
it is applied (and reconciled, for a full load), exit 1 if it ends otherwise. A full load of a
stream with a reconciled full load is diffed: only rows that differ are sent (docs/reloads.md).

Options:
  --stream NAME            the stream (required)
  --mode full|incremental  default full
  --reload diff|rows       a full load: diff (default, or the stream's source.reload) or rows (send every row)
  --wait                   wait for the load's outcome
  --timeout 6h             longest wait (90s, 30m, 6h)
  --allow-writable-login   read with a login that could write (refused by default)

Example: sisporta extract --stream products --wait
`,
  verify: `Usage: sisporta verify --stream NAME [--repair] [--json] [--allow-writable-login]

Compares the source with the target, key range by key range, through the gateway (the row
hashes of a diffed reload; nothing is written): rows missing from the target, extra in it, and
different, with the first keys of each. Exit 0 when identical, 1 when not.

Options:
  --stream NAME   the stream (required)
  --repair        then run a diffed reload (only what differs is sent, deletes pass the delete
                  guard), wait for it, and verify again
  --json          the report as JSON

Example: sisporta verify --stream products --repair
`,
  token: `Usage: sisporta token issue (--stream NAME... | --admin) [--ttl 1h] [--subject NAME] [--kid ID]

Prints a JWT the gateway accepts for those streams ('*' for all), signed with
SISPORTA_JWT_PRIVATE_KEY or SISPORTA_JWT_SECRET. With --admin, a token that opens the web
console (scope sisporta:admin); without --stream the gateway refuses it.

Options:
  --stream NAME   a stream the token may load (repeat for several)
  --admin         add the sisporta:admin scope (the console's sign-in)
  --ttl 1h        lifetime (30m, 12h, 30d), at most SISPORTA_JWT_MAX_TTL
  --subject NAME  the token's sub (default extractor, or admin with --admin)
  --kid ID        the JWKS key id the gateway verifies it with

Example: sisporta token issue --stream products --stream customers --ttl 30d
         sisporta token issue --admin --subject alice --ttl 8h
`,
  loads: `Usage: sisporta loads list [--stream NAME] [--state S]... [--since 24h|DATE] [--limit N] [--json]
       sisporta loads show ID [--json]
       sisporta loads approve ID [--by NAME]
       sisporta loads discard ID [--by NAME]
       sisporta loads prune [--json]

The load registry: history with start, end and duration; approve a held load (it deletes what
it would delete); discard a held or unfinished load (it deletes nothing).

Options (list):
  --stream NAME   one stream only
  --state S       only loads in these states (repeat, or a comma list): open, sealed, applied,
                  held, approved, reconciled, failed, abandoned, discarded, superseded
  --since 24h     loads opened in the last 90m / 24h / 7d / 2w, or since an ISO date or time
  --limit N       the newest N (default 20)
  --json          the loads as JSON, with startedAt, endedAt and durationMs

Old finished loads leave the registry after SISPORTA_LOAD_RETENTION (docs/history-and-retention.md):
the reconciler prunes them every SISPORTA_RETENTION_INTERVAL; \`loads prune\` does it now, as the
operator, and also removes the gateway's open records of removed loads, which the reconciler's
NATS identity may not (needs SISPORTA_MYSQL_URL for the batch ledger).
Example: sisporta loads list --state failed,abandoned --since 7d
`,
  status: `Usage: sisporta status [--json]

Per stream: its last success and how long ago, its last loads, dead letters; for the bus, the
persisters' backlog (pending, in flight, redelivered).
`,
  dlq: `Usage: sisporta dlq list [--stream NAME] [--json]
       sisporta dlq show N | replay N | drop N

Batches the persisters gave up on (kept SISPORTA_DLQ_MAX_AGE, default 30 days).
`,
  streams: `Usage: sisporta streams list [--json] | pause NAME [--reason TEXT] | resume NAME | sync NAME | verify NAME

A paused stream opens no new load (one open finishes); sync asks the extractor daemon for a
load now; verify asks it to compare the stream's source with its target (nothing is written):
streams list (and the console) then show its report. docs/streams-control.md.
`,
  teardown: `Usage: sisporta teardown --namespace NAME [--yes]

Removes one namespace's NATS objects: its batch and dead-letter JetStream streams, the
persisters' consumer and the load registry bucket, after asking for confirmation (--yes to
skip the question, required when not on a terminal). Other namespaces are never touched; the
target database is not either. Prints what it removed.

Example: sisporta teardown --namespace demo --yes
`,
  demo: `Usage: sisporta demo [--rows N] [--keep] [--serve] [--db-prefix NAME]

The whole pipeline on this machine on a generated demo ERP, end to end: services as separate
processes, two full loads with changes in between, the target compared with the source.

Options:
  --rows N          products in the demo ERP (default 5000; customers ≈ 0.6 N, a price list)
  --keep            leave the namespace and databases behind to look around (default: removed
                    after a successful run)
  --serve           then keep the services running with the operator console (port 9104 or a
                    free one), print its address and an admin token; Ctrl-C stops them (implies
                    --keep)
  --db-prefix NAME  databases NAME (target) and NAME_erp (source) (default sisporta_demo)

Namespace: SISPORTA_NAMESPACE (default demo). A namespace or databases of another name that
already exist are refused, never overwritten.
`
})

function serviceUsage (name: string, what: string, port: number): string {
  return `Usage: sisporta ${name}

Runs the ${name} in the foreground — ${what} — until SIGTERM / Ctrl-C. Serves /healthz,
/readyz and /metrics on SISPORTA_HTTP_PORT (default ${port}). Settings come from the
environment (see README). V8's heap is capped at SISPORTA_HEAP_MB (default ${DEFAULT_HEAP_MB};
0 = V8's default; a --max-old-space-size in NODE_OPTIONS wins).
`
}

/**
 * The usage of one command, or the overview for a command without an entry.
 *
 * @example
 * usageOf('loads') // 'Usage: sisporta loads list …'
 */
export function usageOf (command: string): string {
  return COMMAND_USAGE[command] ?? USAGE
}
