"""Ed25519 public-key encodings that no key may have, and the forgery they would allow."""

P = 2**255 - 19
# The y-coordinate of the order-8 points of edwards25519 (libsodium's blocklist)
_Y8 = int.from_bytes(
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), "little"
)
SMALL_ORDER_ENCODINGS = [
    (y | sign << 255).to_bytes(32, "little") for y in (0, 1, P - 1, _Y8, P - _Y8) for sign in (0, 1)
]
# R = identity, S = 0: under a key of small order it verifies for a share of all messages.
TRIVIAL_FORGERY = (1).to_bytes(32, "little") + bytes(32)
