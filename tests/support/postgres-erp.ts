import type pg from 'pg'
import { customerRow, priceRow, productRow, seededRandom, type Row } from '@sisporta/cli'

/**
 * The demo ERP of `sisporta demo` (same rows, same generators) in PostgreSQL: unquoted names,
 * so the tables are `produtos`, `clientes`, `tabelaprecos`, found by the same config
 * (`table: Produtos`, `from: ProdCode`) through the dialect's case-insensitive catalogue match.
 */
const DDL = [
  `CREATE TABLE Produtos (
    ProdCode VARCHAR(20) NOT NULL PRIMARY KEY, Descr VARCHAR(200) NOT NULL, DescrLonga TEXT NULL,
    Categoria VARCHAR(40) NOT NULL, Preco NUMERIC(19,4) NOT NULL, CustoMedio NUMERIC(38,10) NULL,
    Estoque BIGINT NULL, Unidades INT NULL, Peso DOUBLE PRECISION NULL, Ativo BOOLEAN NOT NULL,
    Lancamento DATE NULL, DataAlt TIMESTAMP(6) NOT NULL, Guid UUID NOT NULL, Miniatura BYTEA NULL, Atributos JSONB NULL)`,
  `CREATE TABLE Clientes (
    CliId INT NOT NULL PRIMARY KEY, Nome VARCHAR(120) NOT NULL, Email VARCHAR(160) NULL, Cidade VARCHAR(80) NULL,
    Saldo NUMERIC(19,2) NOT NULL, Limite NUMERIC(19,2) NULL, Criado TIMESTAMP(3) NOT NULL, Obs TEXT NULL)`,
  `CREATE TABLE TabelaPrecos (
    Lista CHAR(4) NOT NULL, ProdCode VARCHAR(20) NOT NULL, Preco NUMERIC(19,4) NOT NULL, Moeda CHAR(3) NOT NULL,
    ValidoDe DATE NOT NULL, ValidoAte DATE NULL, PRIMARY KEY (Lista, ProdCode))`
]

async function insert (sql: pg.Client, table: string, rows: Row[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 200) {
    const chunk = rows.slice(i, i + 200)
    const width = chunk[0]!.length
    const placeholders = chunk.map((_, r) => `(${Array.from({ length: width }, (_, c) => `$${r * width + c + 1}`).join(', ')})`).join(', ')
    await sql.query(`INSERT INTO ${table} VALUES ${placeholders}`, chunk.flat())
  }
}

export async function createPostgresErp (sql: pg.Client, size: { products: number, customers: number }, extra: Row[] = []): Promise<void> {
  const rnd = seededRandom(42)
  for (const ddl of DDL) await sql.query(ddl)
  await insert(sql, 'Produtos', [...Array.from({ length: size.products }, (_, i) => productRow(rnd, i + 1)), ...extra])
  await insert(sql, 'Clientes', Array.from({ length: size.customers }, (_, i) => customerRow(rnd, i + 1)))
  const prices: Row[] = []
  for (const list of ['VAR1', 'ATA2', 'EXP1']) {
    for (let p = 1; p <= size.products; p += list === 'EXP1' ? 3 : 1) prices.push(priceRow(rnd, list, p))
  }
  await insert(sql, 'TabelaPrecos', prices)
}

/** The ERP's day between two loads, as `changeDemoErp` does it in MariaDB. */
export async function changePostgresErp (sql: pg.Client, size: { products: number, customers: number }): Promise<{ deletedProducts: number }> {
  const rnd = seededRandom(7)
  await sql.query("UPDATE Produtos SET Preco = LEAST(ROUND(Preco * 1.1, 4) + 0.0001, 999999999999999.9999), Descr = Descr || ' (novo preço) ✨', DataAlt = '2026-11-29 10:15:30.123456' WHERE MOD(CAST(SUBSTRING(ProdCode, 2) AS INTEGER), 20) = 0")
  const deleted = await sql.query('DELETE FROM Produtos WHERE MOD(CAST(SUBSTRING(ProdCode, 2) AS INTEGER), 97) = 0')
  await insert(sql, 'Produtos', Array.from({ length: 50 }, (_, i) => productRow(rnd, size.products + i + 1)))
  await sql.query("UPDATE Clientes SET Saldo = Saldo - 10.01, Obs = 'atualizado 🙂' WHERE MOD(CliId, 25) = 0")
  await sql.query('DELETE FROM Clientes WHERE MOD(CliId, 101) = 0')
  await insert(sql, 'Clientes', Array.from({ length: 30 }, (_, i) => customerRow(rnd, size.customers + i + 1)))
  await sql.query("DELETE FROM TabelaPrecos WHERE Lista = 'EXP1' AND MOD(CAST(SUBSTRING(ProdCode, 2) AS INTEGER), 7) = 0")
  return { deletedProducts: deleted.rowCount ?? 0 }
}
