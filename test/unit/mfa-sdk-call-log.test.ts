import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterEach, describe, expect, it } from 'vitest';
import { recordSdkCalls } from '../../lambda/adapters/sdk-call-log';

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** A KMS client answered after the recorder saw the call: no network. */
function answeringClient(): KMSClient {
  const client = new KMSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  client.middlewareStack.add(
    () => async () => ({
      response: {},
      output: {
        KeyId: KEY_ARN,
        Plaintext: Uint8Array.from([1, 2]),
        CiphertextBlob: Uint8Array.from([3]),
        $metadata: {},
      },
    }),
    { step: 'initialize', priority: 'low', name: 'answer' },
  );
  return client;
}

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the SDK call log of TOTP secret encryption', () => {
  it('records the encryption context’s keys (kms:EncryptionContextKeys), never its values, the plaintext or the ciphertext', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sdk-call-log-mfa-'));
    const client = answeringClient();
    recordSdkCalls(client, 'kms', 'operator', { ROPC_SDK_CALL_LOG: dir });
    const context = { userId: 'u-4f1c9e' };
    await client.send(
      new EncryptCommand({
        KeyId: 'alias/mfa',
        Plaintext: Buffer.from('JBSWY3DPEHPK3PXP'),
        EncryptionContext: context,
        EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      }),
    );
    await client.send(
      new DecryptCommand({ KeyId: 'alias/mfa', CiphertextBlob: Buffer.from('sealed'), EncryptionContext: context }),
    );
    const text = readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8');
    const records = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(records.map((record) => record.input)).toEqual([
      { KeyId: 'alias/mfa', EncryptionAlgorithm: 'SYMMETRIC_DEFAULT', EncryptionContext: ['userId'] },
      { KeyId: 'alias/mfa', EncryptionContext: ['userId'] },
    ]);
    expect(records.map((record) => record.output)).toEqual([{ KeyId: KEY_ARN }, { KeyId: KEY_ARN }]);
    for (const secret of ['u-4f1c9e', 'JBSWY3DPEHPK3PXP', 'sealed']) expect(text).not.toContain(secret);
  });
});
