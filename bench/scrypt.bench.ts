import { scrypt as nodeScrypt, randomBytes } from 'node:crypto';
import scryptJsModule from 'scrypt-js';
import { DEFAULT_SCRYPT_PARAMS } from '../lambda/passwords';
import { type Bench, round, stats } from './lib';

// scrypt-js is CommonJS: under plain Node ESM only its default export exists.
const scryptJs = scryptJsModule.scrypt;

/** node:crypto scrypt against pure-JS scrypt-js at the configured parameters, same inputs, same bytes. */
export const scryptBench: Bench = {
  name: 'scrypt',
  async run() {
    const { N, r, p } = DEFAULT_SCRYPT_PARAMS;
    const password = Buffer.from('correct horse battery staple', 'utf8');
    const native: number[] = [];
    const pure: number[] = [];
    let identical = true;
    for (let i = 0; i < 5; i++) {
      const salt = randomBytes(16);
      let start = performance.now();
      const a = await new Promise<Buffer>((resolve, reject) =>
        nodeScrypt(password, salt, 32, { N, r, p, maxmem: 256 * N * r }, (error, key) =>
          error ? reject(error) : resolve(key),
        ),
      );
      native.push(performance.now() - start);
      start = performance.now();
      const b = Buffer.from(await scryptJs(password, salt, N, r, p, 32));
      pure.push(performance.now() - start);
      identical &&= a.equals(b);
    }
    const n = stats(native);
    const j = stats(pure);
    return {
      name: `scrypt N=2^${Math.log2(N)} r=${r} p=${p} (5 runs each, same inputs)`,
      columns: ['implementation', 'median ms', 'mean ms', 'ratio to node:crypto'],
      rows: [
        ['node:crypto scrypt', round(n.p50, 1), round(n.mean, 1), 1],
        ['scrypt-js', round(j.p50, 1), round(j.mean, 1), round(j.p50 / n.p50)],
      ],
      notes: [`outputs byte-identical: ${identical ? 'yes' : 'NO'}`],
      data: { native, pure, identical },
    };
  },
};
