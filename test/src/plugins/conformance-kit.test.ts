// The conformance kit itself: a correct in-memory destination passes every check, and each
// deliberately broken variant is caught by the check that guards that promise. Without this a
// kit that asserted nothing would look just as green.
import assert from "node:assert/strict";
import { PassThrough, Readable, Writable } from "node:stream";
import { test } from "node:test";
import { archiveName, parseArchiveName, type ArchiveRef, type Destination, type StagedWrite } from "@sov/core";
import { destinationChecks, type RawStorage } from "@sov/core/testing";

type Flaw =
  | "publishes-before-commit"
  | "overwrites"
  | "leaves-temp-files-on-abort"
  | "lists-temp-files"
  | "accepts-any-name"
  | "commits-unfinished-streams"
  | "deletes-on-late-abort"
  | "reports-the-wrong-size";

/** A destination over a Map, correct unless told to break one promise. */
function memoryDestination(flaw?: Flaw): { destination: Destination; raw: RawStorage } {
  const files = new Map<string, Buffer>();
  const validName = (name: string) => flaw === "accepts-any-name" || (!!parseArchiveName(name) && !name.includes("/"));
  const destination: Destination = {
    name: "memory",
    describe: () => ["in memory"],
    open: async () => {},
    close: async () => {},
    async stage(name): Promise<StagedWrite> {
      if (!validName(name)) throw new Error(`not an archive name: ${name}`);
      const tmp = flaw === "publishes-before-commit" ? name : `${name}.mem.tmp`;
      const parts: Buffer[] = [];
      files.set(tmp, Buffer.alloc(0));
      const writable = new Writable({
        write(chunk: Buffer, _enc, cb) {
          parts.push(chunk);
          files.set(tmp, Buffer.concat(parts));
          cb();
        },
      });
      let settled = false;
      return {
        writable,
        async commit(): Promise<ArchiveRef> {
          if (settled) throw new Error("settled");
          settled = true;
          if (!writable.writableFinished && flaw !== "commits-unfinished-streams") {
            files.delete(tmp);
            throw new Error("commit before the stream finished");
          }
          const data = files.get(tmp)!;
          files.delete(tmp);
          let final = name;
          for (let n = 1; files.has(final) && flaw !== "overwrites"; n++) {
            const p = parseArchiveName(name)!;
            final = archiveName(p.host, p.timestamp, p.compression, p.encryption, n);
          }
          files.set(final, data);
          const size = flaw === "reports-the-wrong-size" ? data.length + 1 : data.length;
          return { destination: "memory", name: final, location: `memory:${final}`, size };
        },
        async abort() {
          if (settled) {
            if (flaw === "deletes-on-late-abort") files.delete(name);
            return;
          }
          settled = true;
          writable.destroy();
          if (flaw !== "leaves-temp-files-on-abort") files.delete(tmp);
        },
      };
    },
    async list() {
      return [...files.entries()]
        .filter(([name]) => flaw === "lists-temp-files" || parseArchiveName(name))
        .map(([name, data]) => ({ destination: "memory", name, location: `memory:${name}`, size: data.length }));
    },
    async remove(archive) {
      if (!validName(archive.name)) throw new Error(`not an archive name: ${archive.name}`);
      files.delete(archive.name);
    },
    read(archive) {
      const data = files.get(archive.name);
      if (!data) {
        const out = new PassThrough();
        process.nextTick(() => out.destroy(new Error(`no such archive: ${archive.name}`)));
        return out;
      }
      return Readable.from([data]);
    },
  };
  const raw: RawStorage = {
    names: async () => [...files.keys()],
    put: async (name, data) => void files.set(name, Buffer.from(data)),
  };
  return { destination, raw };
}

function checksFor(flaw?: Flaw) {
  const stores = new Map<number, RawStorage>();
  return destinationChecks(
    async ({ index }) => {
      const { destination, raw } = memoryDestination(flaw);
      stores.set(index, raw);
      return destination;
    },
    { raw: ({ index }) => stores.get(index)!, largeBytes: 256 * 1024 },
  );
}

test("a correct in-memory destination passes every check", async () => {
  for (const check of checksFor()) {
    assert.equal(check.skip, undefined);
    await check.run();
  }
});

const caughtBy: Array<[Flaw, RegExp]> = [
  ["publishes-before-commit", /invisible until commit/],
  ["overwrites", /never overwrites/],
  ["leaves-temp-files-on-abort", /abort\(\) before the stream ended/],
  ["lists-temp-files", /list\(\) shows archives of every host/],
  ["accepts-any-name", /not archive names are refused/],
  ["commits-unfinished-streams", /commit\(\) before the stream ended is refused/],
  ["deletes-on-late-abort", /abort\(\) after commit\(\) keeps the archive/],
  ["reports-the-wrong-size", /listed with its size/],
];

for (const [flaw, title] of caughtBy) {
  test(`the kit catches a destination that ${flaw.replace(/-/g, " ")}`, async () => {
    const check = checksFor(flaw).find((c) => title.test(c.title));
    assert.ok(check, `no check matches ${title}`);
    await assert.rejects(check.run(), `the check '${check.title}' must fail for a destination that ${flaw}`);
  });
}

test("without raw storage the foreign-file check is skipped with a reason, the rest still run", () => {
  const checks = destinationChecks(async () => memoryDestination().destination);
  const skipped = checks.filter((c) => c.skip);
  assert.equal(skipped.length, 1);
  assert.match(skipped[0]!.skip!, /opts\.raw/);
});
