export const USAGE = `sisporta — mirror ERP tables into MySQL through JetStream

Usage: sisporta <command> [options]

Services (foreground, stop with SIGTERM / Ctrl-C):
  gateway                         ingestion API (HTTPS + JWT), port 8080
  persister                       applies batches to MySQL (scale out freely)
  reconciler                      seals the load lifecycle, propagates deletes
  extractor                       scheduler daemon: runs each stream's schedule

Operations:
  migrate                         create bookkeeping tables and target tables/columns (idempotent)
  extract --stream NAME [--mode full|incremental] [--wait] [--timeout 6h] [--allow-writable-login]
                                  one load now; with --wait, exit 0 once applied and reconciled
  token issue --stream NAME... [--ttl 1h] [--subject NAME] [--kid ID]
                                  print a JWT scoped to those streams ('*' for all), with
                                  iss, aud, iat, exp, jti; --ttl at most SISPORTA_JWT_MAX_TTL
                                  (30d); --kid names the JWKS key the gateway verifies it with
  loads list [--stream NAME] [--json]
  loads show ID [--json]
  loads approve ID                let a held load delete what it would delete
  loads discard ID                drop a held (or open) load: it deletes nothing
  status [--json]                 per stream: last loads, consumer backlog, dead letters
  dlq list [--stream NAME] [--json] | show N | replay N | drop N
                                  batches the persisters gave up on
  demo [--rows N] [--keep]        the whole pipeline on a generated demo ERP, end to end

Environment: SISPORTA_CONFIG (./sisporta.yaml), SISPORTA_NAMESPACE (sisporta),
  SISPORTA_NATS_URL, SISPORTA_MYSQL_URL, SISPORTA_SOURCE_URL, SISPORTA_GATEWAY_URL,
  SISPORTA_TOKEN, SISPORTA_JWT_SECRET, SISPORTA_BATCH_SIZE, SISPORTA_LOG_LEVEL, … (see README)

Exit codes: 0 success, 1 the work failed (the message says why), 2 bad usage or configuration.
`
