import { createConnection, createServer, type AddressInfo, type Socket } from "node:net";

/** A TCP relay in front of a server, that a test takes down to play an endpoint failing mid-run. */
export interface TcpRelay {
  /** `http://127.0.0.1:PORT`: point the client here instead of at the server. */
  readonly endpoint: string;
  /** True once the relay went down (by `stop()` or after `downAfterBytes`). */
  readonly isDown: boolean;
  /** Refuses new connections and resets the open ones. */
  stop(): Promise<void>;
}

/**
 * Relays 127.0.0.1:<random port> to `target` (an `http://host:port` URL). With
 * `downAfterBytes`, it goes down by itself once that many bytes went upstream.
 */
export async function startTcpRelay(target: string, opts: { downAfterBytes?: number } = {}): Promise<TcpRelay> {
  const url = new URL(target);
  const sockets = new Set<Socket>();
  let forwarded = 0;
  let isDown = false;
  const server = createServer((client) => {
    const upstream = createConnection({ host: url.hostname, port: Number(url.port) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
    }
    client.on("data", (chunk: Buffer) => {
      forwarded += chunk.length;
      if (opts.downAfterBytes !== undefined && forwarded >= opts.downAfterBytes) void stop();
    });
    client.pipe(upstream).pipe(client);
  });
  const closed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  const stop = async () => {
    if (server.listening) server.close();
    for (const socket of sockets) socket.destroy();
    isDown = true;
    await closed;
  };
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get isDown() {
      return isDown;
    },
    stop,
  };
}
