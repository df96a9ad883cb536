"""``python -m audit verify EXPORT_FILE --key VKEY [--witness VKEY ...] [--quorum K]``.

Exits 0 when the export is valid, 1 with the reason when it is not.
"""

import argparse
import base64
import sys
from collections.abc import Sequence

from audit.errors import AuditError
from audit.verify import ExportReport, verify_export


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m audit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="verify an audit export offline")
    verify.add_argument("export", metavar="EXPORT_FILE", help="the JSON Lines export")
    verify.add_argument(
        "--key", required=True, metavar="VKEY", help="the log's verifier key, from a trusted source"
    )
    verify.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="VKEY",
        help="a trusted witness cosignature key (repeatable)",
    )
    verify.add_argument(
        "--quorum", type=int, default=0, metavar="K", help="witnesses that must have cosigned"
    )
    return parser


def _describe(report: ExportReport) -> str:
    kind = "complete" if report.complete else "filtered"
    witnesses = ", ".join(report.cosigned_by) or "none checked"
    return "\n".join(
        [
            "export verified",
            f"  log:         {report.origin}",
            f"  tree size:   {report.size}",
            f"  root hash:   {base64.b64encode(report.root).decode()}",
            f"  entries:     {report.entries_verified} verified ({kind} export)",
            f"  cosigned by: {witnesses}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        with open(args.export, "rb") as export:
            report = verify_export(
                export, log_key=args.key, witness_keys=args.witness, quorum=args.quorum
            )
    except OSError as error:
        print(f"cannot read {args.export}: {error.strerror}", file=sys.stderr)
        return 1
    except AuditError as error:
        print(f"export NOT verified ({error.code}): {error}", file=sys.stderr)
        return 1
    print(_describe(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
