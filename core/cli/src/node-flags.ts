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
 *
 * `--initial-old-space-size=64` on Node 20: V8 counts the Buffers a backup or a restore
 * promotes (chunks in flight between threads and stages) against the old generation's limit,
 * which it sets at about twice sov's 13 MiB of live objects. In two runs of three it then ran out
 * of room every 100-200 ms: a 1 GiB backup made 10 to 24 full collections on the event-loop
 * thread, 0.2-0.5 s of marking, and a small-files restore 15 (0.2 s). A first limit of 64 MiB
 * leaves them at 0 to 2 in every run, and peak RSS where it was (170-191 MiB). Not on Node 22:
 * there the same flag put three backups of six at 203-210 MiB, past the 200 MiB sov keeps to.
 */
export function sovNodeFlags(nodeVersion: string = process.version): string[] {
  const major = Number(/^v?(\d+)\./.exec(nodeVersion)?.[1]);
  if (major === 20) return ["--single-threaded-gc", "--initial-old-space-size=64"];
  return major === 22 ? ["--single-threaded-gc"] : [];
}
