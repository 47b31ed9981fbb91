"""Refresh the copies of schemas embedded in other schemas (schemas/*.schema.json), so that each schema
validates with a plain `jsonschema.validate(document, schema)`: protocol embeds case; result and export embed
protocol. Run after editing case.schema.json or protocol.schema.json; tests/meta/test_schemas.py fails until
the copies match their sources.

    python tools/bundle_schemas.py
"""

from __future__ import annotations

import sys

from conformance.schemas import SCHEMAS_DIR, write_bundles


def main() -> int:
    written = write_bundles()
    for name in written:
        print(f"rewrote {SCHEMAS_DIR / name}.schema.json")
    if not written:
        print("schemas: every embedded copy is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
