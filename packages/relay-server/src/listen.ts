import type { Server } from 'node:http';

/** Binds an HTTP(S) server; rejects with the listen error (EADDRINUSE, EACCES, …). */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
