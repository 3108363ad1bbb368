// Writes the expected ids of the tokenizer corpus (datasets/tokenizer/corpus/)
// with two independent JavaScript implementations of OpenAI's GPT-2 encoding,
// js-tiktoken (OpenAI's tiktoken ported to JS) and gpt-3-encoder (OpenAI's
// encoder.py ported to JS), and checks them against each other. Also writes the
// classes that JavaScript's RegExp gives every code point (js-classes.txt), so
// the C++ character classes can be checked against them code point by code point.
// One-off tool: its output is committed, and nothing needs it to build or test.
//
//   cd scripts/tokenizer && npm ci && node make_corpus.mjs && node make_expected.mjs
//
// Per set: <set>.ids, one line per document of <set>.docs:
//   <byte offset> <byte length> <id> <id> ...
// with "<|endoftext|>" read as plain text (js-tiktoken: encode(text, [], [])), and
// for the set "special" also <set>.allowed.ids, with it read as token 50256
// (js-tiktoken: encode(text, "all")).
//
// Invalid UTF-8: both implementations work on JavaScript strings, so a document
// is first decoded with TextDecoder (non-fatal, BOM kept), which turns each
// maximal ill-formed subpart into U+FFFD; the ids are those of that text.
import { readFileSync, readdirSync, writeFileSync } from "fs";
import { createRequire } from "module";
import { dirname, join } from "path";
import { fileURLToPath } from "url";
import { getEncoding } from "js-tiktoken";

const require = createRequire(import.meta.url);
const gpt3 = require("gpt-3-encoder");
const here = dirname(fileURLToPath(import.meta.url));
const dir = join(here, "..", "..", "datasets", "tokenizer", "corpus");
const version = (name) => JSON.parse(readFileSync(join(here, "node_modules", name, "package.json"), "utf8")).version;
const tiktoken = getEncoding("gpt2");
const lenient = new TextDecoder("utf-8", { ignoreBOM: true });
const strict = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true });

const who = `js-tiktoken ${version("js-tiktoken")} (encoding gpt2) on node ${process.versions.node} ` +
  `(Unicode ${process.versions.unicode})`;
const report = [];
let totalDocs = 0, totalDisagree = 0, totalInvalid = 0, totalBytes = 0;
for (const file of readdirSync(dir).filter((f) => f.endsWith(".docs")).sort()) {
  const set = file.slice(0, -".docs".length);
  const bytes = readFileSync(join(dir, `${set}.txt`));
  const docs = readFileSync(join(dir, file), "utf8").split("\n")
    .filter((l) => l && !l.startsWith("#")).map((l) => l.split(" ").map(Number));
  const lines = [], allowed = [];
  let disagree = 0, invalid = 0;
  for (const [offset, length] of docs) {
    const raw = bytes.subarray(offset, offset + length);
    let text;
    try {
      text = strict.decode(raw);
    } catch {
      text = lenient.decode(raw);
      invalid++;
    }
    const ids = tiktoken.encode(text, [], []);
    const other = gpt3.encode(text);
    if (ids.join(" ") !== other.join(" ")) {
      disagree++;
      console.error(`${set} @${offset}: js-tiktoken and gpt-3-encoder disagree on ${JSON.stringify(text.slice(0, 80))}`);
    }
    if (ids.some((id) => !Number.isInteger(id))) throw new Error(`${set} @${offset}: bad ids`);
    lines.push(`${offset} ${length} ${ids.join(" ")}`);
    if (set === "special") allowed.push(`${offset} ${length} ${tiktoken.encode(text, "all").join(" ")}`);
    totalBytes += length;
  }
  const header = [
    `# ${set}.txt in OpenAI's GPT-2 encoding, by ${who}, "<|endoftext|>" as plain text.`,
    `# gpt-3-encoder ${version("gpt-3-encoder")} gives the same ids for ${docs.length - disagree} of ${docs.length} documents.`,
    `# ${invalid} documents are not well-formed UTF-8: their ids are those of the text that`,
    `# TextDecoder makes of them (each maximal ill-formed subpart becomes U+FFFD).`,
    `# Written by scripts/tokenizer/make_expected.mjs. One line per document:`,
    `# <byte offset> <byte length> <ids...>`,
  ];
  writeFileSync(join(dir, `${set}.ids`), header.concat(lines).join("\n") + "\n");
  if (set === "special") {
    const h = [`# ${set}.txt in OpenAI's GPT-2 encoding, by ${who}, "<|endoftext|>" as token 50256`,
      `# (encode(text, "all")). Written by scripts/tokenizer/make_expected.mjs.`,
      `# <byte offset> <byte length> <ids...>`];
    writeFileSync(join(dir, `${set}.allowed.ids`), h.concat(allowed).join("\n") + "\n");
  }
  report.push(`${set}: ${docs.length} documents, ${invalid} not UTF-8, ${disagree} JS disagreements`);
  totalDocs += docs.length;
  totalDisagree += disagree;
  totalInvalid += invalid;
}

// Every code point's class under the pattern's RegExp (with the u flag), as
// ranges of letters (L), numbers (N) and whitespace (S); the rest is "other".
const classes = [`# The class of every code point in JavaScript's RegExp with the u flag on node ` +
  `${process.versions.node} (Unicode ${process.versions.unicode}): \\p{L} = L, \\p{N} = N, \\s = S.`,
  `# Code points in no range are other symbols. Written by scripts/tokenizer/make_expected.mjs.`,
  `# <first code point, hex> <last code point, hex> <class>`];
const classOf = (c) => {
  const s = String.fromCodePoint(c);
  if (/^\p{L}$/u.test(s)) return "L";
  if (/^\p{N}$/u.test(s)) return "N";
  if (/^\s$/u.test(s)) return "S";
  return "";
};
let start = 0, current = classOf(0);
const hex = (c) => c.toString(16).toUpperCase().padStart(4, "0");
for (let c = 1; c <= 0x110000; c++) {
  const k = c === 0x110000 ? "end" : classOf(c);
  if (k !== current) {
    if (current) classes.push(`${hex(start)} ${hex(c - 1)} ${current}`);
    start = c;
    current = k;
  }
}
writeFileSync(join(dir, "js-classes.txt"), classes.join("\n") + "\n");

console.log(report.join("\n"));
console.log(`total: ${totalDocs} documents, ${totalBytes} bytes, ${totalInvalid} not UTF-8, ` +
  `${totalDisagree} disagreements between js-tiktoken and gpt-3-encoder; ` +
  `js-classes.txt: ${classes.length - 3} ranges`);
