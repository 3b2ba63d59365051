"""Full-text search at scale, and the choice of tokenizer (issue 10).

Two parts, on synthetic OCR text from a deterministic desktop-like generator (each monitor shows a
screen of :data:`WORDS_PER_SCREEN` words; each capture changes a few of them, now and then the
whole screen; about a fifth of the text is Chinese, as runs of two-character words):

1. Tokenizers, on :data:`TOKENIZER_CAPTURES` captures: FTS5 ``trigram`` on the text against
   ``unicode61`` on the text with CJK runs as bigrams (:mod:`backend.terms`): recall on Chinese
   two-character words (a ``trigram`` MATCH needs three characters, so its only way is a
   ``LIKE`` scan), index bytes per capture, query times.
2. Scale, with the backend's own catalog and index functions on a temp data dir (no HTTP): a
   store of :data:`FULL_CAPTURES` captures (about 15 days of a busy two-monitor desktop), search
   p95 for one-word, two-word and phrase queries through :func:`backend.search.search` (ranking,
   words and highlights included; goal <= 50 ms), the captures listing's p95 and one retention
   batch before and after the text is indexed, and index bytes per capture.

``python -m bench search`` runs it at full size and writes ``docs/benchmarks.md`` ("Search");
``python -m bench.search --quick`` runs a small store and only prints.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from backend.catalog import Capture, PageQuery, delete_older_than, insert_capture, list_captures
from backend.ids import new_capture_id
from backend.migrations import migrate
from backend.query import parse_query
from backend.search import WINDOW, SearchRequest, search
from backend.terms import index_terms, join_words
from backend.text_catalog import CaptureText, Word, store_text
from bench._report import write_section

T = TypeVar("T")
HEADING = "## Search"
FULL_CAPTURES = 500_000
QUICK_CAPTURES = 20_000
TOKENIZER_CAPTURES = 20_000
WORDS_PER_SCREEN = 100
CHANGED_PER_CAPTURE = 12  # words that differ from the monitor's previous capture
NEW_SCREEN_EVERY = 40  # captures of a monitor between whole-screen changes (app switches)
CHINESE_SHARE = 0.2
INTERVAL_S = 2.6  # between captures, monitors alternating: 500,000 is about 15 days
QUERIES = 200
LISTINGS = 200
RETENTION_BATCHES = 5
BATCH = 5000
GOAL_P95_MS = 50.0
ENGINE = "synthetic-1"
SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
HANZI = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下"
    "过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两"
    "体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线"
    "内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并"
    "提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见"
    "计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七"
    "海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场"
    "身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广"
    "石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办"
    "青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江"
    "型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"
)


@dataclass
class Timings:
    """Milliseconds by row name."""

    rows: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, ms: float) -> None:
        self.rows.setdefault(name, []).append(ms)

    def p50(self, name: str) -> float:
        return statistics.median(self.rows[name])

    def p95(self, name: str) -> float:
        values = sorted(self.rows[name])
        return values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]


@dataclass(frozen=True, slots=True)
class Shot:
    """One synthetic capture: when, which monitor, its OCR words."""

    captured_at: float
    monitor: int
    words: tuple[str, ...]


class Desktop:
    """A deterministic stream of desktop-like OCR text on two monitors."""

    def __init__(self, seed: int = 10) -> None:
        self.rng = random.Random(seed)
        english = sorted({self._english_word() for _ in range(40_000)})
        chinese = sorted({self.rng.choice(HANZI) + self.rng.choice(HANZI) for _ in range(8_000)})
        self.rng.shuffle(english)
        self.rng.shuffle(chinese)
        self.english, self.chinese = english, chinese
        self._en_weights = _zipf_cumulative(len(english))
        self._zh_weights = _zipf_cumulative(len(chinese))

    def _english_word(self) -> str:
        return "".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.randint(1, 4)))

    def word(self) -> str:
        """One OCR word: English, or a run of one to three Chinese two-character words."""
        if self.rng.random() < CHINESE_SHARE:
            count = self.rng.randint(1, 3)
            return "".join(self.rng.choices(self.chinese, cum_weights=self._zh_weights, k=count))
        return self.rng.choices(self.english, cum_weights=self._en_weights)[0]

    def shots(self, count: int, start: float) -> Iterator[Shot]:
        """``count`` captures from ``start``, alternating monitors."""
        screens = [[self.word() for _ in range(WORDS_PER_SCREEN)] for _ in range(2)]
        for n in range(count):
            monitor = n % 2
            screen = screens[monitor]
            if n // 2 % NEW_SCREEN_EVERY == 0:
                screen[:] = [self.word() for _ in range(WORDS_PER_SCREEN)]
            for _ in range(CHANGED_PER_CAPTURE):
                screen[self.rng.randrange(WORDS_PER_SCREEN)] = self.word()
            yield Shot(start + n * INTERVAL_S, monitor + 1, tuple(screen))


def _zipf_cumulative(size: int) -> list[float]:
    total = 0.0
    cumulative = []
    for rank in range(1, size + 1):
        total += 1 / rank
        cumulative.append(total)
    return cumulative


def laid_out(words: tuple[str, ...]) -> list[Word]:
    """Words with boxes, ten to a line, as OCR returns them."""
    return [
        Word(text, 20 + 180 * (i % 10), 30 + 24 * (i // 10), 12 * len(text), 18, 90.0)
        for i, text in enumerate(words)
    ]


def ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def timed(timings: Timings, name: str, call: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = call()
    timings.add(name, ms_since(start))
    return result


def table_bytes(conn: sqlite3.Connection, prefix: str) -> int:
    """Bytes of the tables and indexes whose names start with ``prefix`` (dbstat)."""
    sql = "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE ?"
    return int(conn.execute(sql, (prefix + "%",)).fetchone()[0])


# -- part 1: tokenizers ---------------------------------------------------------------------------


@dataclass
class Variant:
    """One way to index and query: its results on the comparison corpus."""

    name: str
    build_s: float = 0.0
    index_bytes: int = 0  # the FTS5 index (shadow tables), not the text it indexes
    recall: dict[str, float] = field(default_factory=dict)  # by query set
    precision: dict[str, float] = field(default_factory=dict)
    timings: Timings = field(default_factory=Timings)


TOKENIZERS: dict[str, tuple[str, Callable[[str], str]]] = {
    "trigram": ("trigram", lambda text: text),
    "unicode61 + CJK bigrams": ("unicode61 remove_diacritics 2", index_terms),
}


def compare_tokenizers(directory: Path, captures: int) -> list[Variant]:
    """Build both indexes on the same text; query them with the same words."""
    desktop = Desktop(seed=1)
    texts = [join_words(shot.words)[0] for shot in desktop.shots(captures, 0.0)]
    rng = random.Random(2)
    queries = {
        "zh 2-char": rng.sample(desktop.chinese[:2000], 50),
        "en word": rng.sample(desktop.english[:5000], 50),
    }
    variants = []
    for name, (tokenize, transform) in TOKENIZERS.items():
        conn = sqlite3.connect(directory / f"{name.split()[0]}.sqlite3", isolation_level=None)
        variant = Variant(name)
        start = time.perf_counter()
        conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize='{tokenize}')")
        conn.execute("BEGIN")
        rows = ((i + 1, transform(text)) for i, text in enumerate(texts))
        conn.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)", rows)
        conn.execute("COMMIT")
        conn.execute("INSERT INTO t (t) VALUES ('optimize')")
        variant.build_s = time.perf_counter() - start
        variant.index_bytes = table_bytes(conn, "t_") - table_bytes(conn, "t_content")
        for label, words in queries.items():
            _query_set(conn, texts, label, words, variant)
        if name == "trigram":
            _query_set(conn, texts, "zh 2-char", queries["zh 2-char"], variant, like=True)
        variants.append(variant)
        conn.close()
    return variants


def _query_set(
    conn: sqlite3.Connection,
    texts: list[str],
    label: str,
    words: list[str],
    variant: Variant,
    like: bool = False,
) -> None:
    """Recall and precision against the truth (a Chinese word anywhere, an English word whole),
    and each query's time; ``like``: a ``LIKE`` scan instead of MATCH."""
    label = f"{label} (LIKE)" if like else label
    found = expected = returned = 0
    for word in words:
        truth = {i + 1 for i, text in enumerate(texts) if _contains(text, word)}
        sql, arg = (
            ("SELECT rowid FROM t WHERE x LIKE ?", f"%{word}%")
            if like
            else ("SELECT rowid FROM t WHERE t MATCH ?", parse_query(word).fts())
        )
        start = time.perf_counter()
        hits = {row[0] for row in conn.execute(sql, (arg,))}
        variant.timings.add(label, ms_since(start))
        found += len(truth & hits)
        expected += len(truth)
        returned += len(hits)
    variant.recall[label] = found / expected if expected else 1.0
    variant.precision[label] = found / returned if returned else 1.0


def _contains(text: str, word: str) -> bool:
    if word.isascii():
        return word in text.split()
    return word in text


# -- part 2: scale --------------------------------------------------------------------------------


@dataclass
class ScaleResult:
    captures: int
    insert_captures_s: float
    insert_texts_s: float
    index_bytes: int  # the FTS5 index
    text_bytes: int  # capture_text (words, boxes, terms) and the backlog table
    before: Timings  # listing and retention without text
    after: Timings  # listing, retention and search with text
    hits: dict[str, float] = field(default_factory=dict)  # mean hits per page, by query kind


def build_store(path: Path, count: int, start_at: float) -> tuple[sqlite3.Connection, float]:
    """A migrated database with ``count`` captures (no text yet); seconds taken."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")  # set-up only: the measured reads are unaffected
    migrate(conn)
    start = time.perf_counter()
    for first, batch in _batches(Desktop().shots(count, start_at)):
        conn.execute("BEGIN")
        for n, shot in enumerate(batch, start=first):
            insert_capture(conn, _capture(n, shot))
        conn.execute("COMMIT")
    return conn, time.perf_counter() - start


def _batches(shots: Iterator[Shot]) -> Iterator[tuple[int, list[Shot]]]:
    batch: list[Shot] = []
    first = 0
    for shot in shots:
        batch.append(shot)
        if len(batch) == BATCH:
            yield first, batch
            first += BATCH
            batch = []
    if batch:
        yield first, batch


def _capture(n: int, shot: Shot) -> Capture:
    capture_id = new_capture_id(int(shot.captured_at * 1000))
    return Capture(
        capture_id,
        f"bench-{n}",
        shot.captured_at,
        shot.monitor,
        1920,
        1080,
        "image/webp",
        60_000,
        "0" * 64,
        shot.captured_at,
    )


def index_texts(conn: sqlite3.Connection, count: int, start_at: float) -> tuple[float, list[Shot]]:
    """Store every remaining capture's text the way ``PUT /api/captures/{id}/text`` does;
    seconds taken, and a sample of the shots (for queries)."""
    ids = dict(conn.execute("SELECT idempotency_key, id FROM captures").fetchall())
    rng = random.Random(5)
    sample: list[Shot] = []
    start = time.perf_counter()
    for first, batch in _batches(Desktop().shots(count, start_at)):
        conn.execute("BEGIN")
        for n, shot in enumerate(batch, start=first):
            capture_id = ids.get(f"bench-{n}")  # None: deleted by the retention measurement
            if capture_id is not None:
                text = CaptureText(capture_id, ENGINE, "eng+chi_sim", laid_out(shot.words))
                store_text(conn, text)
        conn.execute("COMMIT")
        sample.extend(rng.sample(batch, min(len(batch), 4 * QUERIES * BATCH // count + 1)))
    conn.execute("INSERT INTO capture_fts (capture_fts) VALUES ('optimize')")
    return time.perf_counter() - start, sample


def measure_catalog(conn: sqlite3.Connection, timings: Timings, rng: random.Random) -> None:
    """The captures list's pages (first and deep, 50 items) and retention batches (the 500
    oldest captures deleted and committed, their text and index rows with them)."""
    bounds = conn.execute("SELECT min(captured_at), max(captured_at) FROM captures").fetchone()
    for _ in range(LISTINGS):
        at = rng.uniform(*bounds)
        after = (at, "7" + "Z" * 25)
        page = PageQuery(limit=51, after=after if rng.random() < 0.8 else None)
        timed(timings, "list page", partial(_read, conn, partial(list_captures, conn, page)))
    for _ in range(RETENTION_BATCHES):
        timed(
            timings,
            "retention batch",
            partial(_write, conn, partial(delete_older_than, conn, bounds[1], 500)),
        )


def _write(conn: sqlite3.Connection, call: Callable[[], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    result = call()
    conn.execute("COMMIT")
    return result


def _read(conn: sqlite3.Connection, call: Callable[[], T]) -> T:
    conn.execute("BEGIN")
    try:
        return call()
    finally:
        conn.execute("COMMIT")


def query_sets(shots: list[Shot], rng: random.Random) -> dict[str, list[str]]:
    """One-word, two-word and phrase queries drawn from the stored text: each has hits."""
    sets: dict[str, list[str]] = {"one word": [], "two words": [], "phrase": []}
    for _ in range(QUERIES):
        words = [w for w in rng.choice(shots).words if w.isascii()]
        sets["one word"].append(rng.choice(words))
        sets["two words"].append(" ".join(rng.sample(words, 2)))
        i = rng.randrange(len(words) - 1)
        sets["phrase"].append(f'"{words[i]} {words[i + 1]}"')
    zh = [w for shot in rng.sample(shots, QUERIES) for w in shot.words if not w.isascii()]
    sets["Chinese word"] = [w[:2] for w in rng.sample(zh, QUERIES)]
    return sets


def measure_search(conn: sqlite3.Connection, shots: list[Shot], result: ScaleResult) -> None:
    """Each query kind's time for the first page of 20 hits, all of the backend's work."""
    for kind, queries in query_sets(shots, random.Random(3)).items():
        total = 0
        for q in queries:
            wanted = SearchRequest(parse_query(q), limit=20)
            page = timed(result.after, kind, partial(_read, conn, partial(search, conn, wanted)))
            total += len(page.hits)
        result.hits[kind] = total / len(queries)


def run_scale(directory: Path, count: int) -> ScaleResult:
    rng = random.Random(4)
    start_at = time.time() - count * INTERVAL_S
    conn, insert_s = build_store(directory / "scale.sqlite3", count, start_at)
    before = Timings()
    measure_catalog(conn, before, rng)
    texts_s, sample = index_texts(conn, count, start_at)
    text_tables = ("capture_text", "sqlite_autoindex_capture_text", "text_pending")
    result = ScaleResult(
        captures=count,
        insert_captures_s=insert_s,
        insert_texts_s=texts_s,
        index_bytes=table_bytes(conn, "capture_fts"),
        text_bytes=sum(table_bytes(conn, name) for name in text_tables),
        before=before,
        after=Timings(),
    )
    measure_catalog(conn, result.after, rng)
    measure_search(conn, sample, result)
    conn.close()
    return result


# -- report ---------------------------------------------------------------------------------------


def _ms(timings: Timings, name: str) -> str:
    return f"{timings.p50(name):.1f} / {timings.p95(name):.1f}"


def tokenizer_table(variants: list[Variant], captures: int) -> list[str]:
    trigram, bigram = variants
    rows = [
        ("recall, Chinese 2-character words (MATCH)", "zh 2-char", "recall"),
        ("recall, Chinese 2-character words (LIKE scan)", "zh 2-char (LIKE)", "recall"),
        ("recall, English words", "en word", "recall"),
        ("precision, English words (whole words wanted)", "en word", "precision"),
    ]
    lines = [
        f"Tokenizers, {captures:,} captures of the same synthetic text (an FTS5 table each):",
        "",
        "| | trigram | unicode61 + CJK bigrams |",
        "|---|---|---|",
    ]
    for title, key, what in rows:
        cells = [f"{getattr(v, what)[key]:.2f}" if key in v.recall else "n/a" for v in variants]
        lines.append(f"| {title} | {cells[0]} | {cells[1]} |")
    per = [f"{v.index_bytes / captures:,.0f}" for v in variants]
    lines.append(
        f"| index bytes per capture (shadow tables, text excluded) | {per[0]} | {per[1]} |"
    )
    for label in ("en word", "zh 2-char"):
        cells = [_ms(v.timings, label) for v in variants]
        lines.append(f"| query ms p50 / p95, {label} | {cells[0]} | {cells[1]} |")
    lines.append(f"| build s | {trigram.build_s:.1f} | {bigram.build_s:.1f} |")
    return lines


def scale_table(result: ScaleResult) -> list[str]:
    n = result.captures
    lines = [
        f"Scale: {n:,} captures ({WORDS_PER_SCREEN} OCR words each, two monitors, one every "
        f"{INTERVAL_S:g} s: {n * INTERVAL_S / 86_400:.1f} days), the backend's "
        "`search()` for the first page of 20 hits (ranking, words, snippets and boxes; no HTTP):",
        "",
        f"| query ({QUERIES} each) | p50 ms | p95 ms | hits per page | goal p95 |",
        "|---|---|---|---|---|",
    ]
    for kind in result.hits:
        after = result.after
        lines.append(
            f"| {kind} | {after.p50(kind):.1f} | {after.p95(kind):.1f} | "
            f"{result.hits[kind]:.1f} | <= {GOAL_P95_MS:.0f} ms |"
        )
    lines += [
        "",
        "Deleting a capture deletes its text and index rows in the same transaction "
        "(triggers): that is the retention row's difference.",
        "",
        "| catalog | without text | with text and index |",
        "|---|---|---|",
        f"| captures list page (50), ms p50 / p95 | {_ms(result.before, 'list page')} | "
        f"{_ms(result.after, 'list page')} |",
        f"| retention batch (500 oldest deleted), ms p50 / p95 | "
        f"{_ms(result.before, 'retention batch')} | {_ms(result.after, 'retention batch')} |",
        "",
        f"Index: {result.index_bytes / n:,.0f} bytes per capture (FTS5); text with words and "
        f"boxes: {result.text_bytes / n:,.0f} bytes per capture (`capture_text`, zlib JSON). "
        f"Set-up: captures inserted in {result.insert_captures_s:.0f} s, texts stored and indexed "
        f"in {result.insert_texts_s:.0f} s ({result.insert_texts_s / n * 1e6:.0f} us per capture, "
        "as `PUT /api/captures/{id}/text` stores them).",
    ]
    return lines


def report(variants: list[Variant], tokenizer_captures: int, result: ScaleResult) -> str:
    load = os.getloadavg()[0]
    lines = [
        HEADING,
        "",
        f"`python -m bench search`, {datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, "
        f"{os.cpu_count()} cores (shared; 1-min load {load:.1f} at the end), SQLite "
        f"{sqlite3.sqlite_version}. Synthetic OCR text: screens of {WORDS_PER_SCREEN} words "
        f"(Zipf-distributed, {CHINESE_SHARE:.0%} Chinese runs of two-character words), "
        f"{CHANGED_PER_CAPTURE} words changed per capture, a new screen every "
        f"{NEW_SCREEN_EVERY} captures of a monitor.",
        "",
        *tokenizer_table(variants, tokenizer_captures),
        "",
        "Chosen: unicode61 with CJK runs indexed as bigrams (`backend/terms.py`). `trigram` "
        "cannot find a two-character Chinese word at all (MATCH and LIKE both need three "
        "characters), matches English inside longer words, and its index is several times "
        "larger.",
        "",
        "Ranking: FTS5's `bm25()` weighs each phrase by the rows of the whole index that hold it, "
        "and counts them by running the phrase over the whole index once per query: measured "
        "while choosing, at 500,000 captures, 54 ms for a phrase of two common words and 9 ms "
        "for one common word, against 0.5 ms and 0.2 ms for finding the newest 1,000 matches "
        "without it. So search ranks the newest matches (a window of "
        f"{WINDOW}) by BM25 without the IDF, computed on their stored terms "
        "(`backend/relevance.py`), weighed by age.",
        "",
        *scale_table(result),
    ]
    return "\n".join(lines) + "\n"


def main(captures: int = FULL_CAPTURES, write: bool = True) -> None:
    """Run both parts; write the "Search" section of ``docs/benchmarks.md`` when ``write``."""
    tokenizer_captures = min(TOKENIZER_CAPTURES, captures)
    with tempfile.TemporaryDirectory(prefix="ctxbus-bench-search-") as scratch:
        directory = Path(scratch)
        print(f"tokenizers on {tokenizer_captures:,} captures", flush=True)
        variants = compare_tokenizers(directory, tokenizer_captures)
        print(f"scale: {captures:,} captures", flush=True)
        result = run_scale(directory, captures)
    text = report(variants, tokenizer_captures, result)
    print(text)
    if write:
        write_section(HEADING, text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_CAPTURES:,} captures, printed only (docs/benchmarks.md is not written)",
    )
    args = parser.parse_args()
    main(QUICK_CAPTURES, write=False) if args.quick else main()
