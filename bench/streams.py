"""Open N streaming requests at once and time them: time to the first SSE data frame, to the first
token (the first time --token's text arrives: in a chat chunk, an Anthropic text delta or a
Responses output_text delta alike), to the end, and how many finished whole (status 200, their
closing frame seen — [DONE], message_stop or response.completed — and no error frame before it).
wrk cannot see inside a response, hence this small asyncio client (uvloop when installed).

    python bench/streams.py URL BODY.json --concurrency 1000 [--key KEY] [--token "tok "]

Prints one JSON object.
"""
import argparse
import asyncio
import json
import statistics
import time
from urllib.parse import urlsplit

CLOSING = (b"data: [DONE]", b"event: message_stop", b"event: response.completed")
# An error after the stream began, in each format (OpenAI's is followed by [DONE]).
FAILED = (b'data: {"error"', b"event: error", b"event: response.failed",
          b"event: response.incomplete")


def percentile(values, q):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def one_stream(host, port, request, timeout, start_gate, delay, token):
    """(ok, first_frame_seconds, total_seconds, error, started, first_token_seconds)"""
    await start_gate.wait()
    if delay:
        await asyncio.sleep(delay)
    started = time.perf_counter()
    first = first_token = None
    writer = None

    def result(ok, error):
        return ok, first, time.perf_counter() - started, error, started, first_token

    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.write(request)
        seen = b""
        status = None
        deadline = started + timeout
        while True:
            chunk = await asyncio.wait_for(reader.read(65536),
                                           max(0.001, deadline - time.perf_counter()))
            if not chunk:
                break
            if status is None:
                status = chunk[9:12]
                if status != b"200":
                    return result(False, f"HTTP {status.decode()}")
            if first is None and b"data:" in chunk:
                first = time.perf_counter() - started
            window = seen + chunk  # a mark may straddle two reads: keep the last read's tail
            seen = window[-64:]
            if first_token is None and token in window:
                first_token = time.perf_counter() - started
            if any(mark in window for mark in FAILED):
                return result(False, "error frame")
            if any(mark in window for mark in CLOSING):
                return result(True, None)
        return result(False, "closed before the closing frame")
    except (OSError, TimeoutError) as exc:
        return result(False, type(exc).__name__)
    finally:
        if writer is not None:
            writer.close()


def peak_open(results):
    """The most streams that were open at one moment."""
    edges = sorted([(r[4], 1) for r in results] + [(r[4] + r[2], -1) for r in results])
    open_now = peak = 0
    for _, change in edges:
        open_now += change
        peak = max(peak, open_now)
    return peak


async def run(options):
    url = urlsplit(options.url)
    with open(options.body, "rb") as file:
        body = file.read()
    headers = [f"POST {url.path} HTTP/1.1", f"Host: {url.netloc}",
               "Content-Type: application/json", f"Content-Length: {len(body)}",
               "Connection: close", "anthropic-version: 2023-06-01"]
    if options.key:
        headers += [f"Authorization: Bearer {options.key}", f"x-api-key: {options.key}"]
    request = ("\r\n".join(headers) + "\r\n\r\n").encode() + body
    gate = asyncio.Event()
    step = options.ramp / options.concurrency
    tasks = [asyncio.ensure_future(one_stream(url.hostname, url.port, request, options.timeout,
                                              gate, i * step, options.token.encode()))
             for i in range(options.concurrency)]
    await asyncio.sleep(0)
    began = time.perf_counter()
    gate.set()
    results = await asyncio.gather(*tasks)
    wall = time.perf_counter() - began
    ok = [r for r in results if r[0]]
    firsts = [r[1] * 1000 for r in ok if r[1] is not None]
    tokens = [r[5] * 1000 for r in ok if r[5] is not None]
    totals = [r[2] * 1000 for r in ok]
    errors = {}
    for r in results:
        if not r[0]:
            errors[r[3]] = errors.get(r[3], 0) + 1
    return {"concurrency": options.concurrency, "ramp_s": options.ramp, "completed": len(ok),
            "errors": errors, "peak_open": peak_open(results),
            "wall_s": round(wall, 3),
            "first_frame_ms": {"p50": percentile(firsts, 50), "p99": percentile(firsts, 99),
                               "mean": statistics.fmean(firsts) if firsts else None},
            "first_token_ms": {"p50": percentile(tokens, 50), "p99": percentile(tokens, 99),
                               "mean": statistics.fmean(tokens) if tokens else None},
            "total_ms": {"p50": percentile(totals, 50), "p99": percentile(totals, 99)}}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("body")
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--key", default="")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--token", default="tok ",
                        help="the text of a token in the answer (bench/upstream.py's)")
    parser.add_argument("--ramp", type=float, default=0,
                        help="spread the starts evenly over this many seconds (0: all at once)")
    options = parser.parse_args()
    try:
        import uvloop
        result = uvloop.run(run(options))
    except ImportError:
        result = asyncio.run(run(options))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
