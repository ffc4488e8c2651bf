"""``dbt docs generate`` after a ``wholechild run``, from the parse the run's dbt build made.

``dbt docs generate`` parses the whole project again (about 8 s of its 13 on a small authority) whenever
its profile differs from the last parse's, and it always does: its target opens the analytics file
read-only (so that it can read beside the returns), and the profile's settings are part of what dbt
compares. The build's parse is kept in the home (transform/assets.py); when it was made for the same code,
dbt and vars, it is handed to dbt here as the project's manifest, and dbt only compiles and reads the
catalogue. The site it writes is the same: the catalogue and every node's compiled SQL, checked against a
full parse's (tests/integration/test_pipeline.py). Anything else (no parse kept, another code's) is a full
parse, as before.

Run as ``python -m orchestration.transform.docs`` from the dbt project's folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PARSE_FILE = "partial_parse.msgpack"
PARSE_STAMP = ".parsed_for"  # beside the kept parse: the code key and vars it was made for


def stamp(code_key: str, dbt_vars: str) -> str:
    return json.dumps({"code": code_key, "vars": json.loads(dbt_vars)}, sort_keys=True)


def kept_parse(folder: Path, code_key: str, dbt_vars: str):
    """The build's parse as dbt's Manifest, when it was made for this code and these vars; else None."""
    try:
        if (folder / PARSE_STAMP).read_text(encoding="utf-8") != stamp(code_key, dbt_vars):
            return None
        data = (folder / PARSE_FILE).read_bytes()
    except OSError:
        return None
    from dbt.contracts.graph.manifest import Manifest

    try:
        return Manifest.from_msgpack(data)
    except Exception:  # a parse dbt cannot read back is parsed again, as dbt itself does
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.transform.docs")
    parser.add_argument("--target-path", required=True, help="where the site is written")
    parser.add_argument("--vars", required=True, help="dbt vars, as JSON (as the build had them)")
    parser.add_argument("--parse", required=True, help="the folder holding the build's kept parse")
    parser.add_argument("--code-key", required=True, help="the code the docs are for (transform/assets.py)")
    args = parser.parse_args(argv)
    from dbt.cli.main import dbtRunner

    manifest = kept_parse(Path(args.parse), args.code_key, args.vars)
    print(
        "dbt docs from the build's parse" if manifest is not None else "dbt docs: parsing the project",
        flush=True,
    )
    command = ["--log-level-file", "warn", "docs", "generate", "--target", "docs"]
    command += ["--target-path", args.target_path, "--vars", args.vars]
    result = dbtRunner(manifest=manifest).invoke(command)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
