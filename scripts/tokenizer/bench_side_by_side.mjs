// Encode throughput of the C++ tokenizer (build/bin/gpt2-tokenizer-bench) and of
// js-tiktoken on the same text, side by side in one run: repetitions alternate
// between the two, one thread each, and the table gives MB/s (median, min, max)
// and the ratio of the medians. The text is every well-formed UTF-8 document of
// datasets/tokenizer/corpus/, each document one encode() call, as in the C++
// benchmark (js-tiktoken cannot take raw bytes; decoding to a JS string is not timed).
//
//   cd scripts/tokenizer && npm ci
//   taskset -c 1 node scripts/tokenizer/bench_side_by_side.mjs [--repetitions 7] [--min-time 1]
//
// Writes the samples as JSON to reports/runs/tokenizer-bench.json (git-ignored).
import { execFileSync } from "child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "fs";
import { cpus } from "os";
import { dirname, join } from "path";
import { fileURLToPath } from "url";
import { getEncoding } from "js-tiktoken";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const repetitions = Number(option("repetitions", 7));
const minTime = Number(option("min-time", 1));
const bench = join(root, option("build", "build"), "bin", "gpt2-tokenizer-bench");
const sets = ["all", "prose-en", "code", "multilingual"];  // as BM_Encode/<set> names them

// The documents, as the C++ benchmark picks them.
const corpus = join(root, "datasets", "tokenizer", "corpus");
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const texts = Object.fromEntries(sets.map((s) => [s, { docs: [], bytes: 0 }]));
for (const file of readdirSync(corpus).filter((f) => f.endsWith(".ids")).sort()) {
  if (file.endsWith(".allowed.ids")) continue;
  const set = file.slice(0, -4);
  const raw = readFileSync(join(corpus, `${set}.txt`));
  for (const line of readFileSync(join(corpus, file), "utf8").split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const [offset, length] = line.split(" ", 2).map(Number);
    let text;
    try {
      text = strict.decode(raw.subarray(offset, offset + length));
    } catch {
      continue;  // not well-formed UTF-8
    }
    for (const s of ["all", set]) {
      if (!texts[s]) continue;
      texts[s].docs.push(text);
      texts[s].bytes += length;
    }
  }
}

const tiktoken = getEncoding("gpt2");
function timeJs(set) {
  const { docs, bytes } = texts[set];
  let passes = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  do {
    for (const d of docs) tiktoken.encode(d, [], []);
    passes++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  } while (elapsed < minTime);
  return (bytes * passes) / elapsed / 1e6;
}
function timeCpp() {
  const out = execFileSync(bench, ["--benchmark_filter=BM_Encode", `--benchmark_min_time=${minTime}`,
    "--benchmark_format=json"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const result = {};
  for (const b of JSON.parse(out).benchmarks) {
    const set = b.name.replace(/^BM_Encode\//, "").replace("_", "-");
    result[set] = b.bytes_per_second / 1e6;
  }
  return result;
}

const samples = Object.fromEntries(sets.map((s) => [s, { cpp: [], js: [] }]));
for (const s of sets) timeJs(s);  // warm up the JIT
for (let r = 0; r < repetitions; r++) {
  const cpp = timeCpp();
  for (const s of sets) {
    samples[s].cpp.push(cpp[s]);
    samples[s].js.push(timeJs(s));
  }
  process.stderr.write(`repetition ${r + 1}/${repetitions}\r`);
}
process.stderr.write("\n");

const median = (a) => {
  const b = [...a].sort((x, y) => x - y);
  return b.length % 2 ? b[(b.length - 1) / 2] : (b[b.length / 2 - 1] + b[b.length / 2]) / 2;
};
const f = (x) => x.toFixed(1);
const cpu = cpus()[0]?.model ?? "unknown CPU";
let affinity = "";
try {
  affinity = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync("/proc/self/status", "utf8"))[1];
} catch {}
let commit = "";
try {
  commit = execFileSync("git", ["-C", root, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
} catch {}
console.log(`GPT-2 encode throughput, one thread, ${repetitions} repetitions of >= ${minTime} s each, ` +
  `alternating; ${cpu}, CPUs allowed ${affinity}, node ${process.versions.node}, commit ${commit}`);
console.log("| text | bytes | C++ MB/s median [min, max] | js-tiktoken MB/s median [min, max] | C++ / js-tiktoken |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const s of sets) {
  const { cpp, js } = samples[s];
  console.log(`| ${s} | ${texts[s].bytes} | ${f(median(cpp))} [${f(Math.min(...cpp))}, ${f(Math.max(...cpp))}] | ` +
    `${f(median(js))} [${f(Math.min(...js))}, ${f(Math.max(...js))}] | ${(median(cpp) / median(js)).toFixed(1)}x |`);
}
mkdirSync(join(root, "reports", "runs"), { recursive: true });
writeFileSync(join(root, "reports", "runs", "tokenizer-bench.json"), JSON.stringify({
  what: "GPT-2 encode MB/s, C++ gpt2::Tokenizer vs js-tiktoken (gpt2), one thread",
  cpu, affinity, node: process.versions.node, js_tiktoken: "1.0.21", commit, repetitions,
  min_time_s: minTime, bytes: Object.fromEntries(sets.map((s) => [s, texts[s].bytes])), samples,
}, null, 2) + "\n");
