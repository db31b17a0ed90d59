export async function runDemo(_opts: { dir?: string | undefined; verbose: boolean }): Promise<number> {
  process.stderr.write("demo: not built yet\n");
  return 1;
}
