import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { UsageError, type InputRecords } from '@optex/runtime';


async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Reads recommendations from FILE (`-` = stdin): a JSON array, or NDJSON (one record per line).
 * A file that cannot be read, or a JSON array that does not parse, is a usage error; a bad
 * line of NDJSON is just a bad record (reported as rejected).
 */
export async function readInput(file: string): Promise<InputRecords> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? (error as Error).message)}`);
  }
  const name = file === '-' ? 'stdin' : file;
  const deliveryPrefix = `input:${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`unreadable input ${name}: a JSON array that does not parse (${(error as Error).message})`);
    }
    return { records: (parsed as unknown[]).map((r) => JSON.stringify(r)), deliveryPrefix, name };
  }
  if (trimmed.startsWith('{') || trimmed === '') {
    return { records: text.split(/\r?\n/).filter((l) => l.trim().length > 0), deliveryPrefix, name };
  }
  throw new UsageError(`unreadable input ${name}: expected a JSON array or NDJSON (one JSON object per line)`);
}
