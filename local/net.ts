import { createServer } from 'node:net';

/**
 * A TCP port that was free on `host` a moment ago: listen on port 0, read the port the OS chose, close.
 * Another process can still take it before the caller binds it, so callers that spawn servers should
 * retry on EADDRINUSE.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`freePort: unexpected server address ${String(address)}`));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/**
 * Whether `port` on `host` is taken: true when listening on it fails with EADDRINUSE (or EACCES, a port
 * this user may not bind). Any other failure is thrown. The port is released again before this resolves.
 */
export function portTaken(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(true);
      else reject(err);
    });
    server.listen({ port, host, exclusive: true }, () => {
      server.close((err) => (err ? reject(err) : resolve(false)));
    });
  });
}
