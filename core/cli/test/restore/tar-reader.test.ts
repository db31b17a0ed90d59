import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { extractArchive, PathFilter, TarReader } from "../../src/restore/index.js";
import { END_OF_ARCHIVE, needTools, packTar, padBlock, q, rawHeader, readableOf, sh, tempDir } from "./helpers.js";

async function entries(tar: Buffer, chunk = 512) {
  const reader = new TarReader(readableOf(tar, chunk));
  const out = [];
  for (let e = await reader.next(); e; e = await reader.next()) {
    const parts: Buffer[] = [];
    for (let p = await reader.read(); p; p = await reader.read()) parts.push(Buffer.from(p));
    out.push({ ...e, data: Buffer.concat(parts).toString("latin1") });
  }
  await reader.drain();
  return out;
}

/** As entries(), but each header and piece taken with nextBuffered() and readBuffered() when the chunk in hand allows, as the extractor does. */
async function entriesBuffered(tar: Buffer, chunk: number) {
  const reader = new TarReader(readableOf(tar, chunk));
  const out = [];
  let buffered = 0;
  let headers = 0;
  const next = async () => {
    const e = reader.nextBuffered();
    if (e !== undefined) headers++;
    return e === undefined ? reader.next() : e;
  };
  for (let e = await next(); e; e = await next()) {
    const parts: Buffer[] = [];
    for (let p = reader.readBuffered(); p !== null; p = reader.readBuffered()) {
      if (p === undefined) {
        p = await reader.read();
        if (p === null) break;
      } else buffered++;
      parts.push(Buffer.from(p));
    }
    out.push({ ...e, data: Buffer.concat(parts).toString("latin1") });
  }
  await reader.drain();
  return { out, buffered, headers, offset: reader.offset };
}

/** The error reading `tar` to its end gives, with the data read with read() or with readBuffered(). */
async function failureOf(tar: Buffer, chunk: number, buffered: boolean): Promise<string> {
  try {
    if (buffered) await entriesBuffered(tar, chunk);
    else await entries(tar, chunk);
  } catch (err) {
    return (err as Error).message;
  }
  return "no error";
}

describe("TarReader", () => {
  test("the reads that need no promise (headers, padding, data in the chunk in hand) give what the others give, at every chunking", async () => {
    const sizes = [0, 1, 100, 511, 512, 513, 1000, 1536, 5000];
    const tar = await packTar([
      { name: "d", type: "directory" },
      ...sizes.map((n, i) => ({ name: `d/f${i}`, content: Buffer.alloc(n, 97 + i) })),
      { name: `d/${"long-".repeat(40)}name`, content: "pax" },
      { name: "d/link", type: "symlink" as const, linkname: "f1" },
      { name: "d/last", content: "z" },
    ]);
    const reference = await entries(tar, tar.length);
    assert.equal(reference.length, sizes.length + 4);
    for (const chunk of [1, 100, 511, 512, 513, 1024, 4096, tar.length]) {
      const { out, buffered, headers, offset } = await entriesBuffered(tar, chunk);
      assert.deepEqual(out, reference, `chunk ${chunk}`);
      assert.equal(offset, tar.length, `chunk ${chunk}: every byte counted once`);
      if (chunk >= 4096) assert.ok(buffered > sizes.length, `chunk ${chunk}: pieces came from the chunk in hand (${buffered})`);
      if (chunk === tar.length) assert.equal(headers, reference.length - 2, "every entry but the first (no chunk yet) and the long-named one came without a promise");
    }
    // a damaged header is refused with the same message either way
    const damaged = Buffer.from(tar);
    const at = reference[4]!.offset;
    damaged[at + 10] = damaged[at + 10]! ^ 1;
    const refusal = await failureOf(damaged, 1, false);
    assert.match(refusal, new RegExp(`checksum mismatch at byte ${at}:`));
    for (const chunk of [1, 513, 4096, tar.length]) assert.equal(await failureOf(damaged, chunk, true), refusal, `damaged, chunk ${chunk}`);
    for (const chunk of [1, tar.length]) {
      const reader = new TarReader(readableOf(damaged, chunk));
      const seen = [];
      try {
        for (let e = reader.nextBuffered() ?? (await reader.next()); e; e = reader.nextBuffered() ?? (await reader.next())) seen.push(e.name);
      } catch {
        assert.equal(reader.offset, at + 512, `chunk ${chunk}: the reader stands past the refused header, either way`);
      }
      assert.equal(seen.length, 4, `chunk ${chunk}`);
    }
    // cut inside a header, inside data, inside padding and between entries: the same message, byte offsets included
    for (const cut of [700, 1100, 1536 + 300, 2560, 4000, tar.length - 1024]) {
      const expected = await failureOf(tar.subarray(0, cut), 1, false);
      assert.match(expected, /truncated archive/, `cut at ${cut}`);
      for (const chunk of [1, 513, 4096, cut]) assert.equal(await failureOf(tar.subarray(0, cut), chunk, true), expected, `cut at ${cut}, chunk ${chunk}`);
    }
  });

  test("PAX records override the header: path, linkpath, size, mtime, owners", async () => {
    const pax = (records: string) => {
      const lines = records.split("\n").filter(Boolean).map((r) => {
        const bytes = (n: number) => Buffer.byteLength(`${n} ${r}\n`);
        let len = Buffer.byteLength(r) + 3;
        while (bytes(len) !== len) len = bytes(len);
        return `${len} ${r}\n`;
      });
      const data = Buffer.from(lines.join(""), "utf8");
      return Buffer.concat([rawHeader({ name: "PaxHeader", typeflag: "x", size: data.length }), padBlock(data)]);
    };
    const tar = Buffer.concat([
      pax("path=dir/ünïcode-name\nmtime=1700000000.25\nuname=alice\nuid=4242\n"),
      rawHeader({ name: "short", typeflag: "0", size: 3 }),
      padBlock(Buffer.from("abc")),
      pax("linkpath=a/very/long/target\n"),
      rawHeader({ name: "sym", typeflag: "2" }),
      END_OF_ARCHIVE,
    ]);
    const [file, sym] = await entries(tar, 100);
    assert.equal(Buffer.from(file!.name, "latin1").toString("utf8"), "dir/ünïcode-name");
    assert.equal(file!.mtime, 1700000000.25);
    assert.equal(file!.uname, "alice");
    assert.equal(file!.uid, 4242);
    assert.equal(file!.data, "abc");
    assert.equal(sym!.type, "symlink");
    assert.equal(sym!.linkname, "a/very/long/target");
  });

  test("GNU base-256 numbers and long link names", async () => {
    const header = rawHeader({ name: "f", typeflag: "0", size: 0 });
    header.fill(0, 108, 116);
    header[108] = 0x80;
    header.writeUInt32BE(3_000_000, 112); // uid 3000000 in base-256
    header.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    const linkData = Buffer.from(`${"t".repeat(200)}\0`);
    const tar = Buffer.concat([
      header,
      rawHeader({ name: "././@LongLink", typeflag: "K", size: linkData.length }),
      padBlock(linkData),
      rawHeader({ name: "link", typeflag: "2" }),
      END_OF_ARCHIVE,
    ]);
    const [f, link] = await entries(tar);
    assert.equal(f!.uid, 3_000_000);
    assert.equal(link!.linkname, "t".repeat(200));
  });

  test("entries stream in pieces no larger than the source chunks, whatever the chunking", async () => {
    const big = Buffer.alloc(30_000, 7);
    const tar = await packTar([{ name: "big", content: big }, { name: "small", content: "s" }]);
    for (const chunk of [1, 511, 512, 513, 65536]) {
      const [b, s] = await entries(tar, chunk);
      assert.equal(b!.data.length, 30_000, `chunk ${chunk}`);
      assert.equal(s!.data, "s");
    }
  });

  test("a fractional PAX mtime is restored (to the microsecond)", async (t) => {
    if (!needTools(t, "tar")) return;
    const dir = tempDir(t);
    fs.mkdirSync(join(dir, "src"));
    fs.writeFileSync(join(dir, "src/f"), "x");
    sh(`touch -d '2022-02-03 04:05:06.123456789' ${q(join(dir, "src/f"))}`);
    const tar = Buffer.from(sh(`tar --format=posix -c -C ${q(join(dir, "src"))} f | base64 -w0`), "base64");
    fs.mkdirSync(join(dir, "out"));
    await extractArchive(readableOf(tar), join(dir, "out"));
    const want = fs.statSync(join(dir, "src/f"), { bigint: true }).mtimeNs;
    const got = fs.statSync(join(dir, "out/f"), { bigint: true }).mtimeNs;
    assert.ok((want > got ? want - got : got - want) < 1000n, `${want} vs ${got}`);
  });
});

describe("PathFilter", () => {
  test("a path selects itself and what is below it; globs cross '/' like GNU tar", () => {
    const f = new PathFilter(["etc/nginx", "./srv/", "/var/log/*.log", "home/?ob", "opt/[ab]*"]);
    const yes = ["etc/nginx", "etc/nginx/nginx.conf", "srv", "srv/x/y", "var/log/syslog.log", "var/log/nginx/access.log", "home/bob/.bashrc", "opt/app"];
    const no = ["etc/nginx2", "etc", "var/log/syslog", "home/bobby", "opt/cde", "srvx"];
    for (const p of yes) assert.ok(f.matches(p), p);
    for (const p of no) assert.ok(!f.matches(p), p);
    assert.deepEqual(new PathFilter(["a", "b"]).unmatched(), ["a", "b"]);
  });
});
