#!/usr/bin/env python3
"""Where the server's CPU goes, from a `perf record --call-graph dwarf` of `vigie serve`
under ingestion load (bench/ingest with BENCH_PROFILE=1 records one). A profile of the
whole machine (`perf record -a`, as for PostgreSQL) also splits PostgreSQL's processes
by what they do, and names the other processes.

    python3 bench/perf_summary.py perf.data

Each sample is put in one phase: the first frame, from the leaf up, that names one
(kernel frames are skipped, so a `write` to a socket counts for whoever wrote, and the
kernel's share of each phase is shown beside it). Then the inclusive share of a few
functions (their callees included), the split by thread, and the hottest leaf functions.
"""

import collections
import re
import subprocess
import sys

# (phase, regular expression on a user-space frame's symbol), most specific first. A
# phase of None names no phase: the frame is passed over for its callers.
PHASES = [
    (None, r"serde_json::ser|serde_core::ser|serde::ser"),
    ("SQLite: sqlite3_bind_parameter_name (sqlx binding $N parameters)", r"^sqlite3_bind_parameter_name"),
    ("SQLite: fsync at commit", r"^(unixSync|full_fsync|fdatasync|fsync)"),
    ("SQLite: WAL and page writes", r"^(sqlite3WalFrames|walWriteToLog|unixWrite|pwrite)"),
    ("SQLite: executing statements (VDBE, B-tree)", r"^(sqlite3|vdbe|btree|pager)"),
    ("sqlx: binding arguments", r"sqlx_sqlite::arguments|sqlx_core::arguments|Encode<"),
    ("sqlx: SQLite worker thread (commands, rows, channels)",
     r"sqlx_sqlite::connection::worker|sqlx_sqlite::connection::execute|sqlx_sqlite::statement|^flume::|<flume::"),
    ("sqlx: PostgreSQL protocol", r"sqlx_postgres"),
    ("sqlx: other (queries, rows, pool)", r"sqlx_core|sqlx_sqlite"),
    ("vigie-store: writer task, grouping by series (IngestJob)", r"vigie_store"),
    ("detection: scoring (vigie_detect)", r"vigie_detect::"),
    ("detection: vigie_pipeline (series locks, state serialisation)", r"vigie_pipeline::"),
    ("parsing: dates (chrono RFC 3339)", r"chrono::"),
    ("parsing: JSON (serde_json)", r"serde_json::"),
    ("parsing: validation, owned readings (vigie_proto)", r"vigie_proto::"),
    ("auth: bearer token (JWT) verification", r"jsonwebtoken|ed25519|curve25519|vigie_auth|vigie_server::bearer"),
    ("HTTP: hyper (reading bodies, writing answers)", r"hyper::|hyper_util::|httparse|http_body|axum::body::to_bytes|axum_core::body"),
    ("axum, tower, middleware, handlers", r"axum|tower|vigie_server"),
    ("tokio runtime (scheduling, I/O driver, timers)", r"tokio::"),
]
COMPILED = [(name, re.compile(pattern)) for name, pattern in PHASES]

# The phases of PostgreSQL's own processes, when the whole machine was sampled
# (`perf record -a`, as bench/ingest does for a PostgreSQL profile).
POSTGRES_PHASES = [
    ("PostgreSQL: parsing and planning statements",
     r"raw_parser|base_yyparse|core_yylex|yy|parse_analyze|transform|planner|pg_plan|copyObject|expression_tree_walker"),
    ("PostgreSQL: reading array parameters (array_in, float8in, UNNEST)",
     r"array_in|array_unnest|float8in|strtod|int8in|pg_strtoint|str_to_mpn|ArrayGet"),
    ("PostgreSQL: B-tree indexes", r"^_bt_|^bt"),
    ("PostgreSQL: WAL (records, CRC, flush)", r"XLog|crc32c|xlog"),
    ("PostgreSQL: TOAST compression (detector states)", r"pglz|toast"),
    ("PostgreSQL: heap and executor", r"^heap_|^Exec|^tts_|^slot_|PageAdd"),
    ("PostgreSQL: buffers, locks, memory", r"hash_search|hash_bytes|LWLock|Buffer|palloc|MemoryContext|AllocSet|^Lock"),
]
POSTGRES_COMPILED = [(name, re.compile(pattern)) for name, pattern in POSTGRES_PHASES]
UNATTRIBUTED = "unattributed (allocator, memcpy or a stack without a known frame)"

# Inclusive shares: samples with the function anywhere on the stack.
INCLUSIVE = [
    ("vigie_proto::readings::parse_batch (JSON + validation)", r"vigie_proto::readings::parse_batch"),
    ("chrono RFC 3339 parsing", r"chrono::"),
    ("vigie_pipeline (series locks, scoring, state serialisation)", r"vigie_pipeline::"),
    ("vigie_detect (scoring)", r"vigie_detect::"),
    ("IngestJob::new (grouping by series, sorting)", r"vigie_store::sql::IngestJob::new"),
    ("store writer task on tokio (run_writer)", r"vigie_store::sql::\w+::run_writer"),
    ("sqlx SqliteArguments::bind", r"sqlx_sqlite::arguments::SqliteArguments::bind"),
    ("sqlite3_step (statement execution)", r"^sqlite3_step"),
    ("SQLite commit (sqlite3PagerCommitPhaseOne/Two)", r"^sqlite3PagerCommitPhase"),
    ("flume channels (sqlx SQLite commands and rows)", r"flume::"),
    ("reading the body (http_body_util collect)", r"http_body_util::|axum::body::to_bytes"),
    ("memcpy / memmove", r"^__memmove|^__memcpy|^memcpy"),
    ("malloc / free / realloc", r"^(malloc|free|realloc|_int_malloc|_int_free|_int_realloc|cfree)"),
    ("kernel (system calls, scheduling, page cache)", None),
]
INCLUSIVE_COMPILED = [(name, None if p is None else re.compile(p)) for name, p in INCLUSIVE]

HEADER = re.compile(r"^(\S.*?)\s+(\d+)\s+(\d+)\s*$")
FRAME = re.compile(r"^\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")


def samples(path):
    """(thread name, period, [(symbol, is_kernel)] from the leaf up) of each sample."""
    script = subprocess.run(
        ["perf", "script", "-i", path, "-F", "comm,tid,period,ip,sym,dso", "--no-inline"],
        check=True, capture_output=True, text=True, errors="replace").stdout
    for block in script.split("\n\n"):
        lines = [line for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        header = HEADER.match(lines[0])
        if not header:
            continue
        frames = []
        for line in lines[1:]:
            frame = FRAME.match(line)
            if frame:
                symbol, dso = frame.groups()
                frames.append((symbol, dso.startswith("[kernel")))
        yield header.group(1), int(header.group(3)), frames


def phase_of(frames, thread):
    if thread == "postgres":
        if frames[0][1]:
            return "PostgreSQL: kernel (I/O, fsync, sockets)"
        for symbol, kernel in frames:
            phase = next((name for name, pattern in POSTGRES_COMPILED if pattern.search(symbol)), None)
            if phase:
                return phase
        return "PostgreSQL: other"
    if thread not in ("vigie", "vigie-bench") and not thread.startswith(("tokio", "sqlx")):
        return f"other processes ({thread})"
    for symbol, kernel in frames:
        if kernel:
            continue
        phase = next((name for name, pattern in COMPILED if pattern.search(symbol)), False)
        if phase:
            return phase
        # None: a frame to pass over; False: no rule matched.
    if thread.startswith("sqlx-sqlite"):
        return "sqlx: SQLite worker thread (commands, rows, channels)"
    return UNATTRIBUTED


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    phases = collections.Counter()
    phases_kernel = collections.Counter()
    threads = collections.Counter()
    inclusive = collections.Counter()
    leaves = collections.Counter()
    total = 0
    idle = 0
    for thread, period, frames in samples(sys.argv[1]):
        if not frames:
            continue
        if thread == "swapper":  # an idle core (a whole-machine profile)
            idle += period
            continue
        total += period
        phase = phase_of(frames, thread)
        phases[phase] += period
        if frames[0][1]:
            phases_kernel[phase] += period
        threads[re.sub(r"-?\d+$", "", thread)] += period
        for name, pattern in INCLUSIVE_COMPILED:
            if pattern is None:
                hit = any(kernel for _, kernel in frames)
            else:
                hit = any(pattern.search(symbol) for symbol, kernel in frames if not kernel)
            if hit:
                inclusive[name] += period
        leaf, kernel = frames[0]
        leaves[("[k] " if kernel else "") + leaf[:90]] += period
    if not total:
        sys.exit("no samples")
    share = lambda value: 100.0 * value / total
    seconds = total / 1e9  # cpu-clock periods are nanoseconds
    print(f"Profile of the server: {seconds:.2f} s of CPU sampled (perf, cpu-clock, DWARF call stacks)"
          + (f"; the cores were idle {idle / 1e9:.2f} s more" if idle else ""))
    print()
    print("By phase (each sample counted once, for the innermost frame that names a phase):")
    print(f"  {'phase':70} {'share':>6} {'in kernel':>9}")
    for name, value in phases.most_common():
        print(f"  {name:70} {share(value):5.1f}% {share(phases_kernel[name]):8.1f}%")
    print()
    print("Inclusive (the function and everything it calls; shares overlap):")
    for name, _ in INCLUSIVE:
        print(f"  {name:70} {share(inclusive[name]):5.1f}%")
    print()
    print("By thread:")
    for name, value in threads.most_common():
        print(f"  {name:70} {share(value):5.1f}%")
    print()
    print("Hottest functions (self time):")
    for name, value in leaves.most_common(12):
        print(f"  {name:90} {share(value):5.1f}%")


if __name__ == "__main__":
    main()
