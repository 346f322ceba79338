/**
 * The row and column a MySQL error or warning message names, with the row counted in the batch:
 * the server counts rows within one statement ("Data truncated for column 'qty' at row 3"), and
 * a batch is cut into several statements, so row 3 of the statement that starts at batch row
 * `first` is batch row first + 2 (0-based, as the batch numbers its rows). Undefined when the
 * message names no row. `text` is the message without its " at row N".
 *
 * @example
 * rowOfStatement("Data truncated for column 'qty' at row 3", 2000)
 * // { row: 2002, column: 'qty', text: "Data truncated for column 'qty'" }
 */
export function rowOfStatement (message: string, first: number): { row: number, column: string, text: string } | undefined {
  const match = ROW_OF_VALUE.exec(message)
  if (match === null) return undefined
  return { row: first + Number(match[2]) - 1, column: match[1]!, text: message.replace(/ at row \d+$/, '') }
}

/** `… for column `db`.`table`.`name` at row N` (MariaDB) or `… for column 'name' at row N` (MySQL, MariaDB's notes). */
const ROW_OF_VALUE = /column (?:`[^`]*`\.`[^`]*`\.)?[`']([^`']+)[`'] at row (\d+)$/
