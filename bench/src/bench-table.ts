import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { seededRandom } from '@sisporta/cli'

/** The stream the benchmark loads. */
export const BENCH_STREAM = 'bench'
/** Source table (in the source database) and target table (in the target database). */
export const SOURCE_TABLE = 'Produtos'
export const TARGET_TABLE = 'bench_rows'
/** Empty copy of the target table that MariaDB's own LOAD DATA fills (the baseline). */
export const BASELINE_TABLE = 'bench_load_data'

/**
 * An ERP-like product table: ten mixed columns — a BIGINT key, short and long strings with
 * accents, two DECIMAL(19,4), an INT, a boolean, a DATETIME(3) and a category.
 */
export const SOURCE_DDL = `CREATE TABLE ${SOURCE_TABLE} (
  Id BIGINT NOT NULL PRIMARY KEY,
  Codigo VARCHAR(20) NOT NULL,
  Nome VARCHAR(120) NOT NULL,
  Observacoes VARCHAR(1000) NULL,
  Preco DECIMAL(19,4) NOT NULL,
  Custo DECIMAL(19,4) NULL,
  Quantidade INT NOT NULL,
  Ativo TINYINT(1) NOT NULL,
  AlteradoEm DATETIME(3) NOT NULL,
  Categoria VARCHAR(40) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`

/** Source columns in file order, and the target columns they map to. */
export const SOURCE_COLUMNS = ['Id', 'Codigo', 'Nome', 'Observacoes', 'Preco', 'Custo', 'Quantidade', 'Ativo', 'AlteradoEm', 'Categoria'] as const
export const TARGET_COLUMNS = ['id', 'code', 'name', 'notes', 'price', 'cost', 'quantity', 'active', 'updated_at', 'category'] as const

/** The sisporta config of the benchmark: one stream, source table → target table. */
export function benchConfigYaml (): string {
  return `streams:
  - name: ${BENCH_STREAM}
    source:
      table: ${SOURCE_TABLE}
    target:
      table: ${TARGET_TABLE}
      key: [id]
    columns:
      - { name: id,         from: Id,          type: bigint }
      - { name: code,       from: Codigo,      type: string, length: 20 }
      - { name: name,       from: Nome,        type: string, length: 120 }
      - { name: notes,      from: Observacoes, type: string, length: 1000 }
      - { name: price,      from: Preco,       type: decimal, precision: 19, scale: 4 }
      - { name: cost,       from: Custo,       type: decimal, precision: 19, scale: 4 }
      - { name: quantity,   from: Quantidade,  type: int }
      - { name: active,     from: Ativo,       type: bool }
      - { name: updated_at, from: AlteradoEm,  type: datetime }
      - { name: category,   from: Categoria,   type: string, length: 40 }
    deletes: hard
    maxDeleteRatio: 0.2
`
}

const NOUNS = ['Parafuso', 'Arruela', 'Porca', 'Válvula', 'Conexão', 'Mangueira', 'Rolamento', 'Engrenagem', 'Correia', 'Bomba', 'Filtro', 'Sensor', 'Módulo', 'Ímã', 'Chave', 'Tubulação', 'Luminária', 'Disjuntor']
const QUALITIES = ['de aço', 'inoxidável', 'galvanizado', 'térmica', 'elétrico', 'hidráulica', 'pneumático', 'reforçado', 'ação rápida', 'alta pressão', 'anticorrosão', 'série pesada', 'niquelado', 'cerâmica']
const CATEGORIES = ['Elétrica', 'Hidráulica', 'Mecânica', 'Ferramentas', 'Fixação', 'Automação', 'Pneumática', 'Iluminação', 'Segurança', 'Limpeza', 'Escritório', 'Embalagens']
const PROSE = ['instalação', 'conforme', 'norma', 'técnica', 'verificar', 'torque', 'máximo', 'antes', 'da', 'montagem', 'peça', 'sujeita', 'à', 'disponibilidade', 'em', 'estoque', 'não', 'expor', 'umidade', 'garantia', 'três', 'anos', 'fábrica', 'São', 'Paulo', 'Curitiba', 'Açores', 'coração', 'ônibus', 'pinguim', 'lingüiça', 'órgão', 'fábrica']

function pad (n: number, width: number): string {
  return String(n).padStart(width, '0')
}

/** A text of `words` random words (letters, spaces and accents only: nothing to escape in TSV). */
function prose (rnd: () => number, words: number): string {
  let s = PROSE[Math.floor(rnd() * PROSE.length)]!
  for (let i = 1; i < words; i++) s += ' ' + PROSE[Math.floor(rnd() * PROSE.length)]!
  return s
}

function decimal (rnd: () => number, intDigits: number): string {
  return `${Math.floor(rnd() * 10 ** intDigits)}.${pad(Math.floor(rnd() * 10_000), 4)}`
}

const EPOCH = Date.UTC(2015, 0, 1) / 1000

/** A DATETIME(3) wall-clock value, MySQL spelling. */
function datetime (rnd: () => number): string {
  const d = new Date((EPOCH + Math.floor(rnd() * 10 * 365 * 86400)) * 1000)
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)} ${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(Math.floor(rnd() * 1000), 3)}`
}

/** One source row as a TSV line (LOAD DATA's defaults: tab-separated, `\N` for NULL). */
function tsvLine (rnd: () => number, notesPool: readonly string[], id: number): string {
  const name = `${NOUNS[Math.floor(rnd() * NOUNS.length)]!} ${QUALITIES[Math.floor(rnd() * QUALITIES.length)]!} nº ${id}`
  // long text: 5 % NULL, else one of a pool of 8..60-word texts (~60..450 characters)
  const notes = rnd() < 0.05 ? '\\N' : notesPool[Math.floor(rnd() * notesPool.length)]!
  const price = decimal(rnd, 1 + Math.floor(rnd() * 6))
  const cost = rnd() < 0.03 ? '\\N' : decimal(rnd, 1 + Math.floor(rnd() * 5))
  const quantity = Math.floor(rnd() * 101_000) - 1000
  const active = rnd() < 0.9 ? 1 : 0
  const category = CATEGORIES[Math.floor(rnd() * CATEGORIES.length)]!
  return `${id}\tPRD-${pad(id, 9)}\t${name}\t${notes}\t${price}\t${cost}\t${quantity}\t${active}\t${datetime(rnd)}\t${category}\n`
}

/**
 * Writes `rows` source rows (ids 1..rows, deterministic) to a TSV file that both `LOAD DATA`
 * statements of the benchmark read: the source fill and the baseline.
 *
 * @returns the file's size in bytes.
 */
export async function writeSourceTsv (file: string, rows: number, seed = 20240611): Promise<number> {
  const rnd = seededRandom(seed)
  // texts drawn from a pool: building ~35 random words for every row would make generation,
  // not the load, the slow part of a run; the pool is large enough for the values to vary
  const notesPool = Array.from({ length: 4096 }, () => prose(rnd, 8 + Math.floor(rnd() * 53)))
  const out = createWriteStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })
  let bytes = 0
  const chunkRows = 5000
  for (let start = 1; start <= rows; start += chunkRows) {
    let chunk = ''
    const end = Math.min(rows, start + chunkRows - 1)
    for (let id = start; id <= end; id++) chunk += tsvLine(rnd, notesPool, id)
    bytes += Buffer.byteLength(chunk)
    if (!out.write(chunk)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
  return bytes
}

/** `LOAD DATA LOCAL INFILE` of the TSV into the source table. */
export function loadSourceSql (): string {
  return `LOAD DATA LOCAL INFILE 'bench.tsv' INTO TABLE ${SOURCE_TABLE} CHARACTER SET utf8mb4 (${SOURCE_COLUMNS.join(', ')})`
}

/** `LOAD DATA LOCAL INFILE` of the same TSV into the baseline copy of the target table, stamped like a load. */
export function loadBaselineSql (): string {
  return `LOAD DATA LOCAL INFILE 'bench.tsv' INTO TABLE ${BASELINE_TABLE} CHARACTER SET utf8mb4 (${TARGET_COLUMNS.join(', ')}) SET _sisporta_load = 1`
}

/** One step's changes at the source, as SQL: an UPDATE and a DELETE, disjoint. */
export interface SourceChanges {
  /** What the step is called in the report and the results. */
  readonly pattern: 'scattered' | 'clustered' | 'rows'
  readonly update: string
  readonly delete: string
}

const UPDATE_SET = `UPDATE ${SOURCE_TABLE} SET Preco = Preco + 1, Quantidade = Quantidade + 1, AlteradoEm = AlteradoEm + INTERVAL 1 DAY, Nome = CONCAT(LEFT(Nome, 100), ' (revisão)')`

/**
 * The ERP's changes before the diffed reloads (issue 13), for a source of ids 1..`rows`:
 *
 * - `scattered`: 1 % of the rows updated all over the table (ids ≡ 50 mod 100) and 0.5 % deleted
 *   (ids ≡ 3 mod 200; disjoint from the updated ones): every compared key range differs.
 * - `clustered`: the newest 1 % of keys updated (the highest ids, as an ERP changes its recent
 *   records) and 0.5 % of the rows deleted just below them, every other id of the next 1 % (so
 *   inside the newest 2 %; none of them among the updated ids, nor ≡ 3 mod 200): all but the last
 *   one or two key ranges are equal.
 * - `rows` (`--reload-rows`, the old second full load sending every row): the scattered update
 *   once more and another 0.5 % deleted (ids ≡ 7 mod 200).
 *
 * `Nome` is cut to 100 characters before its suffix so that a row updated in several steps still
 * fits the column.
 */
export function sourceChanges (pattern: SourceChanges['pattern'], rows: number): SourceChanges {
  const top1 = rows - Math.floor(rows / 100)
  const top2 = rows - Math.floor(rows / 50)
  switch (pattern) {
    case 'scattered':
      return { pattern, update: `${UPDATE_SET} WHERE MOD(Id, 100) = 50`, delete: `DELETE FROM ${SOURCE_TABLE} WHERE MOD(Id, 200) = 3` }
    case 'clustered':
      return { pattern, update: `${UPDATE_SET} WHERE Id > ${top1}`, delete: `DELETE FROM ${SOURCE_TABLE} WHERE Id > ${top2} AND Id <= ${top1} AND MOD(Id, 2) = 0` }
    case 'rows':
      return { pattern, update: `${UPDATE_SET} WHERE MOD(Id, 100) = 50`, delete: `DELETE FROM ${SOURCE_TABLE} WHERE MOD(Id, 200) = 7` }
  }
}
