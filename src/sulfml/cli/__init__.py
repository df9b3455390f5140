"""The `sulfml` command: one small module per subcommand, each with `register(subparsers)`.

Handlers only parse arguments and print; the work is done by library calls the tests use too.

Exit statuses: 0 success, 1 some rows failed (each carries its `error`), 2 usage error (one line on
stderr), 3 internal error (one line on stderr; `--debug` or SULFML_DEBUG=1 shows the traceback),
130 interrupted. No traceback reaches the user without `--debug`.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from typing import TYPE_CHECKING, cast

from sulfml._version import __version__

if TYPE_CHECKING:
    import io

# Imported lazily so that `sulfml parse` does not pay for MLflow and XGBoost imports.
SUBCOMMANDS = ["data", "parse", "train", "predict", "registry", "benchmark", "tune", "screen", "serve"]
DESCRIPTION = ("Predict the room-temperature Li-ion conductivity (log10 σ, S/cm) and activation energy (Ea, eV) of\n"
               "a solid electrolyte from its composition, with calibrated intervals, a domain check and the\n"
               "nearest measured materials; a material already measured answers with its measurements.")
EPILOG = """examples:
  sulfml predict Li6PS5Cl "70Li2S-30P2S5" "Li7P3S11 glass-ceramic"
  sulfml predict --input candidates.csv --output predictions.csv
  sulfml screen Li6PS5Cl --substitute P=Si,Ge,Sn
  sulfml data search Li-P-S-Cl

exit status: 0 done, 1 some rows failed (each with its error), 2 usage error, 3 internal error.
Each command takes --help."""
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (argparse prints the usage block first)."""

    dash_formula = False  # an argument like -Li2S: argparse takes it for an option

    def error(self, message: str):  # noqa: D102 - argparse API
        # a formula like -Li2S taken for an option; not an option like --tracking-uri in the wrong place
        extra = message.split("unrecognized arguments: ", 1)[1].split() if "unrecognized arguments: " in message else []
        dash = any(a[:1] == "-" and a[1:2] != "-" for a in extra) or _Parser.dash_formula
        hint = "; put formulas starting with '-' after `--`" if dash else ""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help{hint})\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every available subcommand, or with subcommand `only` alone (what a command
    line naming it needs: the other subcommands' modules, some of them slow to import, are not loaded)."""
    parser = _Parser(prog="sulfml", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"sulfml {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an internal error (also SULFML_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS if only is None else [only]:
        try:
            module = importlib.import_module(f"sulfml.cli.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name == f"sulfml.cli.{name}_cmd":
                continue
            raise
        module.register(sub)
    return parser


def _one_line(text: object) -> str:
    """A message squeezed onto one line (exception texts from libraries can span several)."""
    line = " ".join(str(text).split())
    return line if len(line) <= 500 else line[:497] + "..."


def _safe_streams() -> None:
    """Never crash on printing: lone surrogates from undecodable argv bytes, or a non-UTF-8 terminal."""
    # Usually TextIOWrappers; a replaced stream without `reconfigure` raises AttributeError, caught below.
    for stream in cast("tuple[io.TextIOWrapper, ...]", (sys.stdout, sys.stderr)):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass


def _usage_message(exc: BaseException) -> str | None:
    """The one-line usage message for errors that are the caller's, not sulfml's; None otherwise. Where the
    way out is an option of the command line, it is named here (library messages never name options)."""
    from sulfml.errors import DataUnavailableError, MissingColumnError, UserError

    hints = {MissingColumnError: "with --column NAME, or add a header row",
             DataUnavailableError: "or pass that folder with --data-dir"}
    if isinstance(exc, UserError):
        hint = next((h for cls, h in hints.items() if isinstance(exc, cls)), None)
        return _one_line(f"{exc} {hint}" if hint else exc)
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError | NotADirectoryError):
        what = {FileNotFoundError: "not found", PermissionError: "permission denied",
                IsADirectoryError: "is a directory", NotADirectoryError: "not a directory"}
        reason = next(v for k, v in what.items() if isinstance(exc, k))
        return _one_line(f"{exc.filename}: {reason}" if exc.filename else f"{reason}: {exc}")
    if isinstance(exc, OSError) and exc.filename and exc.strerror:  # a full disk, a read-only file system
        return _one_line(f"{exc.filename}: {exc.strerror}")
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `sulfml` console script (`argv` None: this process's own arguments)."""
    status = _command(argv)
    if argv is None:
        # The process ends with the command: its last collection of the whole heap (pandas', pyarrow's and the
        # models' objects) took 0.1 s of a 0.7 s `sulfml predict FORMULA`. Frozen, it is skipped; objects are
        # still freed as their last reference goes, and the atexit handlers run (outputs are closed before).
        gc.freeze()
    return status


def _command(argv: list[str] | None) -> int:
    """Parse the command line, run the subcommand, and map its errors to exit statuses."""
    # XGBoost's OpenMP threads spin while they wait; when another process shares the cores (a second
    # tuning worker, a test run) that spinning made a 10 s cross-validation take 10 minutes on 2 cores.
    # A setting of the process, so the command sets it, not the library.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _safe_streams()
    argv = list(sys.argv[1:] if argv is None else argv)
    # --debug is accepted anywhere before a `--`, not only before the subcommand
    cut = argv.index("--") if "--" in argv else len(argv)
    debug = "--debug" in argv[:cut] or os.environ.get("SULFML_DEBUG", "") not in ("", "0")
    argv = [a for a in argv[:cut] if a != "--debug"] + argv[cut:]
    _Parser.dash_formula = any(a[:2] in ("-(", "-[") or a[:2].lstrip("-").isupper() and a[:1] == "-"
                               and a[1:2] != "-" for a in argv[:cut])
    # `sulfml predict ...` builds the parser of `predict` alone; anything else (help, --version, a typo) the whole
    # one. The first argument is the subcommand whenever it names one: the top-level options take no value.
    only = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    args = build_parser(only).parse_args(argv)
    where = f"sulfml {args.command}"
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `sulfml predict ... | head`: the reader left; not an error worth a message
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep interpreter shutdown from flushing
        except OSError:
            pass
        return 0
    except Exception as exc:
        if debug:
            import traceback

            traceback.print_exc()
        message = _usage_message(exc)
        if message is not None:
            print(f"{where}: error: {message}", file=sys.stderr)
            return EXIT_USAGE
        hint = "" if debug else " (run with --debug for the traceback)"
        print(f"{where}: internal error: {type(exc).__name__}: {_one_line(exc)}{hint}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
