"""The `superstrax` command line."""
import argparse
import sys


def build_parser():
    parser = argparse.ArgumentParser(prog="superstrax",
                                     description="strax-compatible data and superruns")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="make a few runs and a superrun in a data directory")
    demo.add_argument("directory", nargs="?", default=None,
                      help="data directory to use (default: a temporary one, removed after)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo
        return run_demo(args.directory)
    return 2


if __name__ == "__main__":
    sys.exit(main())
