"""Polling: `monitor once` over 200 feeds of 30 items, each request 100 ms late, against a serial
fetch-and-parse baseline (what classic feed-to-email tools do), then a pass where every feed
answers 304. Feeds are spread over 200 loopback addresses (127.0.0.x), as if on 200 hosts.
Every item carries a summary and links a page on its feed's host; the ketamine items (one in
seventeen, 6%) want their page (full_text = auto), so the first pass is measured with full text
and again with full_text = "never".

    .venv/bin/python benchmarks/polling.py [--feeds 200] [--items 30] [--latency 0.1] [--repeats 3]
        [--profile]    # also run one first pass under pyinstrument and print where its time went
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
import httpx

# One topic in twelve is about ketamine (8%, like a busy psychiatry news feed).
TOPICS = [
    "Ketamine infusions eased treatment-resistant depression within hours in a trial of {n} adults.",
    "A new SSRI formulation showed similar results to sertraline in {n} patients.",
    "Transcranial magnetic stimulation courses were shortened to one week in {n} patients.",
    "Loneliness in later life was linked to depression in a survey of {n} adults.",
    "A digital therapy app reduced insomnia in {n} users over eight weeks.",
    "Zuranolone was studied in {n} women with postpartum depression.",
    "Bipolar disorder diagnoses rose among young adults, registry data for {n} people show.",
    "Mindfulness courses helped staff burnout in {n} hospitals.",
    "Antidepressant prescribing in primary care rose for the fifth year across {n} practices.",
    "Genetic markers of treatment response were mapped in {n} people with depression.",
    "Electroconvulsive therapy uptake varied across {n} regions.",
    "Peer support groups reduced readmissions in {n} patients.",
    "Researchers mapped sleep patterns in {n} teenagers with anxiety.",
    "Exercise programmes reduced depressive symptoms in older adults, a review of {n} studies found.",
    "Psilocybin therapy trials expanded to {n} sites across Europe.",
    "Hospital waiting lists for talking therapy grew again this winter.",
    "Lithium levels were linked to kidney function in a cohort of {n} people.",
]


PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head><body>
<header><nav><a href="/">Home</a> <a href="/health">Health</a> <a href="/join">Join</a></nav></header>
<article><h1>{title}</h1><p class="byline">By A. Reporter</p>
<p>{text}</p>
<p>The study enrolled patients at several hospitals and followed them for twelve weeks after treatment.</p>
<p>Most patients who improved did so within the first week, the researchers reported, and side effects
were mild and brief, mainly dizziness and a feeling of detachment during the infusion.</p>
<p>"We need longer studies to know how long the benefit lasts," said the lead author.</p>
<p>Treatment costs several hundred dollars per session and is rarely covered by insurance.</p>
</article><aside><h2>Related</h2><ul><li><a href="/a">Another story</a></li></ul></aside>
<section class="comments"><p>Great article!</p></section><footer>Copyright 2026</footer></body></html>"""


def make_feed(index: int, items: int, base: str = "https://outlet.example") -> bytes:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    entries = []
    for i in range(items):
        text = TOPICS[(index + i) % len(TOPICS)].format(n=40 + (index * items + i) % 900)
        body = f"<p>{text}</p><p>The findings were published this week. Further studies are planned.</p>"
        entries.append(
            f"<item><title>Story {index}-{i}: {text[:60]}</title>"
            f"<link>{base}/story/{index}/{i}</link>"
            f"<pubDate>{format_datetime(now - timedelta(hours=i))}</pubDate>"
            f"<description><![CDATA[{body}]]></description></item>"
        )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Outlet {index}</title>'
        f"<link>https://outlet{index}.example/</link><description>News</description>{''.join(entries)}"
        "</channel></rss>"
    ).encode()


def serve(feeds: dict[str, bytes], latency: float, items: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(latency)
            if self.path.startswith("/story/"):
                self.page()
                return
            body = feeds.get(self.path)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def page(self) -> None:
            pages_served.append(self.path)
            index, i = (int(part) for part in self.path.split("/")[2:4])
            text = TOPICS[(index + i) % len(TOPICS)].format(n=40 + (index * items + i) % 900)
            body = PAGE.format(title=text[:60], text=text).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("0.0.0.0", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


pages_served: list[str] = []


def serial_baseline(urls: list[str]) -> float:
    started = time.perf_counter()
    with httpx.Client(timeout=30) as client:
        for url in urls:
            feedparser.parse(client.get(url).content)
    return time.perf_counter() - started


def monitor_once(
    feeds_file: Path, db: Path, home: Path, profiler: list[str] | None = None
) -> tuple[float, int, str]:
    """Wall time of `monitor once`, its peak resident memory in MB, and what it printed."""
    started = time.perf_counter()
    process = subprocess.run(
        [
            *(profiler or [sys.executable]),
            "-m",
            "monitor",
            "once",
            "--feeds",
            str(feeds_file),
            "--db",
            str(db),
        ],
        env=dict(os.environ, MONITOR_HOME=str(home)),
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return seconds, peak, process.stdout


def service_pass(feeds_file: Path, db: Path, home: Path) -> float:
    """Wall time of one first pass inside a long-running process whose models are already
    loaded, as each pass of `monitor run` after its first (in a child process, so that this
    one's memory and imports stay out of the other measurements)."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from monitor.config import load_settings\n"
        "from monitor.pipeline import Monitor\n"
        "monitor = Monitor(Path(sys.argv[1]), Path(sys.argv[2]), load_settings())\n"
        "monitor.classifier, monitor.extractor\n"
        "started = time.perf_counter()\n"
        "monitor.run_pass()\n"
        "print(time.perf_counter() - started)\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", script, str(feeds_file), str(db)],
        env=dict(os.environ, MONITOR_HOME=str(home)),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(process.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="profile one first pass (pyinstrument)")
    parser.add_argument("--json", type=Path, help="also write the figures here, as JSON")
    args = parser.parse_args()
    feeds: dict[str, bytes] = {}  # filled once the port is known: items link pages on their host
    server = serve(feeds, args.latency, args.items)
    port = server.server_address[1]
    host = [f"http://127.0.0.{2 + i % 250}:{port}" for i in range(args.feeds)]
    feeds.update({f"/feed{i}.xml": make_feed(i, args.items, host[i]) for i in range(args.feeds)})
    urls = [f"{host[i]}/feed{i}.xml" for i in range(args.feeds)]
    firsts, seconds_304, baselines, peaks, warm, without, pages = [], [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        feeds_file = home / "feeds.txt"
        feeds_file.write_text("\n".join(urls) + "\n")
        summaries_only = home / "never"
        summaries_only.mkdir()
        (summaries_only / "config.toml").write_text('[monitor]\nfull_text = "never"\n')
        for run in range(args.repeats):
            baselines.append(serial_baseline(urls))
            db = home / f"bench{run}.db"
            before = len(pages_served)
            first, peak, output = monitor_once(feeds_file, db, home)
            pages.append(len(pages_served) - before)
            second, peak2, _ = monitor_once(feeds_file, db, home)
            warm.append(service_pass(feeds_file, home / f"service{run}.db", home))
            without.append(monitor_once(feeds_file, home / f"never{run}.db", summaries_only)[0])
            firsts.append(first)
            seconds_304.append(second)
            peaks.append(max(peak, peak2))
        print(output.strip().replace("\n", "\n    "))
        if args.profile:
            profiler = [sys.executable, "-m", "pyinstrument", "--no-color", "-r", "text"]
            _, _, report = monitor_once(feeds_file, home / "profiled.db", home, profiler)
            print(report)
    server.shutdown()
    first, baseline, again, loaded, never = (
        statistics.median(x) for x in (firsts, baselines, seconds_304, warm, without)
    )
    total_items = args.feeds * args.items
    print(
        f"polling {args.feeds} feeds x {args.items} items, {args.latency * 1000:.0f} ms latency, "
        f"median of {args.repeats} runs (each `monitor once` includes starting Python and loading models):"
    )
    print(f"  serial baseline (httpx + feedparser, one by one) {baseline:6.1f} s")
    print(
        f"  monitor once, first pass                          {first:6.1f} s   "
        f"({baseline / first:.1f}x faster)"
    )
    print(
        f"  the same first pass in `monitor run` (models loaded) {loaded:6.1f} s   "
        f"({baseline / loaded:.1f}x faster)"
    )
    print(
        f"  monitor once, first pass without full text         {never:6.1f} s   "
        f"(with it: +{first - never:.1f} s for {pages[-1]} pages, {pages[-1] / total_items:.0%} of the items)"
    )
    print(f"  monitor once, every feed answers 304              {again:6.1f} s")
    print(f"  peak resident memory of monitor once              {max(peaks):6d} MB")
    if args.json:
        figures = {
            "serial_s": baseline,
            "first_pass_s": first,
            "service_pass_s": loaded,
            "first_pass_without_pages_s": never,
            "pages": pages[-1],
            "all_304_s": again,
            "peak_mb": max(peaks),
        }
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
