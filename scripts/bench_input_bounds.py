"""Hostile inputs against the caps: how long each refusal takes and how much memory it peaks at.

    python scripts/bench_input_bounds.py [--markdown]

Each case runs in its own process (so its peak resident memory is its own, VmHWM, the interpreter
and its imports included) on an input built in a temporary folder, and calls the library function
a page, the CLI or a trainer calls on such an input. Prints one line per case: wall seconds of the
call alone (imports done before the clock starts), peak resident MB, and the outcome: the refusal's
sentence (or what was answered). `--markdown` prints the README's table.

The cases: last round's (a zip bomb, a 200 MB tree line, punctuation typed as a sentence) and those
of issue 19 (a catastrophic regular expression over 150,000 rows, a link number of 4,301 digits,
treebank leaves and trees built to hang the tokenizer or recursion, a 1.5 GB sparse train.txt, run
files of 100,000 nested brackets, a checkpoint claiming an embedding of 200,000, a probe file that
is /dev/zero or a FIFO, a config file holding a list, a seed past 2^32).
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The child process: `prepare` (imports, warm-up) runs before the clock, `run` is timed. Each returns
# or raises; a refusal is the exception's first line.
CHILD = r"""
import json, sys, time
from pathlib import Path


def peak_mb():
    # VmHWM: this process's own high-water mark (ru_maxrss would carry the parent's over exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024


path = Path(sys.argv[2])
scope = {"path": path, "Path": Path}
prepare, run = sys.argv[1].split("\n#--run--\n")
exec(prepare, scope)
started = time.perf_counter()
try:
    exec(run, scope)
    outcome = "answered: " + str(scope.get("answer", "ACCEPTED"))
except BaseException as err:
    outcome = "refused: " + (str(err).strip().splitlines() or [type(err).__name__])[0]
print(json.dumps({"outcome": outcome, "seconds": time.perf_counter() - started, "peak_mb": peak_mb()}))
"""


def case(prepare: str, run: str) -> str:
    return prepare.strip() + "\n#--run--\n" + run.strip()


# ---------------------------------------------------------------------------------------------
# Inputs, each built in `folder`


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


def treebank_folder(folder: Path, name: str, train_text: str | None = None, train_size: int | None = None) -> Path:
    """A treebank folder with small dev/test and the given train.txt (text, or a sparse file of a size)."""
    tree = folder / name
    tree.mkdir()
    for split in ("dev.txt", "test.txt"):
        (tree / split).write_text("(2 (2 a) (2 b))\n", encoding="utf-8")
    if train_size is not None:
        with open(tree / "train.txt", "wb") as out:
            out.truncate(train_size)  # sparse: no disk used, every byte reads as NUL
    else:
        (tree / "train.txt").write_text(train_text or "", encoding="utf-8")
    return tree


def long_line(folder: Path) -> Path:
    tree = treebank_folder(folder, "long-line")
    with open(tree / "train.txt", "w", encoding="utf-8") as out:
        out.write("(2 " + "x" * 200 * 2**20 + ")\n")
    return tree


def punctuation_words(folder: Path) -> Path:
    rng = random.Random(0)
    words = ("".join(rng.choice("!?.,;:'-") for _ in range(190)) for _ in range(2_000))
    return treebank_folder(folder, "punctuation-words", "".join(f"(2 (2 {w}) (2 .))\n" for w in words))


def text_file(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def nested_status(folder: Path) -> Path:
    run = folder / "nested-status"
    run.mkdir()
    (run / "status.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    return run


def huge_claim_checkpoint(folder: Path) -> Path:
    import torch

    sys.path.insert(0, str(ROOT))
    from sentiment_core.pretrained import PRETRAINED_DIR

    run = folder / "huge-claim"
    shutil.copytree(PRETRAINED_DIR / "gru-3cls", run)
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    checkpoint["model_config"]["embedding_dim"] = 200_000
    torch.save(checkpoint, run / "checkpoint.pt")
    return run


def fifo(folder: Path) -> Path:
    path = folder / "probes.fifo"
    os.mkfifo(path)
    return path


TOKENS = "from sentiment_core.data.text import Tokenizer\nTokenizer()('warm up')"
CHECK = ("from sentiment_core.data.caps import bounded_tokens, max_input_chars, max_input_tokens\n" + TOKENS)
ROWS = ("from sentiment_core.analysis import explore\n"
        "rows = [explore.Row('train', i, 'a' * 100, ('a' * 100,), 0) for i in range(150_000)]")


def cases(folder: Path) -> list[tuple[str, str, Path]]:
    """(label, child code, input path) for every hostile input."""
    mixed_rng = random.Random(0)  # every 64-character piece differs, so spaCy's word cache cannot help
    mixed = "".join(mixed_rng.choice("!?.,;:()\"'-") for _ in range(20_000))
    bomb = zip_bomb(folder)
    install = "from sentiment_core.data.treebank import install_treebank_folder"
    return [
        (f"a {bomb.stat().st_size / 2**20:.1f} MB zip whose member inflates to 1 GiB",
         case("from sentiment_core.data.treebank import install_treebank_zip",
              "install_treebank_zip(path, path.parent / 'installed-zip', display_name='bomb.zip')"), bomb),
        ("a `train.txt` of one 200 MB line",
         case(install, "install_treebank_folder(path, path.parent / 'installed-line')"), long_line(folder)),
        ("40,000 `!` typed as a sentence (the input check)",
         case(CHECK, "answer = len(bounded_tokens(path.read_text(), max_input_chars(), max_input_tokens()))"),
         text_file(folder, "bang.txt", "!" * 40_000)),
        ("20,000 mixed punctuation characters (the input check)",
         case(CHECK, "answer = f'{len(bounded_tokens(path.read_text(), max_input_chars(), max_input_tokens()))} "
                     "tokens'"), text_file(folder, "mixed.txt", mixed)),
        ("the regular expression `(.+)+#` over 150,000 rows (C1)",
         case(ROWS, "matches = explore.compile_search(path.read_text(), 'regex')\n"
                    "answer = f'{len(explore.filter_rows(rows, matches))} rows match'"),
         text_file(folder, "pattern.txt", "(.+)+#")),
        ("a link `?section=` of 4,301 digits (M1)",
         case("from dashboard.query_params import whole_number",
              "answer = whole_number(path.read_text(), 1, 10)\n"
              "if answer is None: raise ValueError('not a section number: the page opens section 1')"),
         text_file(folder, "section.txt", "9" * 4_301)),
        ("a treebank leaf of 9,900 punctuation characters (M8)",
         case(install, "install_treebank_folder(path, path.parent / 'installed-leaf')"),
         treebank_folder(folder, "long-leaf", f"(2 (2 {'!?' * 4_950}) (2 .))\n")),
        ("2,000 distinct leaves of 190 punctuation characters (M8)",
         case(install, "install_treebank_folder(path, path.parent / 'installed-words')"), punctuation_words(folder)),
        ("a sparse 1.5 GB `train.txt` through `SST_DIR` (M9)",
         case("from sentiment_core.data.corpus import load_corpus",
              "load_corpus(path, cache_dir=path.parent / 'cache-m9')"),
         treebank_folder(folder, "huge-split", train_size=3 * 2**29)),
        ("a tree nested 2,400 deep (m3)",
         case(install, "install_treebank_folder(path, path.parent / 'installed-deep')"),
         treebank_folder(folder, "deep", "(2 " * 2_399 + "(2 x)" + ")" * 2_399 + "\n")),
        ("a `status.json` of 100,000 nested brackets (m1)",
         case("from sentiment_core.runs.store import read_status", "read_status(path)"), nested_status(folder)),
        ("a checkpoint claiming an embedding of 200,000 (m2)",
         case("import sentiment_core.models, torch\nfrom sentiment_core.runs.execution import load_model", "load_model(path)"),
         huge_claim_checkpoint(folder)),
        ("`SENTIMENT_PROBE_SENTENCES=/dev/zero` (m4)",
         case("from sentiment_core.training.sentence_probes import read_probe_sentences",
              "read_probe_sentences(Path('/dev/zero'))"), folder),
        ("`SENTIMENT_PROBE_SENTENCES` naming a FIFO (m4)",
         case("from sentiment_core.training.sentence_probes import read_probe_sentences",
              "read_probe_sentences(path)"), fifo(folder)),
        ("`train --config` holding a JSON list (m8)",
         case("from sentiment_core.cli.train import read_config_file", "read_config_file(path)"),
         text_file(folder, "config.json", "[1, 2, 3]")),
        ("`--seed 100000000000000` (m5)",
         case("from dataclasses import replace\nfrom sentiment_core.config import RunConfig, validate\n"
              "config = RunConfig()",
              "validate(replace(config, train=replace(config.train, seed=int(path.read_text()))))"),
         text_file(folder, "seed.txt", "100000000000000")),
    ]


def run_case(code: str, path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CHILD, code, str(path)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600, env=env)
    lines = (done.stdout or "").strip().splitlines()
    if lines and lines[-1].startswith("{"):
        return json.loads(lines[-1])
    return {"outcome": f"CRASHED: {done.stderr.strip()[-200:]}", "seconds": float("nan"), "peak_mb": float("nan")}


def main(argv: list[str]) -> int:
    markdown = "--markdown" in argv
    if markdown:
        print("| hostile input | time | peak memory | outcome |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, code, path in cases(Path(tmp)):
            result = run_case(code, path)
            outcome = result["outcome"].replace(tmp + "/", "").replace("|", "\\|")
            if markdown:
                print(f"| {label} | {result['seconds']:.3f} s | {result['peak_mb']:.0f} MB | {outcome[:160]} |")
            else:
                print(f"{label[:58]:<58} {result['seconds']:7.3f} s  peak {result['peak_mb']:6.0f} MB  {outcome[:110]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
