"""Hostile inputs against the caps: how long each refusal takes and how much memory it peaks at.

    python scripts/bench_input_bounds.py

Each case runs in its own process (so its peak resident memory is its own) on inputs built in a
temporary folder: a 1.3 MB zip whose one member inflates to 1 GiB of NUL bytes, a train.txt of
one 200 MB line, and a 40,000-character run of punctuation typed as a sentence: tokenized as it
is, then through the check every playground text, batch row and `predict` goes through
(analysis.caps.bounded_tokens, default caps), and a 20,000-character run of mixed punctuation
just within the character cap through the same check. Prints one line per case: outcome, wall
seconds, peak resident MB (the interpreter and its imports included).
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASE = r"""
import json, sys, time
from pathlib import Path


def peak_mb():
    # VmHWM: this process's own high-water mark (ru_maxrss would carry the parent's over exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

kind, path = sys.argv[1], Path(sys.argv[2])
started = time.perf_counter()
try:
    if kind == "zip":
        from sentiment_core.data.treebank import install_treebank_zip
        install_treebank_zip(path, path.parent / "installed", display_name="bomb.zip")
    elif kind == "folder":
        from sentiment_core.data.treebank import install_treebank_folder
        install_treebank_folder(path, path.parent / "installed")
    elif kind == "text":
        from sentiment_core.data.text import Tokenizer
        Tokenizer()("warm up")
        started = time.perf_counter()
        tokens = Tokenizer()(path.read_text(encoding="utf-8"))
        raise SystemExit(json.dumps({"outcome": f"tokenized into {len(tokens)} tokens",
                                     "seconds": time.perf_counter() - started,
                                     "peak_mb": peak_mb()}))
    else:  # "check": what the playground, a batch row and `predict` do with a text
        from sentiment_core.analysis.caps import bounded_tokens, max_input_chars, max_input_tokens
        from sentiment_core.data.text import Tokenizer
        Tokenizer()("warm up")
        text = path.read_text(encoding="utf-8")
        started = time.perf_counter()
        tokens = bounded_tokens(text, max_input_chars(), max_input_tokens())
        raise SystemExit(json.dumps({"outcome": f"answered: {len(tokens)} tokens",
                                     "seconds": time.perf_counter() - started, "peak_mb": peak_mb()}))
    outcome = "ACCEPTED"
except Exception as err:
    outcome = f"refused: {err}"
print(json.dumps({"outcome": outcome, "seconds": time.perf_counter() - started,
                  "peak_mb": peak_mb()}))
"""


def zip_bomb(folder: Path) -> Path:
    path = folder / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("trees/train.txt", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 24)
            for _ in range(64):  # 64 x 16 MiB = 1 GiB
                member.write(block)
        for name in ("dev.txt", "test.txt"):
            archive.writestr(f"trees/{name}", "(2 (2 a) (2 b))\n")
    return path


def long_line_folder(folder: Path) -> Path:
    tree = folder / "long-line"
    tree.mkdir()
    with open(tree / "train.txt", "w", encoding="utf-8") as out:
        out.write("(2 " + "x" * 200 * 2**20 + ")\n")
    for name in ("dev.txt", "test.txt"):
        (tree / name).write_text("(2 (2 a) (2 b))\n", encoding="utf-8")
    return tree


def run_case(kind: str, path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CASE, kind, str(path)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    lines = (done.stdout or done.stderr).strip().splitlines()
    return json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {"outcome": done.stderr[-300:],
                                                                               "seconds": 0, "peak_mb": 0}


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bomb = zip_bomb(folder)
        punctuation = folder / "punctuation.txt"
        punctuation.write_text("!" * 40_000, encoding="utf-8")
        mixed = folder / "mixed.txt"  # every 64-character piece differs, so spaCy's word cache cannot help
        rng = random.Random(0)
        mixed.write_text("".join(rng.choice("!?.,;:()\"'-") for _ in range(20_000)), encoding="utf-8")
        cases = [(f"zip of {bomb.stat().st_size / 2**20:.1f} MB inflating to 1 GiB", "zip", bomb),
                 ("train.txt of one 200 MB line", "folder", long_line_folder(folder)),
                 ("40,000 '!' typed as a sentence", "text", punctuation),
                 ("40,000 '!' through the input check", "check", punctuation),
                 ("20,000 mixed punctuation, input check", "check", mixed)]
        for label, kind, path in cases:
            result = run_case(kind, path)
            print(f"{label:<42} {result['seconds']:6.3f} s  peak {result['peak_mb']:6.0f} MB  {result['outcome'][:90]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
