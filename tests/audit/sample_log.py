"""A small signed log and exports of it, for the export and command-line tests."""

import io
import json
from collections.abc import Sequence

from audit.checkpoint import Checkpoint
from audit.cosignature import CosignatureSigner
from audit.export import write_export
from audit.merkle import inclusion_proof, leaf_hash
from audit.note import NoteSigner, add_signatures, sign_note
from audit.tree import CompactRange

ENTRIES = [json.dumps({"seq": i, "event": "record.read"}).encode() for i in range(40)]
LEAVES = [leaf_hash(entry) for entry in ENTRIES]
LOG = NoteSigner.generate("exchange.example/audit")
WITNESSES = [CosignatureSigner.generate(f"agency{i}.example/witness") for i in range(3)]


def checkpoint(size: int, *, signer: NoteSigner = LOG, witnesses: int = 2) -> bytes:
    """The signed checkpoint of the first ``size`` entries, cosigned by some witnesses."""
    tree = CompactRange.empty()
    tree.extend(LEAVES[:size])
    body = Checkpoint(origin=LOG.name, size=size, root=tree.root()).body()
    cosignatures = [w.sign(body, timestamp=1_700_000_000) for w in WITNESSES[:witnesses]]
    return add_signatures(sign_note(body, signers=[signer]), cosignatures)


def export(
    indexes: Sequence[int] | None = None,
    *,
    size: int = 40,
    proofs: bool = True,
    note: bytes | None = None,
) -> list[str]:
    """The export lines: complete when ``indexes`` is None, else those entries."""
    chosen = range(size) if indexes is None else indexes
    entries = [
        (i, ENTRIES[i], inclusion_proof(i, size, LEAVES) if proofs else None) for i in chosen
    ]
    stream = io.StringIO()
    write_export(
        stream,
        checkpoint_note=checkpoint(size) if note is None else note,
        size=size,
        entries=entries,
        complete=indexes is None,
    )
    return stream.getvalue().splitlines(keepends=True)


def edit(line: str, **changes: object) -> str:
    """The JSON line with some members replaced."""
    value = json.loads(line)
    value.update(changes)
    return json.dumps(value) + "\n"
