"""Building the compiled recurrences (recurrences.c) into a cache folder this process can trust.

The C file is compiled with the system's C compiler (`cc`, or $CC) and linked against OpenBLAS
from the PyPI package scipy-openblas32, through its documented interface (get_include_dir,
get_lib_dir, get_library; symbols prefixed `scipy_`). The library is loaded only when it is
trusted:

* it lives in a per-user folder `<cache>/native-<uid>` made with permissions 0700; a folder
  that others may write to has its files removed (they may have been planted) and is made
  private again; a folder owned by someone else, or a link, is not used at all (the library is
  then built in a fresh private temporary folder for this process);
* beside it lies the sha256 recorded when it was built; a file that does not match, that is not
  a plain file of this user, or that others may write to, is rebuilt;
* a build writes a temporary file and renames it, so no process ever sees half a library.
"""
from __future__ import annotations

import hashlib
import os
import platform
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sentiment_core.fileio import atomic_write, atomic_write_text

SOURCE = Path(__file__).with_name("recurrences.c")
BLAS_PACKAGE = "scipy-openblas32"
X86_MACHINES = ("x86_64", "amd64", "i386", "i686")


def compiler_flags(machine: str | None = None) -> tuple[str, ...]:
    """-O3 vectorises the loops; -march=native because the library is built on the machine that runs it.

    -mprefer-vector-width=512 (use AVX-512's full width where the CPU has it) is an x86 option that
    gcc and clang refuse elsewhere (an ARM server), so it is given on x86 only. `machine`:
    platform.machine() unless given.
    """
    x86 = (machine if machine is not None else platform.machine()).lower() in X86_MACHINES
    return ("-O3", "-march=native", *(("-mprefer-vector-width=512",) if x86 else ()), "-fPIC", "-shared",
            "-fno-math-errno", "-fno-trapping-math", "-fopenmp")


FLAGS = compiler_flags()
COMPILE_SECONDS = 120
SHARED_WRITE = stat.S_IWGRP | stat.S_IWOTH


class BuildError(RuntimeError):
    """The compiled path cannot be used here; the message says why in one sentence."""


@dataclass(frozen=True)
class Toolchain:
    compiler: str
    blas_include: str   # scipy_openblas32.get_include_dir()
    blas_lib_dir: str   # scipy_openblas32.get_lib_dir()
    blas_library: str   # scipy_openblas32.get_library(): the name to link, without lib and .so
    blas_version: str

    @property
    def blas_file(self) -> str:
        return str(Path(self.blas_lib_dir) / f"lib{self.blas_library}.so")


@dataclass(frozen=True)
class Built:
    path: Path          # the library to load
    note: str           # "" or a sentence on what was rebuilt or replaced
    temporary: bool     # built in a private temporary folder that the caller removes after loading


def find_toolchain(env) -> Toolchain:
    compiler = env.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not compiler:
        raise BuildError("no C compiler found (install gcc, or set CC)")
    try:
        import scipy_openblas32 as blas
    except ImportError:
        raise BuildError(f"OpenBLAS not found: install {BLAS_PACKAGE} (pip install -r requirements.txt)") from None
    return Toolchain(compiler, blas.get_include_dir(), blas.get_lib_dir(), blas.get_library(),
                     getattr(blas, "__version__", "unknown"))


def _cpu_signature() -> str:
    """The CPU's feature flags (what -march=native compiles for)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def library_name(tools: Toolchain) -> str:
    """A name keyed by everything the built file depends on: source, compiler, flags, BLAS, CPU."""
    try:
        version = subprocess.run([tools.compiler, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        version = ""
    key = "\n".join([SOURCE.read_text(), tools.compiler, version, " ".join(FLAGS), tools.blas_lib_dir,
                     tools.blas_version, platform.machine(), _cpu_signature()])
    return f"recurrences-{hashlib.sha256(key.encode()).hexdigest()[:16]}.so"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_of(library: Path) -> Path:
    return library.with_name(library.name + ".sha256")


def _owned_plain_file(path: Path) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & SHARED_WRITE


def verified(library: Path) -> bool:
    """The library and its record are plain files of this user, and the library has the recorded sha256."""
    record = record_of(library)
    if not (_owned_plain_file(library) and _owned_plain_file(record)):
        return False
    return record.read_text().strip() == sha256_of(library)


class UntrustedFolder(BuildError):
    pass


def private_folder(cache_root: Path) -> tuple[Path, str]:
    """`<cache_root>/native-<uid>`, made (0700) or checked; (folder, note on anything replaced)."""
    folder = cache_root / f"native-{os.getuid()}"
    try:
        cache_root.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        info = os.lstat(folder)
    except OSError as error:
        raise UntrustedFolder(f"the cache folder {folder} cannot be made ({error.strerror or error})") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise UntrustedFolder(f"{folder} is not a folder of this user's own")
    if info.st_mode & SHARED_WRITE:  # others could have planted files: keep none of them
        os.chmod(folder, 0o700)
        for entry in folder.iterdir():
            if entry.is_symlink() or entry.is_file():
                entry.unlink()
        return folder, f"{folder} was writable by other users: its files were removed and the library rebuilt"
    return folder, ""


def compile_library(tools: Toolchain, target: Path) -> str:
    """Compile into a temporary file beside the target, record its sha256, rename; returns the sha256."""
    return atomic_write(target, lambda temporary: _compile_into(tools, temporary, target), create_parents=False,
                        suffix=".so")


def _compile_into(tools: Toolchain, temporary: Path, target: Path) -> str:
    """Build into `temporary` and write the target's sha256 record (before the rename: see verified)."""
    command = [tools.compiler, *FLAGS, "-I", tools.blas_include, "-o", str(temporary), str(SOURCE),
               "-L", tools.blas_lib_dir, f"-l{tools.blas_library}", f"-Wl,-rpath,{tools.blas_lib_dir}"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=COMPILE_SECONDS)
    except (OSError, subprocess.SubprocessError) as error:
        raise BuildError(f"build failed: {tools.compiler} could not run ({error})") from None
    if result.returncode != 0:
        raise BuildError(f"build failed: {tools.compiler} said {result.stderr.strip()[-400:]!r}")
    os.chmod(temporary, 0o700)  # the compiler's own mode follows the umask
    digest = sha256_of(temporary)
    atomic_write_text(record_of(target), digest + "\n", create_parents=False)
    return digest


def trusted_library(cache_root: Path, tools: Toolchain) -> Built:
    """A library this process built or verified (see the module's docstring); raises BuildError."""
    try:
        folder, note = private_folder(cache_root)
        temporary = False
    except UntrustedFolder as reason:
        folder, temporary = Path(tempfile.mkdtemp(prefix="sentiment-native-")), True
        note = f"{reason}; built in a private temporary folder instead"
    target = folder / library_name(tools)
    if not temporary and verified(target):
        return Built(target, note, False)
    if not note and (target.exists() or target.is_symlink()):
        note = f"{target.name} did not match its recorded sha256 (or was not a private file) and was rebuilt"
    try:
        digest = compile_library(tools, target)
    except BuildError:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    if sha256_of(target) != digest:
        raise BuildError(f"{target} changed while it was being built; not loaded")
    return Built(target, note, temporary)
