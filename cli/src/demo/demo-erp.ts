import type { Connection } from 'mysql2/promise'

/** A tiny deterministic PRNG (mulberry32): the demo ERP is the same on every run. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WORDS = ['Parafuso', 'Açúcar', 'Café', 'Maçã', 'Pão', 'Coração', 'Ménage', 'Crème brûlée', 'Jalapeño', 'Smørrebrød', 'Ñandú', 'Straße', 'Zürich', 'Łódź', 'İstanbul', 'Ελληνικά', 'Кириллица', '日本語', '中文', '한국어', 'עברית', 'العربية']
const EMOJI = ['🚀', '☕', '🍎', '👩‍🔧', '🇧🇷', '🧪', '📦', '💡', '🙂', '🏳️‍🌈']
const CATEGORIES = ['hardware', 'alimentos', 'bebidas', 'limpeza', 'ferramentas', 'escritório']

function pick<T> (rnd: () => number, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)]!
}

function digits (rnd: () => number, n: number): string {
  let s = String(1 + Math.floor(rnd() * 9))
  for (let i = 1; i < n; i++) s += String(Math.floor(rnd() * 10))
  return s
}

function pad (n: number, width = 2): string {
  return String(n).padStart(width, '0')
}

/** A wall-clock datetime with microseconds, as MySQL accepts it. */
function datetime (rnd: () => number, fraction: 3 | 6): string {
  const y = 1995 + Math.floor(rnd() * 31)
  const mo = 1 + Math.floor(rnd() * 12)
  const d = 1 + Math.floor(rnd() * 28)
  const frac = digits(rnd, fraction)
  return `${y}-${pad(mo)}-${pad(d)} ${pad(Math.floor(rnd() * 24))}:${pad(Math.floor(rnd() * 60))}:${pad(Math.floor(rnd() * 60))}.${frac}`
}

function uuid (rnd: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(rnd() * 16).toString(16)).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`
}

function name (rnd: () => number, i: number): string {
  const base = `${pick(rnd, WORDS)} ${pick(rnd, WORDS).toLowerCase()} nº ${i}`
  return rnd() < 0.2 ? `${base} ${pick(rnd, EMOJI)}` : base
}

/** Columns of the demo ERP's product table ("Produtos"), one per wire type and then some. */
export const PRODUCTS_DDL = `CREATE TABLE Produtos (
  ProdCode VARCHAR(20) NOT NULL PRIMARY KEY,
  Descr VARCHAR(200) NOT NULL,
  DescrLonga MEDIUMTEXT NULL,
  Categoria VARCHAR(40) NOT NULL,
  Preco DECIMAL(19,4) NOT NULL,
  CustoMedio DECIMAL(38,10) NULL,
  Estoque BIGINT NULL,
  Unidades INT NULL,
  Peso DOUBLE NULL,
  Ativo TINYINT(1) NOT NULL,
  Lancamento DATE NULL,
  DataAlt DATETIME(6) NOT NULL,
  Guid CHAR(36) NOT NULL,
  Miniatura VARBINARY(64) NULL,
  Atributos JSON NULL
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`

export const CUSTOMERS_DDL = `CREATE TABLE Clientes (
  CliId INT NOT NULL PRIMARY KEY,
  Nome VARCHAR(120) NOT NULL,
  Email VARCHAR(160) NULL,
  Cidade VARCHAR(80) NULL,
  Saldo DECIMAL(19,2) NOT NULL,
  Limite DECIMAL(19,2) NULL,
  Criado DATETIME(3) NOT NULL,
  Obs TEXT NULL
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`

export const PRICE_LIST_DDL = `CREATE TABLE TabelaPrecos (
  Lista CHAR(4) NOT NULL,
  ProdCode VARCHAR(20) NOT NULL,
  Preco DECIMAL(19,4) NOT NULL,
  Moeda CHAR(3) NOT NULL,
  ValidoDe DATE NOT NULL,
  ValidoAte DATE NULL,
  PRIMARY KEY (Lista, ProdCode)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`

export type Row = (string | number | boolean | Buffer | null)[]

export function productRow (rnd: () => number, i: number): Row {
  const code = `P${pad(i, 6)}`
  const long = rnd() < 0.05 ? `${name(rnd, i)} — `.repeat(2000) : rnd() < 0.5 ? `Descrição detalhada do produto ${i}: “aspas”, 'apóstrofos', \\barras\\ e\ttabs` : null
  return [
    code,
    name(rnd, i),
    long,
    pick(rnd, CATEGORIES),
    rnd() < 0.1 ? `${digits(rnd, 15)}.${digits(rnd, 4)}` : `${Math.floor(rnd() * 10000)}.${pad(Math.floor(rnd() * 10000), 4)}`,
    rnd() < 0.2 ? null : `${rnd() < 0.5 ? '-' : ''}${digits(rnd, 27)}.${digits(rnd, 10)}`,
    rnd() < 0.1 ? null : rnd() < 0.3 ? `${9007199254740000 + Math.floor(rnd() * 1000)}` : String(Math.floor(rnd() * 100000)),
    rnd() < 0.1 ? null : Math.floor(rnd() * 2147483647) * (rnd() < 0.2 ? -1 : 1),
    rnd() < 0.1 ? null : Math.round(rnd() * 1e6) / 1e3,
    rnd() < 0.8,
    rnd() < 0.1 ? null : datetime(rnd, 3).slice(0, 10),
    datetime(rnd, 6),
    uuid(rnd),
    rnd() < 0.3 ? null : Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 63) }, () => Math.floor(rnd() * 256))),
    rnd() < 0.3 ? null : JSON.stringify({ cor: pick(rnd, WORDS), tags: [pick(rnd, CATEGORIES), pick(rnd, EMOJI)], dims: { a: Math.floor(rnd() * 100), l: 1.5 } })
  ]
}

export function customerRow (rnd: () => number, i: number): Row {
  return [
    i,
    name(rnd, i),
    rnd() < 0.2 ? null : `cliente${i}@exemplo.com.br`,
    rnd() < 0.1 ? null : pick(rnd, ['São Paulo', 'Florianópolis', 'Curitiba', 'Belém', 'Zürich', 'Kraków']),
    `${rnd() < 0.1 ? '-' : ''}${Math.floor(rnd() * 1e9)}.${pad(Math.floor(rnd() * 100))}`,
    rnd() < 0.5 ? null : `${Math.floor(rnd() * 1e7)}.00`,
    datetime(rnd, 3).slice(0, 23),
    rnd() < 0.7 ? null : `Observação: ${pick(rnd, EMOJI)} cliente desde ${1990 + Math.floor(rnd() * 30)}\nSegunda linha`
  ]
}

export function priceRow (rnd: () => number, list: string, product: number): Row {
  return [list, `P${pad(product, 6)}`, `${Math.floor(rnd() * 10000)}.${pad(Math.floor(rnd() * 10000), 4)}`, list === 'EXP1' ? 'USD' : 'BRL', '2024-01-01', rnd() < 0.5 ? null : '2026-12-31']
}

async function insertMany (sql: Connection, table: string, rows: Row[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    await sql.query(`INSERT INTO ${table} VALUES ?`, [rows.slice(i, i + 500)])
  }
}

export interface DemoSize {
  products: number
  customers: number
}

/** Creates the demo ERP's three tables in the connection's database and fills them. */
export async function createDemoErp (sql: Connection, size: DemoSize): Promise<void> {
  const rnd = seededRandom(42)
  await sql.query(PRODUCTS_DDL)
  await sql.query(CUSTOMERS_DDL)
  await sql.query(PRICE_LIST_DDL)
  await insertMany(sql, 'Produtos', Array.from({ length: size.products }, (_, i) => productRow(rnd, i + 1)))
  await insertMany(sql, 'Clientes', Array.from({ length: size.customers }, (_, i) => customerRow(rnd, i + 1)))
  const prices: Row[] = []
  for (const list of ['VAR1', 'ATA2', 'EXP1']) {
    for (let p = 1; p <= size.products; p += list === 'EXP1' ? 3 : 1) prices.push(priceRow(rnd, list, p))
  }
  await insertMany(sql, 'TabelaPrecos', prices)
}

export interface ChangeSummary {
  updated: number
  inserted: number
  deleted: number
}

/** What an ERP does between two loads: updates, inserts and deletes in every table. */
export async function changeDemoErp (sql: Connection, size: DemoSize): Promise<Record<string, ChangeSummary>> {
  const rnd = seededRandom(7)
  const [u1] = await sql.query('UPDATE Produtos SET Preco = LEAST(ROUND(Preco * 1.1, 4) + 0.0001, 999999999999999.9999), Descr = CONCAT(Descr, \' (novo preço) ✨\'), DataAlt = \'2026-11-29 10:15:30.123456\' WHERE MOD(CAST(SUBSTRING(ProdCode, 2) AS UNSIGNED), 20) = 0') as unknown as [{ affectedRows: number }]
  const [d1] = await sql.query('DELETE FROM Produtos WHERE MOD(CAST(SUBSTRING(ProdCode, 2) AS UNSIGNED), 97) = 0') as unknown as [{ affectedRows: number }]
  const newProducts = Array.from({ length: 50 }, (_, i) => productRow(rnd, size.products + i + 1))
  await insertMany(sql, 'Produtos', newProducts)
  const [u2] = await sql.query('UPDATE Clientes SET Saldo = Saldo - 10.01, Obs = \'atualizado 🙂\' WHERE MOD(CliId, 25) = 0') as unknown as [{ affectedRows: number }]
  const [d2] = await sql.query('DELETE FROM Clientes WHERE MOD(CliId, 101) = 0') as unknown as [{ affectedRows: number }]
  await insertMany(sql, 'Clientes', Array.from({ length: 30 }, (_, i) => customerRow(rnd, size.customers + i + 1)))
  const [u3] = await sql.query('UPDATE TabelaPrecos SET Preco = Preco + 1 WHERE Lista = \'ATA2\' AND MOD(CAST(SUBSTRING(ProdCode, 2) AS UNSIGNED), 10) = 0') as unknown as [{ affectedRows: number }]
  const [d3] = await sql.query('DELETE FROM TabelaPrecos WHERE Lista = \'EXP1\' AND MOD(CAST(SUBSTRING(ProdCode, 2) AS UNSIGNED), 7) = 0') as unknown as [{ affectedRows: number }]
  return {
    products: { updated: u1.affectedRows, inserted: 50, deleted: d1.affectedRows },
    customers: { updated: u2.affectedRows, inserted: 30, deleted: d2.affectedRows },
    price_list: { updated: u3.affectedRows, inserted: 0, deleted: d3.affectedRows }
  }
}

/** The sisporta.yaml for the demo ERP: three streams, every wire type, a composite key. */
export function demoConfigYaml (): string {
  return `# sisporta demo: generated by \`sisporta demo\`
streams:
  - name: products
    source: { table: Produtos }
    target: { table: products, key: [sku] }
    deletes: hard
    maxDeleteRatio: 0.2
    columns:
      - { name: sku,          from: ProdCode,   type: string, length: 20 }
      - { name: name,         from: Descr,      type: string, length: 200 }
      - { name: description,  from: DescrLonga, type: string }
      - { name: category,     from: Categoria,  type: string, length: 40 }
      - { name: price,        from: Preco,      type: decimal, precision: 19, scale: 4 }
      - { name: avg_cost,     from: CustoMedio, type: decimal, precision: 38, scale: 10 }
      - { name: stock,        from: Estoque,    type: bigint }
      - { name: units,        from: Unidades,   type: int }
      - { name: weight,       from: Peso,       type: float }
      - { name: active,       from: Ativo,      type: bool }
      - { name: launched_on,  from: Lancamento, type: date }
      - { name: updated_at,   from: DataAlt,    type: datetime }
      - { name: guid,         from: Guid,       type: uuid }
      - { name: thumbnail,    from: Miniatura,  type: binary, length: 64 }
      - { name: attributes,   from: Atributos,  type: json }
  - name: customers
    source: { table: Clientes }
    target: { table: customers, key: [id] }
    deletes: hard
    columns:
      - { name: id,           from: CliId,  type: int }
      - { name: name,         from: Nome,   type: string, length: 120 }
      - { name: email,        from: Email,  type: string, length: 160 }
      - { name: city,         from: Cidade, type: string, length: 80 }
      - { name: balance,      from: Saldo,  type: decimal, precision: 19, scale: 2 }
      - { name: credit_limit, from: Limite, type: decimal, precision: 19, scale: 2 }
      - { name: created_at,   from: Criado, type: datetime }
      - { name: notes,        from: Obs,    type: string }
  - name: price_list
    source: { table: TabelaPrecos }
    target: { table: price_list, key: [list, sku] }
    deletes: hard
    columns:
      - { name: list,        from: Lista,     type: string, length: 4 }
      - { name: sku,         from: ProdCode,  type: string, length: 20 }
      - { name: price,       from: Preco,     type: decimal, precision: 19, scale: 4 }
      - { name: currency,    from: Moeda,     type: string, length: 3 }
      - { name: valid_from,  from: ValidoDe,  type: date }
      - { name: valid_until, from: ValidoAte, type: date }
`
}
