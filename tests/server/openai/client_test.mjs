// gpt2-serve driven by OpenAI's official Node client (npm "openai"), as a
// user's program drives it: completions, streams, errors, and the answers
// equal to what `gpt2` prints for the same prompt and rule.
//
//   node client_test.mjs <bin dir>      (ctest: server.openai-client)
// Exits 77 (skipped) when `npm ci` has not been run here. Every wait is
// bounded; the server listens on 127.0.0.1 only and is killed at the end.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, "node_modules", "openai"))) {
  console.log(`skipped: the openai client is not installed (npm ci --prefix ${here})`);
  process.exit(77);
}
const { default: OpenAI } = await import("openai");

const bin = process.argv[2];
const dir = mkdtempSync(join(tmpdir(), "gpt2-serve-openai-"));
const portFile = join(dir, "port");
const key = "test-key-" + process.pid;
const server = spawn(join(bin, "gpt2-serve"),
  ["--model", "synthetic:tiny", "--threads", "2", "--port", "0", "--port-file", portFile,
   "--api-key", key],
  { stdio: ["ignore", "ignore", "inherit"] });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const deadline = setTimeout(() => { console.error("timed out after 120 s"); server.kill("SIGKILL"); process.exit(1); }, 120000);

let failures = 0;
async function check(name, fn) {
  try {
    await fn();
    console.log(`ok ${name}`);
  } catch (e) {
    failures++;
    console.log(`FAILED ${name}: ${e.stack || e}`);
  }
}

try {
  let port = 0;
  for (let i = 0; i < 300 && !port; i++) {
    if (existsSync(portFile)) port = parseInt(readFileSync(portFile, "utf8"), 10) || 0;
    if (!port) await sleep(100);
  }
  assert.ok(port, "the server did not start");
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    const r = await fetch(`${base}/health`).catch(() => null);
    if (r && r.status === 200) break;
    await sleep(100);
  }
  const client = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0, timeout: 60000 });
  const gpt2 = (args) => execFileSync(join(bin, "gpt2"), ["--model", "synthetic:tiny", "--mode", "kv-cache", ...args]).toString();

  await check("models.list", async () => {
    const models = await client.models.list();
    assert.equal(models.data[0].id, "synthetic:tiny:seed=2");
  });

  await check("completions.create equals gpt2", async () => {
    const c = await client.completions.create({ model: "gpt2", prompt: "Ladies and", max_tokens: 20, temperature: 0 });
    assert.equal(c.object, "text_completion");
    assert.equal(c.choices[0].text, gpt2(["--rule", "greedy", "--max-new", "20", "--prompt", "Ladies and"]));
    assert.equal(c.usage.prompt_tokens, 3);
    assert.ok(["stop", "length"].includes(c.choices[0].finish_reason));
  });

  await check("sampling with a seed equals gpt2's", async () => {
    const c = await client.completions.create({ model: "gpt2", prompt: "Once upon a time", max_tokens: 15, temperature: 0.8, top_p: 0.95, seed: 7 });
    assert.equal(c.choices[0].text, gpt2(["--temperature", "0.8", "--top-p", "0.95", "--seed", "7", "--max-new", "15", "--prompt", "Once upon a time"]));
  });

  await check("a stream equals the completion", async () => {
    const body = { model: "gpt2", prompt: "The weather", max_tokens: 16, seed: 3, n: 2, logprobs: 2 };
    const whole = await client.completions.create(body);
    const stream = await client.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
    const texts = ["", ""], finish = [null, null];
    let usage = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        texts[c.index] += c.text;
        if (c.finish_reason) finish[c.index] = c.finish_reason;
      }
    }
    assert.deepEqual(texts, whole.choices.map((c) => c.text));
    assert.deepEqual(finish, whole.choices.map((c) => c.finish_reason));
    assert.deepEqual(usage, whole.usage);
    assert.equal(whole.choices[0].logprobs.token_logprobs.length, whole.choices[0].logprobs.tokens.length);
  });

  await check("concurrent completions equal sequential ones", async () => {
    const bodies = Array.from({ length: 12 }, (_, i) => ({ model: "gpt2", prompt: `Item ${i}:`, max_tokens: 5 + i, seed: i }));
    const sequential = [];
    for (const b of bodies) sequential.push((await client.completions.create(b)).choices[0].text);
    const concurrent = await Promise.all(bodies.map((b) => client.completions.create(b)));
    assert.deepEqual(concurrent.map((c) => c.choices[0].text), sequential);
  });

  await check("a bad request is a BadRequestError naming the field", async () => {
    await assert.rejects(client.completions.create({ model: "gpt2", prompt: "a", max_tokens: -1 }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.equal(e.status, 400);
      assert.equal(e.param, "max_tokens");
      return true;
    });
    await assert.rejects(client.completions.create({ model: "gpt2", prompt: [50257] }), (e) => e.status === 400 && e.param === "prompt");
    await assert.rejects(client.completions.create({ model: "gpt2", prompt: "a", temperature: 5 }), (e) => e.status === 400 && e.param === "temperature");
  });

  await check("chat completions are a NotFoundError", async () => {
    await assert.rejects(client.chat.completions.create({ model: "gpt2", messages: [{ role: "user", content: "hi" }] }), (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, String(e));
      assert.match(e.message, /not a chat model/);
      return true;
    });
  });

  await check("a wrong key is an AuthenticationError", async () => {
    const wrong = new OpenAI({ apiKey: "nope", baseURL: `${base}/v1`, maxRetries: 0 });
    await assert.rejects(wrong.completions.create({ model: "gpt2", prompt: "a" }), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  });

  await check("an aborted stream leaves the server serving", async () => {
    const controller = new AbortController();
    const stream = await client.completions.create({ model: "gpt2", prompt: "a", max_tokens: 1000, ignore_eos: true, stream: true }, { signal: controller.signal });
    let n = 0;
    try {
      for await (const chunk of stream) { if (++n === 3) controller.abort(); }
    } catch (e) { /* the abort */ }
    assert.equal(n >= 3, true);
    const c = await client.completions.create({ model: "gpt2", prompt: "b", max_tokens: 2 });
    assert.equal(c.choices.length, 1);
  });
} catch (e) {
  failures++;
  console.log(`FAILED: ${e.stack || e}`);
} finally {
  server.kill("SIGTERM");
  await new Promise((r) => { server.once("exit", r); setTimeout(r, 30000); });
  clearTimeout(deadline);
}
console.log(failures ? `${failures} failed` : "all passed");
process.exit(failures ? 1 : 0);
