import { withoutByteOrderMark } from '../text';
/**
 * Parses RFC 4180 CSV (quoted fields, `""` escapes, CRLF or LF, a leading BOM) into rows keyed by the header's
 * column names. Throws with the line number when a quote is left open or a row has more fields than the header.
 */
export function parseCsv(text: string): { header: string[]; rows: Record<string, string>[] } {
  const records = csvRecords(withoutByteOrderMark(text));
  const header = (records.shift() ?? { fields: [], line: 1 }).fields.map((h) => h.trim());
  const rows: Record<string, string>[] = [];
  for (const { fields, line } of records) {
    if (fields.length === 1 && fields[0] === '') continue; // blank line
    if (fields.length > header.length) throw new Error(`line ${line}: ${fields.length} fields, the header has ${header.length}`);
    const row: Record<string, string> = {};
    header.forEach((name, i) => (row[name] = fields[i] ?? ''));
    rows.push(row);
  }
  return { header, rows };
}

function csvRecords(text: string): { fields: string[]; line: number }[] {
  const records: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      records.push({ fields, line: start });
      fields = [];
      field = '';
      start = ++line;
    } else field += c;
  }
  if (quoted) throw new Error(`line ${start}: a quoted field is not closed`);
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    records.push({ fields, line: start });
  }
  return records;
}
