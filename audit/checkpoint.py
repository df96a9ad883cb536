"""C2SP tlog-checkpoint: the note text naming a log's Merkle tree head."""

import re
from dataclasses import dataclass

from audit._codec import b64decode, b64encode
from audit.errors import CheckpointError
from audit.merkle import HASH_SIZE

# C2SP tlog-checkpoint: "ASCII decimal ... with no leading zeroes (unless the tree is empty)"
_SIZE = re.compile(r"0|[1-9][0-9]*")
_MAX_SIZE = 2**64 - 1
# C2SP signed-note: notes carry no ASCII control characters other than newline
_CONTROL = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True)
class Checkpoint:
    """A log's origin, tree size and root hash, with any opaque extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or _CONTROL.search(self.origin):
            raise CheckpointError("the origin must be one non-empty line")
        if not 0 <= self.size <= _MAX_SIZE:
            raise CheckpointError(f"tree size {self.size} is out of range")
        if len(self.root) != HASH_SIZE:
            raise CheckpointError(f"the root hash must be {HASH_SIZE} bytes")
        for line in self.extensions:
            # C2SP tlog-checkpoint: "Extension lines, if any, MUST be non-empty"
            if not line or _CONTROL.search(line):
                raise CheckpointError("each extension must be one non-empty line")

    def body(self) -> bytes:
        """The note text: origin, size, base64 root and extensions, each ending in newline."""
        lines = [self.origin, str(self.size), b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines).encode()

    @classmethod
    def parse(cls, body: bytes) -> "Checkpoint":
        """Read a checkpoint body strictly; anything that would not re-encode the same fails."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError("checkpoint is not valid UTF-8") from None
        if not text.endswith("\n"):
            raise CheckpointError("checkpoint does not end in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError("checkpoint has fewer than three lines")
        origin, size, root, *extensions = lines
        if _CONTROL.search(text.replace("\n", "")):
            raise CheckpointError("checkpoint contains a control character")
        if len(size) > len(str(_MAX_SIZE)) or not _SIZE.fullmatch(size):
            raise CheckpointError("tree size is not a decimal without leading zeroes")
        try:
            root_hash = b64decode(root)
        except ValueError:
            raise CheckpointError("root hash is not base64") from None
        return cls(origin=origin, size=int(size), root=root_hash, extensions=tuple(extensions))
