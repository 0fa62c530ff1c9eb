"""`python load_burst.py PORT N`: N concurrent POST /generate, one connection each.

Run as its own process by test_concurrency.py so that the load generator's CPU (and the test
runner's coverage tracing) never competes with the service inside one interpreter. Prints one
JSON object: the burst's wall time in seconds and every response's status.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def post_generate(port: int, prompt: str) -> int:
    """One POST /generate on its own connection; returns the HTTP status."""
    body = json.dumps({"prompt": prompt}).encode()
    head = (
        f"POST /generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode() + body)
        status_line = await reader.readline()
        await reader.read()
    finally:
        writer.close()
    return int(status_line.split()[1])


async def burst(port: int, count: int) -> dict[str, object]:
    await post_generate(port, "warm up")  # first-call costs are not what is measured
    started = time.perf_counter()
    statuses = await asyncio.gather(*(post_generate(port, f"n{i}") for i in range(count)))
    return {"seconds": time.perf_counter() - started, "statuses": statuses}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(burst(int(sys.argv[1]), int(sys.argv[2])))))
