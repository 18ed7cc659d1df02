"""The `superstrax` command line: argument parsing and printing; the work is done in
superstrax.cli.maintenance, superstrax.cli.verification and superstrax.cli.demo."""
import argparse
import os
import sys

# Importing anything of superstrax runs the package's __init__, which loads numba and pandas,
# so the CLI may use the library's own constants.
from ..chunk import DEFAULT_CHUNK_SPLIT_NS, human_bytes

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# Rechunking cuts only where rows are more than this far apart.
SPLIT_NS = DEFAULT_CHUNK_SPLIT_NS


def _exit_codes(ok, failed, usage):
    return f"exit status:\n  0  {ok}\n  1  {failed}\n  2  {usage}"


_EXIT_CODES = _exit_codes(
    "success (verify: no problems found)",
    "the operation failed or found problems; for define also an invalid definition, "
    "including\n     subruns that have no run document in the directory",
    "bad command line: missing or conflicting arguments, or something named on the command\n"
    "     line that does not exist or cannot be used: DIR, verify's run R, rechunk's KEY,\n"
    "     define's ranges FILE")


def _command(sub, name, help, description, examples, exit_codes, notes=""):
    """Add subcommand `name`: its one-line help, its description, and an epilog of its
    examples, any notes and its exit codes (ok, failed, usage)."""
    epilog = (("example" if len(examples) == 1 else "examples") + ":\n"
              + "".join(f"  {e}\n" for e in examples) + "\n" + notes + _exit_codes(*exit_codes))
    return sub.add_parser(name, formatter_class=_Formatter, help=help,
                          description=description, epilog=epilog)


class _Formatter(argparse.HelpFormatter):
    """Wraps one-paragraph descriptions to the terminal, but keeps texts laid out over several
    lines (examples, exit codes) as written."""

    def _fill_text(self, text, width, indent):
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _positive_mb(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of MB") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of MB, got {text}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="superstrax", formatter_class=_Formatter,
        description="strax-compatible data and superruns: inspect, check and maintain a data "
                    "directory (the folder a superstrax.DataDirectory or strax.DataDirectory "
                    "points at).",
        epilog="Run 'superstrax COMMAND --help' for the options of one command.\n\n" + _EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"superstrax {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = _command(
        sub, "demo", help="make a few runs and a superrun in a data directory",
        description="Make three small runs, define a superrun of them, load it on the fly, "
                    "store it and load it back: a quick check that the installation works.",
        examples=["superstrax demo ./strax_data"],
        exit_codes=("the demo ran", "the demo failed",
                    "DIR exists but is a file, not a directory"))
    demo.add_argument("directory", nargs="?", default=None, metavar="DIR",
                      help="data directory to use (default: a temporary one, removed after)")

    runs = _command(
        sub, "runs",
        help="list the runs and superruns in a data directory with their stored data",
        description="List every run and superrun of a data directory: its start and end, the "
                    "stored data types with rows, chunks and on-disk size; for superruns also "
                    "their subruns and livetime. Data of a superrun made for an older "
                    "definition is marked as such. Folders left by interrupted writes "
                    "('<key>_temp') and by interrupted replacements ('<key>.replaced-XXXX') "
                    "are listed at the end; 'superstrax verify' says what to do with them.",
        examples=["superstrax runs ./strax_data"],
        exit_codes=("listed", "the directory cannot be read",
                    "DIR does not exist or is not a directory"))
    runs.add_argument("directory", metavar="DIR", help="the data directory")

    define = _command(
        sub, "define", help="define a superrun from runs or from time ranges",
        description="Define superrun NAME (it must start with '_') in a data directory, from "
                    "whole runs or from time ranges of runs read from a JSON file. The subruns "
                    "must have run documents in the directory and must not overlap in time. "
                    "Defining an existing NAME again replaces its definition.",
        examples=["superstrax define ./strax_data _week1 001 002 003",
                  "superstrax define ./strax_data _kr_events --from-ranges ranges.json"],
        notes="ranges.json holds an object of run ids, each with \"all\" or a list of\n"
              "[start_ns, end_ns] ranges:\n"
              '  {"001": "all", "002": [[1600000000000000000, 1600000001000000000]]}\n\n',
        exit_codes=("defined",
                    "the definition is invalid: NAME not starting with '_', a subrun without "
                    "a run\n     document in DIR, overlapping ranges, times that are not whole "
                    "ns, ...",
                    "bad command line: DIR does not exist, FILE is missing or not JSON of "
                    "the\n     form above, neither or both of RUN and --from-ranges given"))
    define.add_argument("directory", metavar="DIR", help="the data directory")
    define.add_argument("name", metavar="NAME", help="name of the superrun, starting with '_'")
    define.add_argument("runs", nargs="*", metavar="RUN", help="runs to include whole")
    define.add_argument("--from-ranges", metavar="FILE",
                        help="JSON file {run_id: \"all\" | [[start_ns, end_ns], ...]} "
                             "(instead of RUN arguments)")

    verify = _command(
        sub, "verify", help="read all stored data and check it against its metadata",
        description="Read every chunk of every data folder and check it against the folder's "
                    "metadata: chunk files exist and decode, row counts, byte sizes and file "
                    "sizes match, rows are in time order and inside their chunk, chunks follow "
                    "each other without overlap (regular runs: without gaps) and the write "
                    "finished without error. Folders left by failed or killed writes "
                    "('<key>_temp') are reported as incomplete writes and copies left by an "
                    "interrupted replacement ('<key>.replaced-XXXX') as leftover copies; run "
                    "documents must be readable (a superrun's must resolve to its subruns). "
                    "What it cannot see: blosc chunk files (the default) carry no checksum, "
                    "so a flipped byte inside compressed data may decode to wrong values "
                    "undetected; verify checks sizes, row counts, time order and bounds.",
        examples=["superstrax verify ./strax_data",
                  "superstrax verify ./strax_data --run _week1"],
        exit_codes=("no problems found", "problems found (listed per folder)",
                    "DIR does not exist, or R (--run) has no run document and no data in DIR"))
    verify.add_argument("directory", metavar="DIR", help="the data directory")
    verify.add_argument("--run", metavar="R",
                        help="check only run R (for a superrun: all its data folders, "
                             "whatever definition they were made for)")
    verify.add_argument("-v", "--verbose", action="store_true",
                        help="also list the folders that are fine")

    rechunk = _command(
        sub, "rechunk", help="rewrite stored data with another chunk size",
        description="Rewrite one data folder with chunks of about --target-mb MB "
                    "(uncompressed). Incoming chunks are joined until they pass the target, "
                    f"and the joined data is cut only where rows are more than {SPLIT_NS} ns "
                    "apart (at the last such gap within the target, else the first one after "
                    "it). Data without such gaps therefore ends up in fewer, larger chunks "
                    "than asked for, down to a single chunk; a note says so when it happens. "
                    "The new copy is written to '<KEY>_temp' and replaces the original only "
                    "once it is complete; on any failure the original is left as it was.",
        examples=["superstrax rechunk ./strax_data 001-peaks-xia2iit6vb --target-mb 50",
                  "superstrax rechunk ./strax_data ./strax_data/001-peaks-xia2iit6vb "
                  "--target-mb 50"],
        exit_codes=("rewritten", "failed; the original data is kept as it was",
                    "DIR does not exist; KEY is not a complete data folder of DIR (no such\n"
                    "     folder, a path outside DIR, an incomplete write); --target-mb is not "
                    "> 0"))
    rechunk.add_argument("directory", metavar="DIR", help="the data directory")
    rechunk.add_argument("key", metavar="KEY",
                         help="the data folder to rewrite: its name <run>-<type>-<hash> "
                              "(as 'superstrax runs' lists them) or its path inside DIR")
    rechunk.add_argument("--target-mb", type=_positive_mb, required=True, metavar="N",
                         help="target chunk size in MB (> 0, may be fractional)")
    for sub_parser in sub.choices.values():
        # Lets a command report a usage error with its own usage line.
        sub_parser.set_defaults(command_parser=sub_parser)
    return parser


def _version():
    from .._version import __version__
    return __version__


# --- formatting --------------------------------------------------------------------------------
def _when(ns):
    from ..runs.superruns import from_ns
    return from_ns(ns).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _seconds(ns):
    """ns as an exact decimal number of seconds (a float would round the last digits)."""
    ns = round(ns)
    sign, ns = ("-" if ns < 0 else ""), abs(ns)
    frac = f"{ns % 10**9:09d}".rstrip("0")
    return f"{sign}{ns // 10**9}" + (f".{frac}" if frac else "")


def _span_lines(start, end, livetime=None):
    lines = []
    if start is not None and end is not None:
        lines.append(f"start {start} ns ({_when(start)}), end {end} ns ({_when(end)})")
    if livetime is not None:
        lines.append(f"livetime {livetime:.0f} ns ({_seconds(livetime)} s)")
    return lines


def _subrun_text(spec):
    parts = []
    for run_id, value in spec.items():
        if value == "all":
            parts.append(f"{run_id} (all)")
        elif not isinstance(value, (list, tuple)):
            parts.append(f"{run_id} ({value!r})")
        else:
            n = len(value)
            parts.append(f"{run_id} ({n} range{'s' if n != 1 else ''})")
    return ", ".join(parts)


# --- commands ----------------------------------------------------------------------------------
def cmd_runs(args, out, err):
    from .maintenance import inventory
    inv = inventory(args.directory)
    if not inv.runs and not inv.incomplete and not inv.replaced:
        out(f"no runs in {inv.path} (no run documents and no data folders)")
        return EXIT_OK
    n_super = sum(r.is_superrun for r in inv.runs)
    out(f"{inv.path}: {len(inv.runs) - n_super} run(s), {n_super} superrun(s)")
    for run in inv.runs:
        out("")
        out(f"{'superrun' if run.is_superrun else 'run'} {run.name}")
        if run.doc_error:
            out(f"  run document unreadable: {run.doc_error}")
        elif run.doc is None:
            out("  no run document (only data)")
        if run.is_superrun and run.sub_run_spec:
            out(f"  subruns: {_subrun_text(run.sub_run_spec)}")
        for line in _span_lines(run.start, run.end,
                                run.livetime if run.is_superrun else None):
            out(f"  {line}")
        if not run.data:
            out("  no stored data")
            continue
        out("  data:")
        width = max(len(d.data_type) for d in run.data)
        for d in sorted(run.data, key=lambda d: (d.data_type, d.folder)):
            if d.rows is None:
                detail = "metadata unreadable"
            else:
                detail = (f"{d.rows} rows in {d.chunks} chunk{'s' if d.chunks != 1 else ''}, "
                          f"{human_bytes(d.size)}")
            notes = []
            if d.definition == "older":
                notes.append("made for an older definition of the superrun")
            elif d.definition == "combining":
                notes.append("made with combining=True")
            elif d.definition == "unresolved":
                notes.append("the superrun's definition no longer resolves; see "
                             "'superstrax verify'")
            if d.error:
                notes.append(d.error)
            note = f"  [{'; '.join(notes)}]" if notes else ""
            out(f"    {d.data_type:<{width}}  {detail}  {d.folder}{note}")
    if inv.incomplete:
        out("")
        out(f"incomplete writes (run 'superstrax verify {inv.path}'): "
            f"{', '.join(inv.incomplete)}")
    if inv.replaced:
        out("")
        out(f"leftover copies of replaced data, from an interrupted replacement (run "
            f"'superstrax verify {inv.path}'): {', '.join(inv.replaced)}")
    return EXIT_OK


def cmd_define(args, out, err):
    from .maintenance import define_superrun, load_ranges
    if args.from_ranges and args.runs:
        raise _Usage("give either RUN arguments or --from-ranges FILE, not both")
    if args.from_ranges:
        data = load_ranges(args.from_ranges)
    elif args.runs:
        data = list(args.runs)
    else:
        raise _Usage("give the runs of the superrun (RUN ...) or --from-ranges FILE")
    doc, replaced = define_superrun(args.directory, args.name, data)
    from ..runs.superruns import to_ns
    out(f"{'redefined' if replaced else 'defined'} superrun {args.name} in {args.directory}")
    out(f"  subruns: {_subrun_text(doc['sub_run_spec'])}")
    for line in _span_lines(to_ns(doc["start"]), to_ns(doc["end"]), float(doc["livetime"])):
        out(f"  {line}")
    return EXIT_OK


def cmd_verify(args, out, err):
    from .verification import verify
    reports = verify(args.directory, run=args.run)
    scope = f" (run {args.run})" if args.run else ""
    out(f"verifying {args.directory}{scope}")
    n_ok = n_bad = chunks = rows = 0
    ok_kinds = {}
    for report in reports:
        if report.ok:
            n_ok += 1
            ok_kinds[report.kind] = ok_kinds.get(report.kind, 0) + 1
            chunks += report.chunks
            rows += report.rows
            if args.verbose:
                what = (f"{report.chunks} chunks, {report.rows} rows"
                        if report.kind == "data" else "readable")
                out(f"  ok       {report.name}: {what}")
        else:
            n_bad += 1
            label = "INCOMPLETE" if report.kind == "incomplete write" else "PROBLEM"
            kind = "" if report.kind in ("data", "incomplete write") else f" ({report.kind})"
            out(f"  {label:<8} {report.name}{kind}:")
            for p in report.problems:
                out(f"    - {p}")
        for note in report.notes:
            out(f"  note     {report.name}: {note}")
    if n_bad:
        out(f"FAILED: problems in {n_bad} of {n_ok + n_bad} checked item(s) (data folders, "
            f"incomplete writes, run documents); the other {n_ok} are fine")
        return EXIT_FAILED
    out(f"OK: {ok_kinds.get('data', 0)} data folder(s) with {chunks} chunks and {rows} rows "
        f"read back as their metadata says; {ok_kinds.get('run document', 0)} run "
        f"document(s) readable")
    return EXIT_OK


def cmd_rechunk(args, out, err):
    from .maintenance import rechunk
    res = rechunk(args.directory, args.key, args.target_mb)
    out(f"rechunked {res.folder} to about {args.target_mb:g} MB per chunk: "
        f"{res.old_chunks} -> {res.new_chunks} chunks, {res.rows} rows, "
        f"{human_bytes(res.old_size)} -> {human_bytes(res.new_size)} on disk")
    if res.oversized:
        out(f"note: no gaps over {SPLIT_NS} ns to cut at; chunks were joined ({res.oversized} "
            f"of {res.new_chunks} larger than {args.target_mb:g} MB)")
    return EXIT_OK


def cmd_demo(args, out, err):
    from .demo import run_demo
    from .maintenance import InputError
    if args.directory is not None and os.path.exists(args.directory) \
            and not os.path.isdir(args.directory):
        raise InputError(f"{args.directory} is a file, not a directory; give a directory for "
                         f"the demo's data (it is made if it does not exist)")
    return run_demo(args.directory)


_COMMANDS = {"demo": cmd_demo, "runs": cmd_runs, "define": cmd_define, "verify": cmd_verify,
             "rechunk": cmd_rechunk}


class _Usage(Exception):
    """An argument combination argparse cannot express; reported like argparse's own errors."""


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:       # --help, --version and argparse's usage errors
        if e.code is None:
            return EXIT_OK
        return e.code if isinstance(e.code, int) else EXIT_USAGE

    def out(text=""):
        print(text, flush=True)

    def err(text):
        print(text, file=sys.stderr, flush=True)

    from ..errors import SuperstraxError
    from .maintenance import InputError
    try:
        return _COMMANDS[args.command](args, out, err)
    except _Usage as e:
        args.command_parser.print_usage(sys.stderr)
        err(f"superstrax {args.command}: error: {e}")
        return EXIT_USAGE
    except InputError as e:
        err(f"error: {e}")
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (e.g. `superstrax runs DIR | head`); nothing more to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except (SuperstraxError, OSError) as e:
        err(f"error: {e}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        err("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
