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
 * leaves them at 0 to 2 in every run; the memory they freed is freed later, which raised a
 * 4 GiB backup's peak by about 9 MiB (SOV_NODE_ENV below takes most of it back). Not on Node
 * 22 or 24: there it put 1 GiB backups past the 200 MiB sov keeps to (up to 210 and 241 MiB).
 */
export function sovNodeFlags(nodeVersion: string = process.version): string[] {
  const major = Number(/^v?(\d+)\./.exec(nodeVersion)?.[1]);
  if (major === 20) return ["--single-threaded-gc", "--initial-old-space-size=64"];
  return major === 22 ? ["--single-threaded-gc"] : [];
}

/**
 * The environment the launchers give Node, where the caller's has no value of its own:
 * `MALLOC_ARENA_MAX=2`. glibc gives every thread that allocates a malloc arena of its own, and
 * sov's threads (the event loop, the walker, two zstd threads, libuv's pool) each kept freed
 * Buffers' memory in theirs: a 1 GiB backup peaked at 179-188 MiB with the default arenas and
 * at 164 MiB with two, at the same CPU. Like the flags, only a launcher can set it: glibc reads
 * it before any JavaScript runs.
 */
export const SOV_NODE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2" };

/** SOV_NODE_ENV as POSIX shell lines for a launcher script; a value already in the environment is kept. */
export function sovNodeEnvLines(): string[] {
  return Object.entries(SOV_NODE_ENV).map(([name, value]) => `${name}=\${${name}:-${value}}; export ${name}`);
}
