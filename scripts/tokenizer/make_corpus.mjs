// Assembles the tokenizer's test corpus, datasets/tokenizer/corpus/, from text
// that is on this machine or in pinned npm packages, plus generated edge cases.
// One-off tool: its output is committed (with the ids of make_expected.mjs), so
// nothing needs it to build or test. Deterministic: the same inputs give the
// same bytes.
//
//   cd scripts/tokenizer && npm ci && node make_corpus.mjs && node make_expected.mjs
//
// Each set is <set>.txt, documents back to back, each followed by one "\n" that
// belongs to no document, and <set>.docs, one "<byte offset> <byte length>" line
// per document. Sources and licences: datasets/tokenizer/corpus/SOURCES.md.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "fs";
import { createRequire } from "module";
import { dirname, join } from "path";
import { fileURLToPath } from "url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "..", "datasets", "tokenizer", "corpus");
const modules = join(here, "node_modules");
const require = createRequire(import.meta.url);
mkdirSync(out, { recursive: true });

// ---------------------------------------------------------------------------
// Helpers.
const utf8 = (s) => Buffer.from(s, "utf8");
function need(path, what) {
  if (!existsSync(path)) {
    console.error(`make_corpus: ${path} is missing: ${what}`);
    process.exit(1);
  }
  return path;
}
// SplitMix32-style generator: the same sequence on every machine.
function rng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  next.below = (n) => next() % n;
  next.pick = (a) => a[next() % a.length];
  return next;
}
// The first `max` bytes of `text`, cut at a line end (at a character boundary).
function head(text, max) {
  if (utf8(text).length <= max) return text;
  let cut = utf8(text).subarray(0, max).toString("utf8");
  cut = cut.replace(/\uFFFD$/, "");
  const nl = cut.lastIndexOf("\n");
  return nl > max / 2 ? cut.slice(0, nl + 1) : cut;
}
const cp = (...codes) => String.fromCodePoint(...codes);

const summary = [];
// docs: strings (UTF-8) or Buffers (raw bytes, possibly invalid UTF-8).
function writeSet(name, docs) {
  const parts = [];
  const index = [`# ${name}.txt: ${docs.length} documents, "<byte offset> <byte length>" each`];
  let offset = 0;
  for (const doc of docs) {
    const bytes = Buffer.isBuffer(doc) ? doc : utf8(doc);
    if (bytes.length === 0) throw new Error(`${name}: empty document`);
    index.push(`${offset} ${bytes.length}`);
    parts.push(bytes, Buffer.from("\n"));
    offset += bytes.length + 1;
  }
  writeFileSync(join(out, `${name}.txt`), Buffer.concat(parts));
  writeFileSync(join(out, `${name}.docs`), index.join("\n") + "\n");
  summary.push(`${name}: ${docs.length} documents, ${offset} bytes`);
}

// ---------------------------------------------------------------------------
// English prose: State of the Union addresses (public domain; the npm package's
// data is CC0), one address a document, from 1790 to 2016.
{
  const dir = join(modules, "@stdlib", "datasets-sotu", "data");
  const picks = ["1790_george_washington_n", "1823_james_monroe_dr", "1862_abraham_lincoln_r",
    "1901_theodore_roosevelt_r", "1934_franklin_d_roosevelt_d", "1941_franklin_d_roosevelt_d",
    "1962_john_f_kennedy_d", "1985_ronald_reagan_r", "2013_barack_obama_d", "2016_barack_obama_d"];
  writeSet("prose-en", picks.map((p) => head(readFileSync(need(join(dir, p + ".txt"),
    "run npm ci in scripts/tokenizer"), "utf8"), 40000)));
}

// ---------------------------------------------------------------------------
// Source code in several languages, from Debian packages and npm packages (each
// file keeps its licence header), at most 30 KB of each.
{
  const files = [
    ["/usr/include/utf8proc.h", "libutf8proc-dev"],                          // C, MIT
    ["/usr/include/nlohmann/detail/input/lexer.hpp", "nlohmann-json3-dev"],  // C++, MIT
    ["/usr/include/benchmark/benchmark.h", "libbenchmark-dev"],              // C++, Apache-2.0
    ["/usr/lib/python3.11/textwrap.py", "libpython3.11-minimal"],            // Python, PSF-2.0
    ["/usr/lib/python3.11/json/decoder.py", "libpython3.11-minimal"],        // Python, PSF-2.0
    ["/usr/share/cmake-3.25/Modules/FindPkgConfig.cmake", "cmake-data"],     // CMake, BSD-3-Clause
    ["/usr/share/perl/5.36/Text/Wrap.pm", "perl-modules-5.36"],              // Perl, Perl's terms
    ["/usr/share/doc/git/contrib/persistent-https/main.go", "git"],          // Go, Apache-2.0
    ["/usr/share/doc/git/contrib/persistent-https/proxy.go", "git"],         // Go, Apache-2.0
    [join(modules, "gpt-3-encoder", "Encoder.js"), "npm ci"],                // JavaScript, MIT
    [join(modules, "js-tiktoken", "dist", "index.d.ts"), "npm ci"],          // TypeScript, MIT
    [join(here, "..", "run-tests.sh"), "this repository"],                   // shell (ours)
    [join(here, "..", "setup-debian.sh"), "this repository"],                // shell (ours)
  ];
  const tiktokenChunk = readdirSync(join(modules, "js-tiktoken", "dist"))
    .find((f) => /^chunk-.*\.js$/.test(f));
  files.push([join(modules, "js-tiktoken", "dist", tiktokenChunk), "npm ci"]);  // JavaScript, MIT
  const core = readdirSync(join(modules, "js-tiktoken", "dist")).find((f) => /^core-.*\.d\.ts$/.test(f));
  files.push([join(modules, "js-tiktoken", "dist", core), "npm ci"]);            // TypeScript, MIT
  writeSet("code", files.map(([path, pkg]) =>
    head(readFileSync(need(path, `install ${pkg}`), "utf8"), 30000)));
}

// ---------------------------------------------------------------------------
// Many scripts: Unicode CLDR's emoji annotations (names and keywords in about 170
// locales) and each locale's exemplar characters, one locale a document.
{
  const annDir = join(modules, "cldr-annotations-full", "annotations");
  const charDir = join(modules, "cldr-misc-full", "main");
  const docs = [];
  for (const locale of readdirSync(annDir).sort()) {
    const ann = JSON.parse(readFileSync(join(annDir, locale, "annotations.json"), "utf8"))
      .annotations.annotations || {};
    const lines = [];
    const chars = join(charDir, locale, "characters.json");
    if (existsSync(chars)) {
      const c = JSON.parse(readFileSync(chars, "utf8")).main[locale].characters;
      for (const key of ["exemplarCharacters", "auxiliary", "numbers", "punctuation"]) {
        if (typeof c[key] === "string" && c[key] !== "[]") lines.push(c[key]);
      }
    }
    let size = 0;
    for (const [symbol, a] of Object.entries(ann)) {
      if (!a.tts) continue;
      const line = `${symbol} ${a.tts.join(" ")}: ${(a.default || []).join(", ")}.`;
      lines.push(line);
      size += utf8(line).length;
      if (size > 1000) break;
    }
    if (lines.length > 0) docs.push(lines.join("\n"));
  }
  writeSet("multilingual", docs);
}

// ---------------------------------------------------------------------------
// Emoji: every RGI emoji (ZWJ sequences, flags, keycaps, tag sequences) with its
// name, every skin tone of those that take one, and long runs with no spaces.
{
  const byEmoji = JSON.parse(readFileSync(join(modules, "unicode-emoji-json", "data-by-emoji.json"), "utf8"));
  const groups = new Map();
  for (const [e, d] of Object.entries(byEmoji)) {
    if (!groups.has(d.group)) groups.set(d.group, []);
    const variants = [e];
    if (d.skin_tone_support) {
      // The modifier goes after the first code point (before any ZWJ or VS16).
      const first = String.fromCodePoint(e.codePointAt(0));
      const rest = e.slice(first.length).replace(/^\uFE0F/, "");
      for (let m = 0x1f3fb; m <= 0x1f3ff; m++) variants.push(first + cp(m) + rest);
    }
    groups.get(d.group).push(`${variants.join(" ")} ${d.name}`);
  }
  const docs = [];
  for (const [group, lines] of groups) docs.push(`${group}\n${lines.join("\n")}`);
  const all = Object.keys(byEmoji);
  docs.push(all.join(""));                      // one long run of symbols
  docs.push(all.slice(0, 300).join(" "));
  docs.push(`I ❤️ NY 🗽! Let's go 🚀🚀🚀 to the 🌕... 👨‍👩‍👧‍👦 are 👍🏽👍🏿, it's 🔥 #1️⃣ 🇺🇸🇯🇵🇩🇪 🏴󠁧󠁢󠁳󠁣󠁴󠁿`);
  writeSet("emoji", docs);
}

// ---------------------------------------------------------------------------
// Numbers of every size and shape, in several scripts.
{
  const r = rng(1);
  const docs = [];
  docs.push(Array.from({ length: 1200 }, (_, i) => String(i)).join(" "));
  let p = 1n;
  const pow = [];
  for (let i = 0; i <= 256; i++, p *= 2n) pow.push(`2^${i} = ${p}`);
  docs.push(pow.join("\n"));
  const digits = (n) => Array.from({ length: n }, (_, i) => (i === 0 ? 1 + r.below(9) : r.below(10))).join("");
  docs.push(Array.from({ length: 400 }, (_, i) => digits(1 + (i % 64))).join(" "));
  docs.push(Array.from({ length: 300 }, () => `${digits(1 + r.below(6))}.${digits(1 + r.below(8))}`).join(", "));
  docs.push(Array.from({ length: 200 }, () => `-${digits(1 + r.below(5))}.${digits(2)}e${r.below(2) ? "-" : "+"}${digits(2)}`).join(" "));
  const grouped = (n, sep) => n.replace(/\B(?=(\d{3})+(?!\d))/g, sep);
  docs.push(Array.from({ length: 200 }, (_, i) => grouped(digits(4 + (i % 13)), [",", ".", " ", "\u00A0", "\u202F", "_", "'"][i % 7])).join("; "));
  docs.push("0x7fffffff 0xDEADBEEF 0b1010_1010 0o755 1e10 1E-7 6.022e23 3.14159265358979323846 1_000_000 " +
    "$1,234.56 €99,99 £0.50 ¥1000 ₹12,34,567 50% 0.5‰ +44 20 7946 0000 (555) 123-4567 " +
    "192.168.0.1 ::1 2001:db8::ff00:42:8329 v1.2.3-rc.4 2024-02-29T23:59:59.999Z 12:34:56 " +
    "1st 2nd 3rd 4th 21st 101st 3rd-party x86_64 i386 arm64 abc123def 123abc a1b2c3 H2O CO2 ISO-8859-1 " +
    "1/2 3/4 22/7 10:1 2:30pm 1990s '90s 19-20 1 000 000 1.000.000,00 007 0000 00000000");
  const scripts = [
    [0x0660, "Arabic-Indic"], [0x06f0, "Extended Arabic-Indic"], [0x0966, "Devanagari"],
    [0x09e6, "Bengali"], [0x0a66, "Gurmukhi"], [0x0be6, "Tamil"], [0x0e50, "Thai"], [0x0ed0, "Lao"],
    [0x0f20, "Tibetan"], [0x1040, "Myanmar"], [0x17e0, "Khmer"], [0x1810, "Mongolian"],
    [0xff10, "Fullwidth"], [0x1d7ce, "Mathematical bold"], [0x1d7f6, "Mathematical monospace"],
    [0x104a0, "Osmanya"], [0x1e950, "Adlam"], [0x11066, "Brahmi"],
  ];
  docs.push(scripts.map(([z, n]) => `${n}: ${Array.from({ length: 10 }, (_, i) => cp(z + i)).join("")} ` +
    `${cp(z + 1, z + 9, z + 8, z + 4)} ${cp(z + 2, z)}${cp(z + 2, z + 5)}`).join("\n"));
  docs.push("Roman: Ⅰ Ⅱ Ⅲ Ⅳ Ⅻ ⅯⅯⅩⅩⅣ ⅰⅱⅲ ↀ ↁ ↂ. Superscripts: x² + y³ = z¹⁰, 10⁻⁶, H₂O, CO₂, ₀₁₂₃. " +
    "Fractions: ½ ⅓ ¼ ⅕ ⅙ ⅛ ⅔ ¾ ⅝ ⅞ ↉ 1½ 2¾. Circled: ① ② ⑳ ㉑ ㊿ ⓪ ❶ ➊. Parenthesized: ⑴ ⒈ 🄀 🄁. " +
    "CJK: 一二三 十 百 千 万 〇 〡〢〣 零壹贰叁. Ethiopic ፩ ፪ ፲ ፻. Greek acrophonic 𐅀 𐅁. Aegean 𐄇 𐄈. " +
    "Cuneiform numbers 𒐀 𒐁. Counting rods 𝍠 𝍡. Mayan 𝋠 𝋡. Tamil ௰ ௱ ௲.");
  writeSet("numbers", docs);
}

// ---------------------------------------------------------------------------
// Whitespace: runs of every mix and length before and after words, numbers,
// symbols and the ends of the text (the pattern's look-ahead rule).
{
  const r = rng(2);
  const spaces = [" ", "\t", "\n", "\r\n", "\r", "\v", "\f", "\u00A0", "\u1680", "\u2000", "\u2003",
    "\u2009", "\u200A", "\u2028", "\u2029", "\u202F", "\u205F", "\u3000", "\uFEFF",
    // look-alikes that are not \s in JavaScript: NEL, ZWSP, MVS, word joiner
    "\u0085", "\u200B", "\u180E", "\u2060"];
  const ends = ["", "word", "123", "!?", "'s", "中文", "😀", "\u3000x"];
  const docs = [];
  const runs = [];
  for (const s of spaces) for (let n = 1; n <= 4; n++) runs.push(s.repeat(n));
  for (let i = 0; i < 60; i++) runs.push(Array.from({ length: 1 + r.below(7) }, () => r.pick(spaces)).join(""));
  for (const run of runs) {
    docs.push(ends.map((a) => ends.map((b) => a + run + b).join("|")).join("\n"));
  }
  docs.push(" ".repeat(5000) + "x" + " ".repeat(3000));
  docs.push("\n".repeat(2000) + "end");
  docs.push("\t".repeat(700) + "tab " + " \t".repeat(500) + "mixed" + "\r\n".repeat(600));
  docs.push("\u3000".repeat(900) + "ideographic" + "\u00A0".repeat(900));
  docs.push(["def f(x):", "    if x:", "        return [", "            1,", "        ]", "\treturn None",
    "", "", "    ", "\t\t", "end  ", "  "].join("\n"));
  writeSet("whitespace", docs);
}

// ---------------------------------------------------------------------------
// Contractions: the seven ASCII ones in every case, curly and other apostrophes,
// in and out of words.
{
  const forms = ["s", "t", "re", "ve", "m", "ll", "d", "S", "T", "RE", "Re", "rE", "VE", "M", "LL",
    "Ll", "lL", "D", "ss", "tt", "rr", "l", "v", "r", "x", ""];
  const quotes = ["'", "’", "‘", "ʼ", "＇", "`", "´", "''"];
  const before = ["", "it", "DON", " ", "  ", "1", "!", "é"];
  const after = ["", " ", "s", "'", "1", "é"];
  const docs = [];
  for (const q of quotes) {
    const cases = [];
    for (const f of forms) for (const b of before) for (const a of after) cases.push(b + q + f + a);
    docs.push(cases.join("|"));
  }
  docs.push("I'M SURE YOU'LL SEE THEY'RE HERE. DON'T, WON'T, CAN'T, SHAN'T. I'D'VE. Y'ALL'D'VE. " +
    "it's its' it'S It’s o'clock O'Neil O’Neil rock 'n' roll 'tis ma'am the '90s and '80s' " +
    "''s '''s ' 's 'll' ''ll'' don''t we'’re she‘s he’ll isn't isn’t ISN’T 'S'T'RE'VE'M'LL'D");
  writeSet("contractions", docs);
}

// ---------------------------------------------------------------------------
// Controls, marks and rare planes: C0 and C1 controls, combining marks, joiners,
// bidi controls, variation selectors, noncharacters, private use, astral scripts.
{
  const docs = [];
  const c0 = Array.from({ length: 32 }, (_, i) => cp(i)).concat([cp(0x7f)]);
  docs.push(c0.map((c) => `a${c}b ${c} ${c}${c}x`).join("|"));
  docs.push(Array.from({ length: 32 }, (_, i) => `c1:${cp(0x80 + i)}:${cp(0x80 + i)}word`).join(" "));
  docs.push("e\u0301 cafe\u0301 Cafe\u0301s n\u0303 a\u030A\u0332 Z\u0351\u0352\u0353\u0354\u0355\u0356a\u0357\u0358\u0359l\u035a\u035b\u035cg\u035d\u035eo " +
    "שָׁלוֹם עִבְרִית हिन्दी क्षत्रिय தமிழ் ไทย ภาษา ພາສາລາວ ខ្មែរ မြန်မာ ລາວ ᬅᬓ᭄ᬱᬭ ꦗꦮ " +
    "\u200D\u200C zwj\u200Dzwnj\u200Cwj\u2060 soft\u00ADhyphen bidi\u200E\u200F\u202Aembed\u202C\u202E\u2066iso\u2069 " +
    "vs\uFE0E\uFE0F ☺\uFE0E ☺\uFE0F #\uFE0F\u20E3 a\u20DD \u0345 \u1AB0 \u1DC0 \u20D0 \uFE20");
  docs.push("nonchars \uFDD0 \uFDEF \uFFFE \uFFFF " + cp(0x1fffe, 0x1ffff, 0x10fffe, 0x10ffff) +
    " private \uE000\uF8FF " + cp(0xf0000, 0x100000) + " replacement \uFFFD\uFFFD ￼ specials \uFFF9\uFFFA\uFFFB");
  docs.push("Math 𝐀𝐁𝐂 𝒜ℬ𝒞 𝔄𝔅 𝕬𝕭 𝖠𝖡 𝗔𝗕 𝘈𝘉 𝙰𝙱 𝚨𝚩 𝛂𝛃 ℝℕℤ. Gothic 𐌰𐌱𐌲. Deseret 𐐀𐐨. Osage 𐒰𐓘. " +
    "Linear B 𐀀𐀁. Cuneiform 𒀀𒀁𒀂. Hieroglyphs 𓀀𓀁𓂀. Old Italic 𐌀𐌁. Phoenician 𐤀𐤁. Tangut 𗀀𗀁. " +
    "Nüshu 𛅰𛅱. Adlam 𞤀𞤢𞤣 𞥑𞥒. CJK ext B 𠀀𠀁𪚥 ext G 𰀀𰀁. Musical 𝄞𝄢 𝅘𝅥𝅮. Mahjong 🀄 dominos 🁣. " +
    "Kawi 𑼄𑼅𑼆 (Unicode 15.0). Nag Mundari 𞓐𞓑 (15.0). Khojki 𑈀. Tifinagh ⵜⴰⵎⴰⵣⵉⵖⵜ. Cherokee ᏣᎳᎩ ꮳꮃ. " +
    "Vai ꕙꔤ. Bamum ꚠꚡ. Ol Chiki ᱚᱞ. Canadian ᐃᓄᒃᑎᑐᑦ. Runic ᚠᚢᚦ. Ogham ᚁᚂ\u1680ᚃ.");
  docs.push("Greek: Ἐν ἀρχῇ ἦν ὁ λόγος. Cyrillic: Съешь же ещё этих мягких французских булок. " +
    "Armenian: Բարեւ. Georgian: ქართული ენა. Arabic: اَلْعَرَبِيَّةُ‎ ١٢٣. Persian: فارسی ۱۲۳. Urdu: اُردُو. " +
    "Hebrew: אָלֶף־בֵּית. Syriac: ܠܫܢܐ ܣܘܪܝܝܐ. Thaana: ދިވެހި. N'Ko: ߒߞߏ. Ethiopic: ግዕዝ፡ ፩. " +
    "Chinese: 我能吞下玻璃而不伤身体。Japanese: いろはにほへと ちりぬるを カタカナ ｶﾀｶﾅ. " +
    "Korean: 키스의 고유조건은 입술끼리 만나야 하고. Thai: เป็นมนุษย์สุดประเสริฐเลิศคุณค่า. " +
    "Tibetan: བོད་ཡིག་. Mongolian: ᠮᠣᠩᠭᠣᠯ. Sinhala: සිංහල. Malayalam: മലയാളം. Telugu: తెలుగు. " +
    "Kannada: ಕನ್ನಡ. Gujarati: ગુજરાતી. Oriya: ଓଡ଼ିଆ. Bengali: বাংলা. Punjabi: ਪੰਜਾਬੀ. Lao: ລາວ. " +
    "Vietnamese: Tiếng Việt có dấu. Turkish: İıĞğŞş. German: Größe Straße ẞ. Polish: Zażółć gęślą jaźń. " +
    "Icelandic: Þórður ÆÐ. IPA: ˈfəʊnɛtɪk ʔ ɬ ʼ. Ligatures: ﬁ ﬂ ﬀ ﬃ Ǆ ǅ ǆ. Fullwidth: ＡＢＣ ａｂｃ！");
  docs.push("tab\tvertical\vformfeed\fnul\0nul\0\0esc\x1b[31mred\x1b[0m bell\x07 del\x7f bs\b\b " +
    "nel\u0085next ls\u2028ps\u2029end fs\x1cgs\x1drs\x1eus\x1f");
  writeSet("unicode", docs);
}

// ---------------------------------------------------------------------------
// Invalid UTF-8: stray and truncated sequences, overlong forms, surrogates, code
// points past U+10FFFF, Latin-1 and UTF-16 text, corrupted text, random bytes.
{
  const r = rng(3);
  const b = (...parts) => Buffer.concat(parts.map((p) => (typeof p === "string" ? utf8(p) : Buffer.from(p))));
  const contexts = [["", ""], ["a", "b"], [" ", " "], ["'", "s"], ["1", "2"], ["é", "é"], ["\n", "\n"],
    ["word ", " word"], ["😀", "😀"], ["  ", "x"]];
  const bad = [[0x80], [0xbf], [0xc0], [0xc1], [0xc2], [0xdf], [0xe0], [0xe2, 0x82], [0xed],
    [0xef, 0xbf], [0xf0], [0xf0, 0x9f], [0xf0, 0x9f, 0x98], [0xf4, 0x8f, 0xbf], [0xf5], [0xf8], [0xfe],
    [0xff], [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xe0, 0x9f, 0xbf], [0xf0, 0x80, 0x80, 0x80],
    [0xf0, 0x8f, 0xbf, 0xbf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80],
    [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80],
    [0xfc, 0x84, 0x80, 0x80, 0x80, 0x80], [0x80, 0x80, 0x80], [0xe2, 0x82, 0xe2, 0x82, 0xac],
    [0xc3, 0xc3, 0xa9], [0xe2, 0x28, 0xa1], [0xf0, 0x28, 0x8c, 0xbc]];
  const docs = [];
  for (const x of bad) for (const [pre, post] of contexts) docs.push(b(pre, x, post));
  for (let v = 0x80; v <= 0xff; v++) docs.push(b("byte", [v], "x ", [v], [v], " '", [v], "s"));
  docs.push(Buffer.from("caf\xe9 na\xefve r\xe9sum\xe9 \xa9 2024 \xbd \xb5s", "latin1"));
  docs.push(Buffer.from("UTF-16 text, not UTF-8: \ud83d\ude00 é", "utf16le"));
  // Real text with bytes knocked out or flipped.
  const source = readFileSync(join(out, "multilingual.txt"));
  for (let i = 0; i < 120; i++) {
    const start = r.below(source.length - 200);
    const piece = Buffer.from(source.subarray(start, start + 20 + r.below(150)));
    for (let k = 0; k < 1 + r.below(4); k++) piece[r.below(piece.length)] ^= 1 << r.below(8);
    docs.push(piece);
  }
  for (let i = 0; i < 300; i++) {
    docs.push(Buffer.from(Array.from({ length: 1 + r.below(48) }, () =>
      r.below(3) === 0 ? r.pick([0x20, 0x27, 0x73, 0x0a, 0x61, 0x31]) : r.below(256))));
  }
  writeSet("invalid", docs);
}

// ---------------------------------------------------------------------------
// Random strings over an alphabet chosen to stress the pattern: spaces of every
// kind, apostrophes and contraction letters, letters, digits and symbols of
// several scripts, marks, joiners and emoji (well-formed UTF-8 only).
{
  const r = rng(4);
  const alphabet = [" ", " ", " ", " ", "\t", "\n", "\n", "\r", "\r\n", "'", "'", "'", "s", "t", "r", "e",
    "v", "l", "m", "d", "S", "L", "a", "z", "Q", "0", "7", "9", ".", ",", "!", "-", "_", "(", "\"",
    "\u00A0", "\u3000", "\u2028", "\uFEFF", "\u0085", "\u200B", "é", "e\u0301", "ß", "Ω", "ж", "中",
    "ｱ", "١", "½", "Ⅻ", "²", "😀", "👍🏽", "\u200D", "’", "ʼ", "\x00", "\x1b", "\x7f", "𝐀", "𝟎", "ǅ",
    "\u0345", "€", "ー", "々", "〇"];
  const docs = [];
  for (let i = 0; i < 3000; i++) {
    docs.push(Array.from({ length: 1 + r.below(40) }, () => r.pick(alphabet)).join(""));
  }
  writeSet("random", docs);
}

// ---------------------------------------------------------------------------
// <|endoftext|> in every position, and its near misses.
{
  const e = "<|endoftext|>";
  writeSet("special", [e, `${e}${e}`, `Hello${e}`, `${e}Hello`, `a ${e} b`, `a${e}b`, ` ${e} `,
    `\n\n${e}\n\n`, `end.${e}Start`, `  ${e}  x`, `x  ${e}`, `${e}'s`, `'${e}`, `<|endoftext|`,
    `<|endoftext`, `endoftext|>`, `<|ENDOFTEXT|>`, `<| endoftext |>`, `<|endoftext|>>`, `<<|endoftext|>`,
    `<|<|endoftext|>|>`, `text ${e}${e} text`, `中文${e}中文`, `😀${e}😀`, `123${e}456`,
    `First document.\n${e}\nSecond document, with "quotes" and numbers 42.\n${e}`]);
}
console.log(summary.join("\n"));
