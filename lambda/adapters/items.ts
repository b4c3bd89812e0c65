/**
 * Reading stored items back into typed values. A malformed item is a defect (or tampering), not a
 * client error: it throws, and the endpoint answers 500 without detail.
 */
export class CorruptItemError extends Error {
  constructor(table: string, attribute: string) {
    super(`item in ${table} has an invalid ${attribute}`);
    this.name = 'CorruptItemError';
  }
}

type Item = Record<string, unknown>;

export function str(item: Item, table: string, name: string): string {
  const value = item[name];
  if (typeof value !== 'string') throw new CorruptItemError(table, name);
  return value;
}

export function optionalStr(item: Item, table: string, name: string): string | undefined {
  return item[name] === undefined ? undefined : str(item, table, name);
}

export function num(item: Item, table: string, name: string): number {
  const value = item[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new CorruptItemError(table, name);
  return value;
}

export function bool(item: Item, table: string, name: string): boolean {
  const value = item[name] ?? false;
  if (typeof value !== 'boolean') throw new CorruptItemError(table, name);
  return value;
}

export function strList(item: Item, table: string, name: string): string[] {
  const value = item[name] ?? [];
  if (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string'))
    throw new CorruptItemError(table, name);
  return value as string[];
}

/** DynamoDB partition keys hold at most 2048 bytes; longer request values cannot name an item. */
export function isUsableKey(key: string): boolean {
  return key.length > 0 && Buffer.byteLength(key, 'utf8') <= 1024;
}
