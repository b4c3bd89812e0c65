/**
 * Local emulator of the AWS KMS JSON API ("TrentService"), for tests and local runs.
 *
 * It speaks the real wire protocol (POST /, `X-Amz-Target: TrentService.<Operation>`,
 * `application/x-amz-json-1.1`, base64 blobs, epoch-second timestamps, errors as
 * `{"__type": ..., "message": ...}`), so the unmodified `@aws-sdk/client-kms` works against it
 * with `endpoint: emulator.endpoint` and any region and static credentials.
 *
 * Scope: asymmetric signing keys (RSA_2048, ECC_NIST_P256 with KeyUsage SIGN_VERIFY), symmetric
 * encryption keys (SYMMETRIC_DEFAULT with KeyUsage ENCRYPT_DECRYPT: Encrypt, Decrypt, ReEncrypt,
 * GenerateDataKey[WithoutPlaintext], in the emulator's own authenticated ciphertext format, see
 * kms/ciphertext.ts) and the operations in OPERATIONS (kms/operations.ts). Key material never leaves
 * the emulator except in its own state file (when `stateDir` is given); neither keys nor message,
 * plaintext or data-key contents are ever logged.
 *
 * Test-only control endpoint (not part of KMS): `POST /_emulator/faults` with a KmsFault as JSON
 * adds a fault, `DELETE /_emulator/faults` clears them, `GET /_emulator/faults` lists them.
 *
 * This file is the public entry; the implementation lives in ./kms/: protocol (HTTP, dispatch,
 * responses), operations, key-store (keys, aliases, tags, persistence), faults, params, errors,
 * vocabulary, signing/p256 (signature math) and ciphertext (the symmetric ciphertext blob).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultInjector, type KmsFault, normalizeFault } from './kms/faults';
import { KeyStore } from './kms/key-store';
import { KmsHttpServer } from './kms/protocol';

export type { KmsFault } from './kms/faults';

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

export interface KmsEmulatorOptions {
  /** 0 or omitted = a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** When set, keys, aliases, tags and key states persist in a JSON file in this directory. */
  stateDir?: string;
  /** Default us-east-1. */
  region?: string;
  /** Default 000000000000. */
  accountId?: string;
}

export interface KmsEmulator {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  readonly accountId: string;
  injectFault(fault: KmsFault): void;
  clearFaults(): void;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Start / stop
// ---------------------------------------------------------------------------------------------

export async function startKmsEmulator(options: KmsEmulatorOptions = {}): Promise<KmsEmulator> {
  const { port = 0, host = '127.0.0.1', stateDir, region = 'us-east-1', accountId = '000000000000' } = options;
  if (!/^\d{12}$/.test(accountId)) throw new TypeError('accountId must be 12 digits.');
  if (!/^[a-z0-9-]+$/.test(region)) throw new TypeError(`Invalid region '${region}'.`);

  const store = await KeyStore.open(region, accountId, stateDir);
  const faults = new FaultInjector();
  const kms = new KmsHttpServer(store, faults);
  const server = createServer(kms.listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const boundPort = (server.address() as AddressInfo).port;
  const endpoint = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;

  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port: boundPort,
    region,
    accountId,
    injectFault: (fault) => faults.add(normalizeFault(fault)),
    clearFaults: () => faults.clear(),
    stop: () => {
      stopping ??= (async () => {
        kms.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await store.flush();
      })();
      return stopping;
    },
  };
}
