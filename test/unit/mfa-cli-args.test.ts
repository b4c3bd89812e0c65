import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../bin/admin/args';
import { runCli } from '../../bin/admin/cli';
import { stackSettingsFromOutputs } from '../../bin/admin/stack-outputs';
import {
  ISSUER_OUTPUT,
  MFA_CHALLENGES_TABLE_NAME_OUTPUT,
  MFA_KEY_ID_OUTPUT,
  REQUIRED_STACK_OUTPUTS,
} from '../../contract/stack-outputs';

/** The three-word commands `users mfa enroll|disable`, as the parser, the help and did-you-mean see them. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    stdin: process.stdin,
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
    env: { LOCAL_STATE_DIR: '/nonexistent/ropc-state' },
  });
  return { code, out, err };
}

describe('users mfa enroll|disable on the command line', () => {
  it('parses the three words, the name and the options', () => {
    const parsed = parseCommandLine(['users', 'mfa', 'enroll', 'alice', '--json']);
    expect(parsed).toMatchObject({ kind: 'command', command: { id: 'users mfa enroll' }, args: { NAME: 'alice' } });
    expect(parseCommandLine(['--json', 'users', 'mfa', 'disable', 'bob'])).toMatchObject({
      command: { id: 'users mfa disable' },
      args: { NAME: 'bob' },
    });
  });

  it('prints each command’s help, and the pair’s', async () => {
    const enroll = await cli('users', 'mfa', 'enroll', '--help');
    expect(enroll.code).toBe(0);
    expect(enroll.out).toMatch(/^Usage: ropc-admin users mfa enroll NAME\n/);
    expect(enroll.out).toContain('recovery codes');
    const disable = await cli('help', 'users', 'mfa', 'disable');
    expect(disable.out).toMatch(/^Usage: ropc-admin users mfa disable NAME\n/);
    const both = await cli('users', 'mfa', '--help');
    expect(both.code).toBe(0);
    expect(both.out).toContain('users mfa enroll');
    expect(both.out).toContain('users mfa disable');
    expect((await cli('users', '--help')).out).toContain('users mfa enroll');
  });

  it('suggests the nearest command for a misspelt word, with exit status 2', async () => {
    const misspelt = await cli('users', 'mfa', 'enrol', 'alice');
    expect(misspelt.code).toBe(2);
    expect(misspelt.err).toContain('unknown command "users mfa enrol"');
    expect(misspelt.err).toContain('"users mfa enroll"');
    const group = await cli('users', 'mfx', 'enroll', 'alice');
    expect(group.code).toBe(2);
    expect(group.err).toContain('"users mfa"');
    expect(group.err).not.toMatch(/mfa\|mfa/);
  });

  it('names what is missing', async () => {
    const bare = await cli('users', 'mfa');
    expect(bare.code).toBe(2);
    expect(bare.err).toContain('missing command after "users mfa" (one of enroll|disable)');
    const nameless = await cli('users', 'mfa', 'enroll');
    expect(nameless.code).toBe(2);
    expect(nameless.err).toContain('missing NAME (usage: ropc-admin users mfa enroll NAME)');
    const extra = await cli('users', 'mfa', 'disable', 'a', 'b');
    expect(extra.err).toContain('unexpected argument "b"');
  });
});

describe('the MFA key of a deployed stack (--stack)', () => {
  const outputs = REQUIRED_STACK_OUTPUTS.map((key) => ({
    OutputKey: key,
    OutputValue: key === ISSUER_OUTPUT ? 'https://auth.example.com' : `value-of-${key}`,
  }));
  const keyArn = 'arn:aws:kms:eu-west-1:111122223333:key/0f0e0d0c-0b0a-4000-8000-000000000001';

  it('is read from the MfaKeyId output, with the challenges table', () => {
    const settings = stackSettingsFromOutputs('prod', [
      ...outputs,
      { OutputKey: MFA_KEY_ID_OUTPUT, OutputValue: keyArn },
      { OutputKey: MFA_CHALLENGES_TABLE_NAME_OUTPUT, OutputValue: 'prod-mfa' },
    ]);
    expect(settings.mfaKeyId).toBe(keyArn);
    expect(settings.tables.mfaChallenges).toBe('prod-mfa');
  });

  it('is absent for a stack deployed before the second factor: enroll says to deploy first, and touches nothing', async () => {
    const settings = stackSettingsFromOutputs('old', outputs);
    expect(settings).not.toHaveProperty('mfaKeyId');
    expect(settings.issuer).toBe('https://auth.example.com');
    let err = '';
    const code = await runCli(
      ['users', 'mfa', 'enroll', 'alice', '--stack', 'old', '--region', 'eu-west-1'],
      { stdin: process.stdin, stdout: () => undefined, stderr: (text) => void (err += text), env: {} },
      { describeStackOutputs: async () => outputs },
    );
    expect(code).toBe(1);
    expect(err).toContain('has no MfaKeyId output: deploy this version of the stack first');
  });
});
