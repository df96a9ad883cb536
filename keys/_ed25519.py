"""A public-key check for Ed25519 that OpenSSL leaves out.

OpenSSL accepts any 32 bytes as an Ed25519 public key and verifies without the cofactor, so a
key of small order (the identity point, for one) verifies the signature ``R = identity,
S = 0`` over every message, or over one message in eight: such a key binds no secret and
must not be registered. The eight small-order points share five y-coordinates, and a
y-coordinate alone decides it, so the check costs a comparison rather than a point
decompression. Field and curve constants are RFC 8032 §5.1.
"""

_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _sqrt(a: int) -> int | None:
    # RFC 8032 §5.1.3, step 3: p ≡ 5 (mod 8)
    a %= _P
    x = pow(a, (_P + 3) // 8, _P)
    if x * x % _P != a:
        x = x * _SQRT_M1 % _P
    return x if x * x % _P == a else None


def _order_eight_y() -> int:
    # Doubling an order-8 point gives an order-4 point, whose y is 0; with a = -1 that forces
    # x² = -y², and the curve equation becomes d·y⁴ + 2·y² - 1 = 0.
    root = _sqrt(1 + _D)
    for candidate in () if root is None else (root, _P - root):
        y = _sqrt((candidate - 1) * pow(_D, -1, _P))
        if y is not None:
            return y
    raise AssertionError("edwards25519 has points of order 8")


_Y8 = _order_eight_y()
# identity (order 1), (0, -1) (order 2), (±√-1, 0) (order 4), and the four of order 8
_SMALL_ORDER_Y = frozenset({1, _P - 1, 0, _Y8, _P - _Y8})


def is_acceptable_public_key(encoded: bytes) -> bool:
    """True unless ``encoded`` is malformed, non-canonical or a point of small order.

    Encodings of y that are not on the curve at all pass: OpenSSL rejects them at
    verification, so they can never verify anything.
    """
    if len(encoded) != 32:
        return False
    y = int.from_bytes(encoded, "little") & ((1 << 255) - 1)
    # RFC 8032 §5.1.3, step 1: y must be reduced modulo p
    return y < _P and y not in _SMALL_ORDER_Y
