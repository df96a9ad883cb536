"""Published test vectors for the audit tests, each with the source it was copied from."""

import base64
import json
from pathlib import Path
from typing import Any

import pytest

# transparency-dev/merkle testdata (Apache 2.0), as the shared folder beside the repository
# holds it; a copy travels with the tests for checkouts without that folder.
SHARED_MERKLE_TESTDATA = (
    Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "merkle"
)
VENDORED_MERKLE_TESTDATA = Path(__file__).resolve().parent / "testdata" / "merkle"
MERKLE_TESTDATA = (
    SHARED_MERKLE_TESTDATA if SHARED_MERKLE_TESTDATA.is_dir() else VENDORED_MERKLE_TESTDATA
)


def merkle_cases(kind: str) -> list[Any]:
    """One pytest param per JSON case under ``inclusion`` or ``consistency``."""
    folder = MERKLE_TESTDATA / kind
    if not folder.is_dir():
        reason = f"RFC 9162 test data not found at {folder}"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="missing")]
    return [
        pytest.param(json.loads(path.read_text()), id=str(path.relative_to(folder)))
        for path in sorted(folder.rglob("*.json"))
    ]


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def hashes(values: list[str] | None) -> list[bytes]:
    return [b64(v) for v in values or []]


def signature_line(name: str, encoded: str) -> bytes:
    # C2SP signed-note: em dash, space, key name, space, base64 signature, newline
    return f"\u2014 {name} {encoded}\n".encode()


# MERKLE_TESTDATA/README.md: known-answer roots for these leaf inputs
KNOWN_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
KNOWN_ROOT_5 = bytes.fromhex("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4")
KNOWN_ROOT_8 = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
KNOWN_EMPTY_ROOT = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

# golang.org/x/mod sumdb/note/note_test.go: TestSign, TestOpen, TestNewVerifier
PETER_SEED = b64("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
PETER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_KEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    b"If you think cryptography is the answer to your problem,\n"
    b"then you don't know what your problem is.\n"
)
PETER_SIG = signature_line(
    "PeterNeumann",
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
)
ENOCH_SIG = signature_line(
    "EnochRoot",
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=",
)

# transparency-dev/formats note/note_cosigv1_test.go: TestCoSigV1NewVerifier (a type 0x01
# key whose base64 holds a "+", and the type 0x04 key of the remora.n621.de witness) and
# TestCosignatureTimestamp
PLUS_KEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
REMORA_KEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
TIMESTAMPED_SIGNATURE = (
    "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOwor"
    "DcFiEBYJXORmnFBOBA=="
)
TIMESTAMPED_SIGNATURE_TIME = 1727964367

# A published checkpoint of the arche2025h1.staging.ct.transparency.dev static-ct log, with
# its RFC 6962 (type 0x05) and Ed25519 (0x01) log signatures and four witness cosignatures
# (0x04); the keys are the log's and the witnesses' published verifier keys.
ARCHE_LOG_KEY = (
    "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
)
ARCHE_BODY = (
    b"arche2025h1.staging.ct.transparency.dev\n"
    b"1432088532\n"
    b"U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n"
)
ARCHE_NOTE = (
    ARCHE_BODY
    + b"\n"
    + b"".join(
        [
            signature_line(
                "arche2025h1.staging.ct.transparency.dev",
                "zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroe"
                "W2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=",
            ),
            signature_line(
                "arche2025h1.staging.ct.transparency.dev",
                "ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP"
                "7Ry1k3ZFWwQ=",
            ),
            signature_line(
                "transparency.dev/DEV:witness-little-garden",
                "2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRA"
                "ErumC2q44vdgJY096st5BQ==",
            ),
            signature_line(
                "witness1.smartit.nu/witness1",
                "pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbq"
                "mNWVuE0tgh0XwzdZsDsUAQ==",
            ),
            signature_line(
                "remora.n621.de",
                "2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk"
                "5XeU/zZ0WBxtqB0DrAWfBw==",
            ),
            signature_line(
                "witness.stagemole.eu",
                "Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgK"
                "i7lI7cUiOvKFYe/TmN9DAg==",
            ),
        ]
    )
)
ARCHE_WITNESS_KEYS = (
    "transparency.dev/DEV:witness-little-garden+d8042a87+BCtusOxINQNUTN5Oj8HObRkh2yHf/MwYaGX4CPdiVEPM",
    "witness1.smartit.nu/witness1+a48c820f+BPSFWg9G6KPiO7QPryYO5Xq4oYJJ+kAvLKLSimDhoxMO",
    REMORA_KEY,
    "witness.stagemole.eu+67f7aea0+BEqSG3yu9YrmcM3BHvQYTxwFj3uSWakQepafafpUqklv",
)
ARCHE_COSIGNATURE_TIME = 1779573024
