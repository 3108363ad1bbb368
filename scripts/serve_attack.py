#!/usr/bin/env python3
"""Hostile clients against a running gpt2-serve, for the serving study
(reports/studies/serving/: scripts/serve-attack.sh runs it). 127.0.0.1 only.

    serve_attack.py --port P probe   [--seconds S]
        /health and a streamed completion every 100 ms for S seconds: each one's
        latency (health) and time to first token (the first "data:" event).
    serve_attack.py --port P trickle N [--seconds S]
        N connections that each send one header byte a second, while `probe` runs;
        then how many of them the server closed.
    serve_attack.py --port P idle N --pid PID
        N connections that send nothing, held; the server's resident memory before
        and once they are open (its open-connections gauge when it has one).
    serve_attack.py --port P seeded N --gpt2 BIN --model M [--seconds S]
        N seeded sampled completions of token ids, one every S/N seconds (a 429 is
        retried after its Retry-After), then each held to what `BIN --model M
        --backend pthreads --threads 1 --mode kv-cache` prints for it alone.

Prints one JSON object. Standard library only."""
import argparse
import http.client
import json
import resource
import selectors
import socket
import subprocess
import threading
import time


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def summary(values):
    return {"n": len(values), "p50_ms": pct(values, 50), "p99_ms": pct(values, 99),
            "max_ms": max(values) if values else None}


def health_ms(port, timeout):
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", "/health")
        r = c.getresponse()
        r.read()
        ok = r.status == 200
    except OSError:
        ok = False
    finally:
        c.close()
    return (time.monotonic() - t0) * 1000, ok


def ttft_ms(port, timeout):
    body = json.dumps({"prompt": "Ladies and", "max_tokens": 16, "rule": "greedy",
                       "stream": True})
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    first = None
    try:
        c.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        while True:
            line = r.readline()
            if not line:
                break
            if line.startswith(b"data: {") and first is None:
                first = (time.monotonic() - t0) * 1000
            if line.startswith(b"data: [DONE]"):
                break
    except OSError:
        pass
    finally:
        c.close()
    return first


def probe(port, seconds, timeout=10):
    health, ttft, failures = [], [], 0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        ms, ok = health_ms(port, timeout)
        if ok:
            health.append(ms)
        else:
            failures += 1
        t = ttft_ms(port, timeout)
        if t is None:
            failures += 1
        else:
            ttft.append(t)
        time.sleep(0.1)
    return {"health": summary(health), "ttft": summary(ttft), "failures": failures}


def open_many(port, n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 256), hard))
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.settimeout(10)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            break
        socks.append(s)
    return socks


def trickle(port, n, seconds):
    socks = open_many(port, n)
    stop = threading.Event()
    header = b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4096

    def run():
        i = 0
        while not stop.is_set():
            for s in socks:
                try:
                    s.send(header[i % len(header):i % len(header) + 1])
                except OSError:
                    pass
            i += 1
            stop.wait(1.0)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    result = probe(port, seconds)
    stop.set()
    t.join()
    # Closed: the end of the stream (after a 408) or a reset, seen within 3 s
    # over all of them at once (a server that never closes them costs 3 s).
    closed = 0
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    until = time.monotonic() + 3
    while sel.get_map() and time.monotonic() < until:
        for key, _ in sel.select(timeout=max(0.0, until - time.monotonic())):
            try:
                if key.fileobj.recv(65536):
                    continue  # the 408's bytes; its end comes next
            except BlockingIOError:
                continue
            except OSError:
                pass
            closed += 1
            sel.unregister(key.fileobj)
    for s in socks:
        s.close()
    result.update({"connections": len(socks), "closed_by_server": closed})
    return result


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def open_gauge(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", "/metrics")
        for line in c.getresponse().read().decode().splitlines():
            if line.startswith("gpt2_http_open_connections "):
                return int(float(line.split()[1]))
    except OSError:
        return None
    finally:
        c.close()
    return None


def tcp_pages():
    """The kernel's TCP buffer memory, in pages (/proc/net/sockstat's "mem")."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                w = line.split()
                return int(w[w.index("mem") + 1])
    return None


def idle(port, n, pid):
    before = rss_kb(pid)
    pages_before = tcp_pages()
    socks = open_many(port, n)
    deadline = time.monotonic() + 30
    gauge = open_gauge(port)
    while gauge is not None and gauge < len(socks) and time.monotonic() < deadline:
        time.sleep(0.2)
        gauge = open_gauge(port)
    time.sleep(1)
    after = rss_kb(pid)
    pages_after = tcp_pages()
    ms, ok = health_ms(port, 5)
    result = {"connections": len(socks), "open_gauge": gauge, "rss_before_kb": before,
              "rss_after_kb": after, "health_ms": ms if ok else None,
              "kb_per_connection": (after - before) / max(1, len(socks)),
              "kernel_tcp_kb_per_connection":
                  (pages_after - pages_before) * 4 / max(1, len(socks))}
    for s in socks:
        s.close()
    return result


def seeded(port, n, seconds, gpt2, model):
    got = []
    for i in range(n):
        prompt, seed = [464, 2068, 100 + i], i + 1
        body = json.dumps({"prompt": prompt, "max_tokens": 8, "temperature": 0.9,
                           "seed": seed, "ignore_eos": True})
        tokens, status, tries = None, None, 0
        while tokens is None and tries < 60:
            tries += 1
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                c.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
                r = c.getresponse()
                status, text = r.status, r.read()
                if status == 200:
                    tokens = json.loads(text)["choices"][0]["tokens"]
                else:
                    time.sleep(float(r.getheader("Retry-After", "1")))
            except OSError:
                time.sleep(1)
            finally:
                c.close()
        got.append((prompt, seed, tokens, status, tries))
        time.sleep(seconds / n)
    equal, differs = 0, []
    for prompt, seed, tokens, status, tries in got:
        alone = subprocess.run(
            [gpt2, "--model", model, "--backend", "pthreads", "--threads", "1", "--mode",
             "kv-cache", "--temperature", "0.9", "--seed", str(seed), "-n",
             str(len(prompt) + 8)] + [str(t) for t in prompt],
            capture_output=True, text=True).stdout.split()
        if tokens is not None and [str(t) for t in tokens] == alone:
            equal += 1
        else:
            differs.append({"prompt": prompt, "seed": seed, "server": tokens,
                            "last_status": status, "tries": tries, "alone": alone})
    return {"checked": n, "equal_to_gpt2_alone": equal, "differs": differs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--gpt2", help="the gpt2 binary (seeded)")
    ap.add_argument("--model", default="synthetic:tiny", help="the server's model (seeded)")
    ap.add_argument("what", choices=["probe", "trickle", "idle", "seeded"])
    ap.add_argument("n", type=int, nargs="?", default=0)
    a = ap.parse_args()
    if a.what == "probe":
        out = probe(a.port, a.seconds)
    elif a.what == "trickle":
        out = trickle(a.port, a.n, a.seconds)
    elif a.what == "seeded":
        if a.gpt2 is None:
            ap.error("seeded needs --gpt2 (the binary whose tokens the server's must equal)")
        out = seeded(a.port, a.n, a.seconds, a.gpt2, a.model)
    else:
        if a.pid is None:
            ap.error("idle needs --pid (the server's, for its resident memory)")
        out = idle(a.port, a.n, a.pid)
    out["what"] = a.what
    print(json.dumps(out))


if __name__ == "__main__":
    main()
