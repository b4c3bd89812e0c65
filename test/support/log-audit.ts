import { expect } from 'vitest';

/**
 * The log audit every end-to-end test file runs over the log lines its stack wrote: no password, client
 * secret, token or Authorization value may appear. Besides the values a test registers, it looks for
 * shapes: a JWT, a Basic credential, and any 43-character base64url run (256-bit refresh tokens and
 * client secrets have exactly that form; the service logs no hashes of that length).
 */
export class LogAudit {
  readonly lines: string[] = [];
  private readonly secrets = new Set<string>();

  readonly sink = (line: string) => {
    this.lines.push(line);
  };

  secret(...values: (string | undefined)[]): void {
    for (const value of values) if (value !== undefined && value.length >= 6) this.secrets.add(value);
  }

  /** Registers what a token response carried. */
  tokens(body: { access_token?: string; refresh_token?: string }): void {
    this.secret(body.access_token, body.refresh_token);
  }

  expectClean(lines: readonly string[] = this.lines): void {
    expect(lines.length).toBeGreaterThan(0);
    const leaks: string[] = [];
    for (const line of lines) {
      for (const secret of this.secrets)
        if (line.includes(secret)) leaks.push(`registered value in: ${line.slice(0, 200)}`);
      if (/eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+/.test(line)) leaks.push(`JWT in: ${line.slice(0, 200)}`);
      if (/basic\s+[A-Za-z0-9+/=]{8,}/i.test(line)) leaks.push(`Basic credential in: ${line.slice(0, 200)}`);
      if (/(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/.test(line))
        leaks.push(`256-bit secret shape in: ${line.slice(0, 200)}`);
    }
    expect(leaks).toEqual([]);
  }
}
