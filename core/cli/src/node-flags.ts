/**
 * The flags Node is started with to run sov; the wrappers `sov install` writes, the package's
 * bin/ scripts, the test helpers and the bench all use them.
 *
 * `--single-threaded-gc` on Node 20 and 22: V8's parallel and concurrent collector threads
 * compete with sov's own threads (walker, zstd frames) for the cores; on two cores doing that
 * work on the main thread cut a backup's CPU by 7% and `--verify`'s by 25%. Not on Node 24,
 * whose V8 then lets dead Buffers pile up: an lz4 `--verify` of 1 GiB of zeros peaked at
 * 852 MiB with it and 236 MiB without. V8 takes the flag only at start-up (setting it later
 * aborts a marking in progress) and Node refuses it in NODE_OPTIONS, so each launcher passes it.
 */
export function sovNodeFlags(nodeVersion: string = process.version): string[] {
  const major = Number(/^v?(\d+)\./.exec(nodeVersion)?.[1]);
  return major === 20 || major === 22 ? ["--single-threaded-gc"] : [];
}
