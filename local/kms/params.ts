/** Request parameters: typed, validated access to a KMS request body, failing the way KMS does. */
import { KmsError, serializationError, validationError } from './errors';

export interface StringConstraints {
  min?: number;
  max?: number;
  pattern?: RegExp;
}

export interface Tag {
  TagKey: string;
  TagValue: string;
}

const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export class Params {
  private constructor(private readonly body: Record<string, unknown>) {}

  static parse(raw: Buffer): Params {
    if (raw.length === 0) return new Params({});
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw serializationError('The request body is not valid JSON.');
    }
    if (!isPlainObject(body)) throw serializationError('The request body must be a JSON object.');
    return new Params(body);
  }

  optionalString(field: string, { min = 1, max = Infinity, pattern }: StringConstraints = {}): string | undefined {
    const value = this.value(field);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw serializationError(`'${field}' must be a string.`);
    if (value.length < min)
      throw validationError(field, `Member must have length greater than or equal to ${min}`, value);
    if (value.length > max) throw validationError(field, `Member must have length less than or equal to ${max}`, value);
    if (pattern && !pattern.test(value))
      throw validationError(field, `Member must satisfy regular expression pattern: ${pattern.source}`, value);
    return value;
  }

  string(field: string, constraints?: StringConstraints): string {
    return this.optionalString(field, constraints) ?? this.missing(field);
  }

  optionalEnum<T extends string>(field: string, values: readonly T[]): T | undefined {
    const value = this.optionalString(field, { min: 0 });
    if (value === undefined) return undefined;
    if (!(values as readonly string[]).includes(value)) {
      throw validationError(field, `Member must satisfy enum value set: [${values.join(', ')}]`, value);
    }
    return value as T;
  }

  enum<T extends string>(field: string, values: readonly T[]): T {
    return this.optionalEnum(field, values) ?? this.missing(field);
  }

  /** A base64 blob; its value is never echoed in errors (it may be sensitive). */
  blob(field: string, constraints?: { min?: number; max?: number }): Buffer {
    return this.optionalBlob(field, constraints) ?? this.missing(field);
  }

  optionalBlob(field: string, { min = 1, max = Infinity }: { min?: number; max?: number } = {}): Buffer | undefined {
    const value = this.value(field);
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !BASE64_PATTERN.test(value)) {
      throw serializationError(`'${field}' must be a base64-encoded string.`);
    }
    const bytes = Buffer.from(value, 'base64');
    if (bytes.length < min) throw validationError(field, `Member must have length greater than or equal to ${min}`);
    if (bytes.length > max) throw validationError(field, `Member must have length less than or equal to ${max}`);
    return bytes;
  }

  optionalInteger(field: string, { min, max }: { min: number; max: number }): number | undefined {
    const value = this.value(field);
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value))
      throw serializationError(`'${field}' must be an integer.`);
    if (value < min)
      throw validationError(field, `Member must have value greater than or equal to ${min}`, String(value));
    if (value > max) throw validationError(field, `Member must have value less than or equal to ${max}`, String(value));
    return value;
  }

  optionalBoolean(field: string): boolean | undefined {
    const value = this.value(field);
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') throw serializationError(`'${field}' must be a boolean.`);
    return value;
  }

  /** A map of strings to strings, such as an EncryptionContext; empty when absent. */
  stringMap(field: string): Record<string, string> {
    const value = this.value(field);
    if (value === undefined) return {};
    if (!isPlainObject(value)) throw serializationError(`'${field}' must be a map of strings.`);
    const entries = Object.entries(value);
    if (entries.some(([, entry]) => typeof entry !== 'string')) {
      throw serializationError(`'${field}' values must be strings.`);
    }
    // fromEntries defines own properties, so even a key named __proto__ stays a pair.
    return Object.fromEntries(entries) as Record<string, string>;
  }

  optionalTags(field: string): Tag[] | undefined {
    const value = this.value(field);
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) throw serializationError(`'${field}' must be a list.`);
    return value.map((entry: unknown) => {
      if (!isPlainObject(entry)) throw serializationError(`'${field}' entries must be objects.`);
      const tag = new Params(entry);
      const TagKey = tag.string('TagKey', { min: 1, max: 128 });
      const TagValue = tag.string('TagValue', { min: 0, max: 256 });
      if (TagKey.toLowerCase().startsWith('aws:')) {
        throw new KmsError('TagException', `Tag keys must not begin with 'aws:' (got '${TagKey}').`);
      }
      return { TagKey, TagValue };
    });
  }

  private value(field: string): unknown {
    const value = Object.hasOwn(this.body, field) ? this.body[field] : undefined;
    return value === null ? undefined : value;
  }

  private missing(field: string): never {
    throw validationError(field, 'Member must not be null', null);
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
