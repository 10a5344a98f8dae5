"""Which deflate library for Lumberjack windows: speed and size at every level, measured.

Windows of 2048 real-shaped ``sora.connections`` events (current profile, ~3.9 KB each,
from the simulator), framed as the output frames them, compressed by the standard
library's zlib, zlib-ng (``zlib_ng``) and ISA-L (``isal.isal_zlib``) at each of their
levels. Speed is CPU time of the compressing thread (best of --repeat, so other load on
the machine counts less), size is compressed/raw. Every output is inflated by stdlib zlib
(what Logstash's Java Inflater and go-lumber do) and compared. Then, for each library,
whether it releases the GIL: the longest stall of a Python loop in the main thread while
another thread compresses a large window.

    .venv/bin/python tools/bench/compression.py [--events 2048] [--repeat 5]

Prints the table, the ratios against stdlib zlib at the same asked level, and what
``sorabeat.lumberjack.compression`` chose for each level; asserts nothing.
"""

from __future__ import annotations

import argparse
import threading
import time
import zlib
from collections.abc import Callable

from sample_events import connection_events

from sorabeat.lumberjack import compression, protocol

Compress = Callable[[bytes, int], bytes]


def libraries() -> dict[str, tuple[Compress, range]]:
    import zlib_ng.zlib_ng as zlib_ng
    from isal import isal_zlib

    return {
        compression.STDLIB: (zlib.compress, range(1, 10)),
        compression.ZLIB_NG: (zlib_ng.compress, range(1, 10)),
        compression.ISAL: (isal_zlib.compress, range(0, 4)),
    }


def cpu_seconds(compress: Compress, data: bytes, level: int, repeat: int) -> tuple[float, bytes]:
    best = float("inf")
    out = b""
    for _ in range(repeat):
        started = time.thread_time()
        out = compress(data, level)
        best = min(best, time.thread_time() - started)
    return best, out


def longest_stall(compress: Compress, data: bytes, level: int) -> tuple[float, float]:
    """(seconds the compression took, longest gap between two main-thread loop turns)."""
    done = threading.Event()
    worker = threading.Thread(target=lambda: (compress(data, level), done.set()))
    started = last = time.perf_counter()
    stall = 0.0
    worker.start()
    while not done.is_set():
        now = time.perf_counter()
        stall = max(stall, now - last)
        last = now
    worker.join()
    return time.perf_counter() - started, stall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2048, help="events per window")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    events = connection_events(args.events)
    frames = protocol.json_frames(events)
    size = len(frames) / len(events)
    print(f"windows of {len(events)} events of {size:.0f} bytes ({len(frames) / 1e6:.1f} MB)")
    print("library  level  events/s (1 core)  compressed/raw")
    table: dict[tuple[str, int], tuple[float, float]] = {}
    libs = libraries()
    for name, (compress, levels) in libs.items():
        for level in levels:
            seconds, out = cpu_seconds(compress, frames, level, args.repeat)
            if zlib.decompress(out) != frames:
                raise SystemExit(f"{name} level {level} does not round-trip through zlib")
            rate = len(events) / max(seconds, 1e-9)
            table[name, level] = (rate, len(out) / len(frames))
            print(f"{name:8} {level:5}  {rate:17,.0f}  {len(out) / len(frames):14.4f}")
    print("\nchosen for each compression_level, against stdlib zlib at that level")
    for level in range(1, 10):
        chosen = compression.deflater(level)
        rate, ratio = table[chosen.library, chosen.level]
        base_rate, base_ratio = table[compression.STDLIB, level]
        print(
            f"  level {level}: {chosen.library} level {chosen.level}: speed "
            f"{rate / base_rate:5.2f}x, bytes {ratio / base_ratio:5.2f}x of stdlib zlib"
        )
    print("\nGIL: longest main-thread stall while another thread compresses 8 windows")
    big = frames * 8
    for name, (compress, _) in libs.items():
        level = 2 if name == compression.ISAL else 3
        took, stall = longest_stall(compress, big, level)
        print(
            f"  {name:8} level {level}: {took * 1000:7.1f} ms, longest stall {stall * 1000:6.1f} ms"
        )


if __name__ == "__main__":
    main()
