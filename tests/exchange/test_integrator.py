"""The integrator and ``exchange audit verify``/``export`` against a real database.

Tamper tests play an attacker with database rights: the append-only triggers are dropped,
then one entry is changed, deleted, inserted or two are swapped; verification must find
each and name it. Each test has an exchange of its own (``tests/isolated.py``).
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from audit.errors import AuditError
from audit.merkle import leaf_hash, root_from_leaf_hashes, verify_consistency, verify_inclusion
from audit.note import NoteVerifier
from audit.tree import CompactRange, NodeID, stored_index
from exchange.extensions import db
from exchange.pki.vault import load_vault
from exchange.trail import full_verification, leaf_checks
from exchange.trail.full_verification import Report, verify_log
from exchange.trail.integrator import Integrator
from exchange.trail.integrator_process import (
    IntegratorLock,
    build_integrator,
    lock_path,
    log_origin,
)
from exchange.trail.signed_state import SignedStateMismatch
from exchange.trail.stored_tree import consistency_proof, inclusion_proof, stored_hashes
from tests.factories import AgencySystem, World
from tests.isolated import isolated_app, owner_connection, owner_url

TRIGGERED = (
    "audit_entry",
    "audit_target",
    "audit_leaf",
    "audit_hash",
    "audit_checkpoint",
    "audit_cosignature",
    "record_feed",
)


@pytest.fixture()
def fresh(tmp_path: Path) -> Iterator[Flask]:
    with isolated_app(tmp_path / "instance") as app:
        yield app


@pytest.fixture()
def caller(fresh: Flask, tmp_path: Path) -> AgencySystem:
    return World(fresh, tmp_path / "bundles").agency("police")


def publish(app: Flask, caller: AgencySystem, count: int) -> None:
    client = app.test_client()
    for _ in range(count):
        response = client.post(
            "/api/v1/records",
            json=caller.submission(caller.envelope()),
            environ_base=caller.environ(),
        )
        assert response.status_code == 201


def integrator(app: Flask) -> Integrator:
    with app.app_context():
        return build_integrator(app)


def verifier(app: Flask) -> NoteVerifier:
    with app.app_context():
        signer = load_vault().log_signer(log_origin(app))
    return NoteVerifier.from_verifier_key(signer.verifier_key())


def verify(app: Flask) -> Report:
    # Read five leaves at a time: a log of a few dozen entries spans several reads.
    with app.app_context():
        report = verify_log(db.session.connection(), verifier=verifier(app), batch=5)
        db.session.remove()
    return report


def sql(app: Flask, *statements: str, **params: Any) -> list[tuple[Any, ...]]:
    """Run ``statements`` as the attacker does: with the owner's rights, not the app's."""
    rows: list[tuple[Any, ...]] = []
    with owner_connection(app) as connection:
        for statement in statements:
            result = connection.execute(text(statement), params)
            if result.returns_rows:
                rows = [tuple(r) for r in result]
    return rows


def drop_triggers(app: Flask) -> None:
    if owner_url(app).startswith("postgresql"):
        for table in TRIGGERED:
            sql(app, f"ALTER TABLE {table} DISABLE TRIGGER USER")
    else:
        names = sql(app, "SELECT name FROM sqlite_master WHERE type = 'trigger'")
        sql(app, *(f"DROP TRIGGER {name}" for (name,) in names))


def checkpointed_log(app: Flask, caller: AgencySystem) -> Integrator:
    """A log of a few dozen entries under several checkpoints."""
    worker = integrator(app)
    for _ in range(3):
        publish(app, caller, 7)
        worker.integrate(checkpoint=True)
    return worker


class TestIntegration:
    def test_every_entry_gets_one_leaf_in_order_and_the_root_is_signed(
        self, fresh: Flask, caller: AgencySystem
    ) -> None:
        publish(fresh, caller, 12)
        result = integrator(fresh).integrate(checkpoint=True)
        entries = sql(fresh, "SELECT seq, canonical FROM audit_entry ORDER BY seq")
        leaves = sql(fresh, "SELECT leaf_index, entry_seq FROM audit_leaf ORDER BY leaf_index")
        assert [seq for _, seq in leaves] == [seq for seq, _ in entries]
        assert [index for index, _ in leaves] == list(range(len(entries)))
        (root,) = sql(fresh, "SELECT root FROM audit_checkpoint WHERE size = :s", s=result.size)[0]
        assert bytes(root) == root_from_leaf_hashes([leaf_hash(bytes(c)) for _, c in entries])
        assert verify(fresh).ok

    def test_a_restarted_integrator_extends_the_same_tree(
        self, fresh: Flask, caller: AgencySystem
    ) -> None:
        publish(fresh, caller, 5)
        first = integrator(fresh).integrate(checkpoint=True)
        publish(fresh, caller, 9)
        second = integrator(fresh).integrate(checkpoint=True)
        assert second.integrated == 9 and second.size == first.size + 9
        roots = dict(sql(fresh, "SELECT size, root FROM audit_checkpoint"))
        with fresh.app_context():
            proof = consistency_proof(
                db.session.connection(), old_size=first.size, new_size=second.size
            )
        verify_consistency(
            old_size=first.size,
            new_size=second.size,
            old_root=bytes(roots[first.size]),
            new_root=bytes(roots[second.size]),
            proof=proof,
        )

    def test_an_entry_that_commits_late_gets_a_later_leaf(
        self, fresh: Flask, caller: AgencySystem
    ) -> None:
        publish(fresh, caller, 3)
        worker = integrator(fresh)
        worker.integrate()
        (high,) = sql(fresh, "SELECT max(seq) FROM audit_entry")[0]
        insert = "INSERT INTO audit_entry (seq, id, canonical) VALUES (:seq, :id, :c)"
        # seq high+2 commits first; high+1 is still in flight when the integrator passes.
        sql(fresh, insert, seq=int(high) + 2, id="late-2", c=b'{"n":2}')
        worker.integrate()
        sql(fresh, insert, seq=int(high) + 1, id="late-1", c=b'{"n":1}')
        worker.integrate()
        leaves = sql(fresh, "SELECT entry_seq FROM audit_leaf ORDER BY leaf_index")
        assert [seq for (seq,) in leaves][-2:] == [int(high) + 2, int(high) + 1]

    def test_checkpoints_come_at_most_once_per_interval(
        self, fresh: Flask, caller: AgencySystem
    ) -> None:
        worker = integrator(fresh)
        worker.checkpoint_interval = 3600.0
        publish(fresh, caller, 2)
        assert worker.integrate().checkpoint is not None
        publish(fresh, caller, 2)
        assert worker.integrate().checkpoint is None
        assert worker.pending_checkpoint_delay() is not None
        assert worker.integrate(checkpoint=True).checkpoint == worker.size

    def test_one_integrator_holds_the_lock(self, fresh: Flask) -> None:
        with fresh.app_context():
            first = IntegratorLock(db.engine, lock_path=lock_path(fresh))
            second = IntegratorLock(db.engine, lock_path=lock_path(fresh))
            assert first.acquire()
            try:
                assert not second.acquire()
            finally:
                first.release()
            assert second.acquire()
            second.release()

    def test_a_standby_that_stops_writes_nothing(self, fresh: Flask, caller: AgencySystem) -> None:
        from exchange.trail.integrator_process import IntegratorThread

        publish(fresh, caller, 3)
        with fresh.app_context():
            active = IntegratorLock(db.engine, lock_path=lock_path(fresh))
            assert active.acquire()
        try:
            standby = IntegratorThread(fresh)
            standby.start()
            time.sleep(0.3)
            standby.stop()
        finally:
            active.release()
        assert sql(fresh, "SELECT count(*) FROM audit_leaf") == [(0,)]

    def test_the_in_process_integrator_follows_the_requests(
        self, fresh: Flask, caller: AgencySystem
    ) -> None:
        from exchange.trail.integrator_process import IntegratorThread

        fresh.config["EXCHANGE_CHECKPOINT_INTERVAL"] = 0.05
        thread = IntegratorThread(fresh)
        thread.start()
        try:
            publish(fresh, caller, 10)
        finally:
            thread.stop()
        (entries,) = sql(fresh, "SELECT count(*) FROM audit_entry")[0]
        (latest,) = sql(fresh, "SELECT max(size) FROM audit_checkpoint")[0]
        assert latest == entries
        assert verify(fresh).ok


def _change_stored_hash(app: Flask, node: NodeID) -> None:
    sql(
        app,
        "UPDATE audit_hash SET hash = :h WHERE stored_index = :i",
        h=b"\x07" * 32,
        i=stored_index(node),
    )


class TestRefusesToFork:
    """A restarted integrator whose stored edge does not reproduce the newest signed root
    would sign a checkpoint that matches none of its entries: it refuses instead."""

    def test_a_changed_edge_hash_is_refused_before_signing(
        self, fresh: Flask, caller: AgencySystem, caplog: pytest.LogCaptureFixture
    ) -> None:
        publish(fresh, caller, 5)
        signed = integrator(fresh).integrate(checkpoint=True).size
        drop_triggers(fresh)
        _change_stored_hash(fresh, CompactRange.nodes_of(signed)[0])
        publish(fresh, caller, 3)
        worker = integrator(fresh)
        with caplog.at_level("ERROR"), pytest.raises(SignedStateMismatch, match="reproduce"):
            worker.integrate(checkpoint=True)
        assert sql(fresh, "SELECT max(size) FROM audit_checkpoint") == [(signed,)]
        assert sql(fresh, "SELECT count(*) FROM audit_leaf") == [(signed,)]
        assert worker.status.refusing and "reproduce" in worker.status.detail
        assert any(r.levelname == "ERROR" and "refuses" in r.getMessage() for r in caplog.records)

    def test_a_changed_hash_of_leaves_integrated_after_the_checkpoint_is_refused(
        self, fresh: Flask, caller: AgencySystem
    ) -> None:
        # The integrator stopped after integrating leaves, before signing them: those are
        # hashed again from their entries.
        publish(fresh, caller, 5)
        signed = integrator(fresh).integrate(checkpoint=True).size
        publish(fresh, caller, 4)
        size = integrator(fresh).integrate(checkpoint=False).size
        unsigned = [n for n in CompactRange.nodes_of(size) if n.index << n.level >= signed]
        assert unsigned
        drop_triggers(fresh)
        _change_stored_hash(fresh, unsigned[-1])
        worker = integrator(fresh)
        with pytest.raises(SignedStateMismatch, match="extended by the entries"):
            worker.integrate(checkpoint=True)
        assert sql(fresh, "SELECT max(size) FROM audit_checkpoint") == [(signed,)]
        assert worker.status.refusing

    def test_a_changed_checkpoint_root_is_refused(self, fresh: Flask, caller: AgencySystem) -> None:
        publish(fresh, caller, 3)
        signed = integrator(fresh).integrate(checkpoint=True).size
        drop_triggers(fresh)
        ((note,),) = sql(fresh, "SELECT note FROM audit_checkpoint WHERE size = :s", s=signed)
        body, signature = note.split("\n\n")
        forged = body.replace(f"\n{signed}\n", f"\n{signed - 1}\n") + "\n\n" + signature
        sql(fresh, "UPDATE audit_checkpoint SET note = :n WHERE size = :s", n=forged, s=signed)
        with pytest.raises(SignedStateMismatch, match="does not verify"):
            integrator(fresh).integrate(checkpoint=True)

    def test_the_in_process_integrator_reports_its_refusal(
        self, fresh: Flask, caller: AgencySystem, caplog: pytest.LogCaptureFixture
    ) -> None:
        from exchange.trail.integrator_process import IntegratorThread, integrator_status

        publish(fresh, caller, 4)
        signed = integrator(fresh).integrate(checkpoint=True).size
        drop_triggers(fresh)
        _change_stored_hash(fresh, CompactRange.nodes_of(signed)[-1])
        thread = IntegratorThread(fresh)
        with caplog.at_level("ERROR"):
            thread.start()
            try:
                for _ in range(200):
                    if thread.status is not None and thread.status.refusing:
                        break
                    time.sleep(0.05)
                publish(fresh, caller, 2)
                status = integrator_status(fresh)
            finally:
                thread.stop()
        assert status is not None and status.refusing, status
        assert sql(fresh, "SELECT max(size) FROM audit_checkpoint") == [(signed,)]
        assert any(r.levelname == "ERROR" for r in caplog.records)

    def test_the_command_exits_with_the_reason(
        self, fresh: Flask, caller: AgencySystem, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The long-running command would take over this process's SIGINT and SIGTERM.
        monkeypatch.setattr("signal.signal", lambda *_: None)
        publish(fresh, caller, 4)
        signed = integrator(fresh).integrate(checkpoint=True).size
        drop_triggers(fresh)
        _change_stored_hash(fresh, CompactRange.nodes_of(signed)[0])
        for args in (["integrator", "--once"], ["integrator"]):
            result = fresh.test_cli_runner().invoke(args=args)
            assert result.exit_code == 1, result.output
            assert "integrator refuses to sign" in result.output
        assert sql(fresh, "SELECT max(size) FROM audit_checkpoint") == [(signed,)]

    def test_a_sound_state_still_resumes(self, fresh: Flask, caller: AgencySystem) -> None:
        publish(fresh, caller, 5)
        integrator(fresh).integrate(checkpoint=True)
        publish(fresh, caller, 3)
        integrator(fresh).integrate(checkpoint=False)
        publish(fresh, caller, 2)
        worker = integrator(fresh)
        result = worker.integrate(checkpoint=True)
        assert result.checkpoint == result.size and worker.status.state == "integrating"
        assert verify(fresh).ok


class TestTamper:
    @pytest.fixture(
        autouse=True, params=["entries by range", "entries joined", "stretches of four"]
    )
    def _fetch(self, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
        # A stretch's entries are read by one range of seqs, or joined with their leaves by
        # the database when the seqs lie far apart; a log longer than a stretch is rebuilt
        # from the edges each stretch brings back: every tamper is found in each case.
        if request.param == "entries joined":
            monkeypatch.setattr(leaf_checks, "_SEQ_SPREAD", 0)
        if request.param == "stretches of four":
            monkeypatch.setattr(full_verification, "_STRETCH", 4)

    @pytest.mark.parametrize("stretch", [1, 2, 4, 8, 32])
    @pytest.mark.parametrize("workers", [1, 2])
    def test_a_clean_log_passes_in_stretches_of_any_length(
        self,
        fresh: Flask,
        caller: AgencySystem,
        monkeypatch: pytest.MonkeyPatch,
        stretch: int,
        workers: int,
    ) -> None:
        # Signed sizes fall inside stretches, at their ends, and in a last short one.
        checkpointed_log(fresh, caller)
        monkeypatch.setattr(full_verification, "_STRETCH", stretch)
        with fresh.app_context():
            connection = db.session.connection()
            report = verify_log(
                connection, verifier=verifier(fresh), workers=workers, parallel_from=0
            )
            db.session.remove()
        assert report.ok, report.findings
        assert (report.leaves, report.checkpoints) == (22, 3)

    def test_a_changed_entry_is_named(self, fresh: Flask, caller: AgencySystem) -> None:
        checkpointed_log(fresh, caller)
        drop_triggers(fresh)
        ((canonical,),) = sql(fresh, "SELECT canonical FROM audit_entry WHERE seq = 9")
        changed = bytes(canonical).replace(b'"status":201', b'"status":202')
        assert changed != canonical
        sql(fresh, "UPDATE audit_entry SET canonical = :c WHERE seq = 9", c=changed)
        report = verify(fresh)
        assert [(f.kind, f.seq) for f in report.findings] == [("modified", 9)]

    def test_a_changed_column_is_named(self, fresh: Flask, caller: AgencySystem) -> None:
        checkpointed_log(fresh, caller)
        drop_triggers(fresh)
        sql(fresh, "UPDATE audit_leaf SET purpose = 'statistics' WHERE entry_seq = 4")
        report = verify(fresh)
        assert [(f.kind, f.seq) for f in report.findings] == [("modified", 4)]
        assert "purpose" in report.findings[0].detail

    @pytest.mark.parametrize(
        ("column", "value"),
        [
            ("recorded_at", "'2001-02-03 04:05:06'"),
            ("actor_agency", "'someone-else'"),
            ("status", "299"),
            ("action", "'record.search'"),
            ("account_user", "'someone.else'"),
        ],
    )
    def test_each_changed_column_is_named(
        self, fresh: Flask, caller: AgencySystem, column: str, value: str
    ) -> None:
        checkpointed_log(fresh, caller)
        drop_triggers(fresh)
        sql(fresh, f"UPDATE audit_leaf SET {column} = {value} WHERE entry_seq = 6")
        report = verify(fresh)
        assert [(f.kind, f.seq) for f in report.findings] == [("modified", 6)]
        assert column in report.findings[0].detail

    def test_a_deleted_entry_is_named(self, fresh: Flask, caller: AgencySystem) -> None:
        checkpointed_log(fresh, caller)
        drop_triggers(fresh)
        sql(fresh, "DELETE FROM audit_entry WHERE seq = 12")
        report = verify(fresh)
        assert [(f.kind, f.seq) for f in report.findings] == [("deleted", 12)]

    def test_a_deleted_entry_with_its_leaves_renumbered_is_named(
        self, fresh: Flask, caller: AgencySystem
    ) -> None:
        checkpointed_log(fresh, caller)
        drop_triggers(fresh)
        (index,) = sql(fresh, "SELECT leaf_index FROM audit_leaf WHERE entry_seq = 12")[0]
        sql(fresh, "DELETE FROM audit_leaf WHERE entry_seq = 12")
        sql(fresh, "DELETE FROM audit_target WHERE leaf_index = :i", i=index)
        sql(fresh, "DELETE FROM audit_entry WHERE seq = 12")
        _shift_leaves(fresh, after=int(index), by=-1)
        report = verify(fresh)
        assert [(f.kind, f.index) for f in report.findings] == [("deleted", index)], report

    def test_an_inserted_entry_is_named(self, fresh: Flask, caller: AgencySystem) -> None:
        checkpointed_log(fresh, caller)
        drop_triggers(fresh)
        (high,) = sql(fresh, "SELECT max(seq) FROM audit_entry")[0]
        (index, seq, canonical) = sql(
            fresh,
            "SELECT l.leaf_index, e.seq, e.canonical FROM audit_leaf l "
            "JOIN audit_entry e ON e.seq = l.entry_seq WHERE l.leaf_index = 10",
        )[0]
        forged = json.loads(bytes(canonical))
        forged["id"] = "01a00000-0000-7000-8000-000000000000"
        forged["purpose"] = "statistics"
        new_seq = int(high) + 1
        sql(
            fresh,
            "INSERT INTO audit_entry (seq, id, canonical) VALUES (:new, :id, :c)",
            new=new_seq,
            id=forged["id"],
            c=json.dumps(forged, separators=(",", ":"), sort_keys=True).encode(),
        )
        _shift_leaves(fresh, after=int(index) - 1, by=1)
        sql(
            fresh,
            f"INSERT INTO audit_leaf SELECT {index}, {new_seq}, recorded_at, action, outcome, "
            "status, actor_agency, actor_system, actor_fingerprint, 'statistics', actor_user, "
            "account_user "
            f"FROM audit_leaf WHERE entry_seq = {seq}",
            f"INSERT INTO audit_target SELECT {index}, record_id, version FROM audit_target "
            f"WHERE leaf_index = {index + 1}",
        )
        report = verify(fresh)
        assert [(f.kind, f.index, f.seq) for f in report.findings] == [("inserted", index, new_seq)]

    def test_two_swapped_entries_are_named(self, fresh: Flask, caller: AgencySystem) -> None:
        checkpointed_log(fresh, caller)
        drop_triggers(fresh)
        # The whole leaves trade places, with what was derived from them.
        for table in ("audit_leaf", "audit_target"):
            sql(
                fresh,
                f"UPDATE {table} SET leaf_index = -1 WHERE leaf_index = 8",
                f"UPDATE {table} SET leaf_index = 8 WHERE leaf_index = 15",
                f"UPDATE {table} SET leaf_index = 15 WHERE leaf_index = -1",
            )
        report = verify(fresh)
        assert [(f.kind, f.index) for f in report.findings] == [("moved", 8)]
        assert "leaf 15" in report.findings[0].detail

    def test_changed_record_targets_are_named(self, fresh: Flask, caller: AgencySystem) -> None:
        checkpointed_log(fresh, caller)
        drop_triggers(fresh)
        sql(fresh, "UPDATE audit_target SET version = 7 WHERE leaf_index = 5")
        report = verify(fresh)
        assert [(f.kind, f.index) for f in report.findings] == [("modified", 5)]
        assert "targets" in report.findings[0].detail

    @pytest.mark.parametrize("change", ["added", "removed"])
    def test_a_record_target_added_or_removed_is_named(
        self, fresh: Flask, caller: AgencySystem, change: str
    ) -> None:
        checkpointed_log(fresh, caller)
        drop_triggers(fresh)
        if change == "added":
            sql(
                fresh,
                "INSERT INTO audit_target SELECT leaf_index, record_id, version + 1 "
                "FROM audit_target WHERE leaf_index = 5",
            )
        else:
            sql(fresh, "DELETE FROM audit_target WHERE leaf_index = 5")
        report = verify(fresh)
        assert [(f.kind, f.index) for f in report.findings] == [("modified", 5)]
        assert "targets" in report.findings[0].detail

    def test_a_rewritten_log_and_tree_is_still_caught_by_its_checkpoints(
        self, fresh: Flask, caller: AgencySystem
    ) -> None:
        checkpointed_log(fresh, caller)
        drop_triggers(fresh)
        sql(fresh, "UPDATE audit_entry SET canonical = :c WHERE seq = 3", c=b"{}")
        sql(fresh, "UPDATE audit_hash SET hash = :h WHERE stored_index < 40", h=b"\x00" * 32)
        report = verify(fresh)
        assert report.findings and report.findings[0].kind == "modified"

    @pytest.mark.parametrize(
        "node",
        [NodeID(0, 5), NodeID(1, 2), NodeID(2, 4), NodeID(3, 1), NodeID(4, 0), NodeID(0, 21)],
        ids=str,
    )
    @pytest.mark.parametrize("change", ["changed", "deleted"])
    def test_a_wrong_stored_tree_hash_is_named_by_its_node(
        self, fresh: Flask, caller: AgencySystem, node: NodeID, change: str
    ) -> None:
        # The entries still match every checkpoint, but the server builds its proofs from
        # the stored hashes: one that is wrong gives proofs that do not verify.
        checkpointed_log(fresh, caller)
        drop_triggers(fresh)
        if change == "changed":
            sql(
                fresh,
                "UPDATE audit_hash SET hash = :h WHERE stored_index = :i",
                h=b"\x07" * 32,
                i=stored_index(node),
            )
        else:
            sql(fresh, "DELETE FROM audit_hash WHERE stored_index = :i", i=stored_index(node))
        report = verify(fresh)
        assert [(f.kind, f.node) for f in report.findings] == [("tree", node)], report
        assert f"node (level {node.level}, index {node.index})" in str(report.findings[0])

    def test_the_first_wrong_stored_hash_is_named(self, fresh: Flask, caller: AgencySystem) -> None:
        checkpointed_log(fresh, caller)
        drop_triggers(fresh)
        for node in (NodeID(2, 3), NodeID(0, 9), NodeID(3, 0)):
            sql(
                fresh,
                "UPDATE audit_hash SET hash = :h WHERE stored_index = :i",
                h=b"\x07" * 32,
                i=stored_index(node),
            )
        report = verify(fresh)
        # The first in stored order, the order of completion: leaves 0..7 before leaf 9.
        assert [(f.kind, f.node) for f in report.findings] == [("tree", NodeID(3, 0))]

    def test_the_command_names_a_wrong_stored_hash_the_proofs_use(
        self, fresh: Flask, caller: AgencySystem
    ) -> None:
        checkpointed_log(fresh, caller)
        drop_triggers(fresh)
        node = NodeID(1, 3)
        sql(
            fresh,
            "UPDATE audit_hash SET hash = :h WHERE stored_index = :i",
            h=b"\x07" * 32,
            i=stored_index(node),
        )
        ((size, root),) = sql(
            fresh, "SELECT size, root FROM audit_checkpoint ORDER BY size DESC LIMIT 1"
        )
        with fresh.app_context():
            connection = db.session.connection()
            proof = inclusion_proof(connection, index=4, size=size)
            (leaf,) = stored_hashes(connection, [NodeID(0, 4)]).values()
            db.session.remove()
        with pytest.raises(AuditError):
            verify_inclusion(leaf_hash=leaf, index=4, size=size, proof=proof, root=bytes(root))
        result = fresh.test_cli_runner().invoke(args=["audit", "verify"])
        assert result.exit_code == 1, result.output
        assert "FAILED tree: node (level 1, index 3)" in result.output

    def test_worker_processes_find_the_same(self, fresh: Flask, caller: AgencySystem) -> None:
        checkpointed_log(fresh, caller)
        with fresh.app_context():
            connection = db.session.connection()
            clean = verify_log(connection, verifier=verifier(fresh), workers=2, parallel_from=0)
            db.session.remove()
        assert clean.ok and clean.leaves == 22
        drop_triggers(fresh)
        sql(fresh, "UPDATE audit_leaf SET action = 'record.search' WHERE entry_seq = 17")
        with fresh.app_context():
            connection = db.session.connection()
            report = verify_log(connection, verifier=verifier(fresh), workers=2, parallel_from=0)
            db.session.remove()
        assert [(f.kind, f.seq) for f in report.findings] == [("modified", 17)]

    def test_the_command_names_the_entry_and_fails(
        self, fresh: Flask, caller: AgencySystem
    ) -> None:
        checkpointed_log(fresh, caller)
        result = fresh.test_cli_runner().invoke(args=["audit", "verify"])
        assert result.exit_code == 0, result.output
        assert "log verified" in result.output
        drop_triggers(fresh)
        sql(fresh, "UPDATE audit_leaf SET status = 500 WHERE entry_seq = 6")
        result = fresh.test_cli_runner().invoke(args=["audit", "verify"])
        assert result.exit_code == 1
        assert "FAILED modified" in result.output and "entry seq 6" in result.output


def _shift_leaves(app: Flask, *, after: int, by: int) -> None:
    """Renumber the leaves after ``after`` by ``by``: the attacker hides a gap or makes room."""
    step = 1_000_000
    # Out of the way first, then into place: the index stays unique at every statement.
    for table in ("audit_leaf", "audit_target"):
        sql(
            app,
            f"UPDATE {table} SET leaf_index = leaf_index + {step} WHERE leaf_index > {after}",
            f"UPDATE {table} SET leaf_index = leaf_index - {step - by} WHERE leaf_index > {step}",
        )


class TestExport:
    def test_complete_and_filtered_exports_pass_the_offline_verifier(
        self, fresh: Flask, caller: AgencySystem, tmp_path: Path
    ) -> None:
        checkpointed_log(fresh, caller)
        key = verifier(fresh)
        with fresh.app_context():
            vkey = load_vault().log_signer(log_origin(fresh)).verifier_key()
        for name, options in (("all", []), ("police", ["--agency", caller.agency])):
            output = tmp_path / f"{name}.jsonl"
            result = fresh.test_cli_runner().invoke(args=["audit", "export", str(output), *options])
            assert result.exit_code == 0, result.output
            checked = subprocess.run(
                [sys.executable, "-m", "audit", "verify", str(output), "--key", vkey],
                capture_output=True,
                text=True,
                check=False,
            )
            assert checked.returncode == 0, checked.stdout + checked.stderr
        assert key.name == log_origin(fresh)

    def test_a_doctored_export_fails_the_offline_verifier(
        self, fresh: Flask, caller: AgencySystem, tmp_path: Path
    ) -> None:
        checkpointed_log(fresh, caller)
        with fresh.app_context():
            vkey = load_vault().log_signer(log_origin(fresh)).verifier_key()
        output = tmp_path / "all.jsonl"
        fresh.test_cli_runner().invoke(args=["audit", "export", str(output)])
        lines = output.read_text().splitlines()
        lines.pop(5)
        output.write_text("\n".join(lines) + "\n")
        checked = subprocess.run(
            [sys.executable, "-m", "audit", "verify", str(output), "--key", vkey],
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 1


class TestConcurrency:
    def test_eight_writers_every_entry_one_leaf_checkpoints_consistent(
        self, fresh: Flask, tmp_path: Path
    ) -> None:
        world = World(fresh, tmp_path / "writers")
        callers = [world.agency("police") for _ in range(8)]
        fresh.config["EXCHANGE_CHECKPOINT_INTERVAL"] = 0.01
        stop = threading.Event()
        worker = integrator(fresh)

        def integrate_continuously() -> None:
            with fresh.app_context():
                while not stop.is_set():
                    worker.integrate()
                    stop.wait(0.005)

        def write(caller: AgencySystem) -> None:
            publish(fresh, caller, 12)

        background = threading.Thread(target=integrate_continuously)
        background.start()
        writers = [threading.Thread(target=write, args=(c,)) for c in callers]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        stop.set()
        background.join()
        worker.integrate(checkpoint=True)

        entries = {seq for (seq,) in sql(fresh, "SELECT seq FROM audit_entry")}
        leaves = sql(fresh, "SELECT leaf_index, entry_seq FROM audit_leaf ORDER BY leaf_index")
        assert [i for i, _ in leaves] == list(range(len(leaves)))
        assert sorted(s for _, s in leaves) == sorted(entries)
        checkpoints = sql(fresh, "SELECT size, root FROM audit_checkpoint ORDER BY size")
        assert len(checkpoints) > 2
        with fresh.app_context():
            for (old, old_root), (new, new_root) in itertools.pairwise(checkpoints):
                verify_consistency(
                    old_size=old,
                    new_size=new,
                    old_root=bytes(old_root),
                    new_root=bytes(new_root),
                    proof=consistency_proof(
                        db.session.connection(),
                        old_size=old,
                        new_size=new,
                    ),
                )
        assert verify(fresh).ok


class TestWitnessAgainstARewrittenLog:
    def test_a_witness_with_an_older_checkpoint_refuses_the_rewritten_log(
        self, fresh: Flask, tmp_path: Path
    ) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from exchange.client.auditlog import ForkDetected, Witness
        from exchange.serving import ExchangeServer

        server = ExchangeServer(app=fresh, host="127.0.0.1", api_port=0, ui_port=0, threads=4)
        server.start()
        try:
            world = World(
                fresh, tmp_path / "witness", api_url=f"https://127.0.0.1:{server.api.port}"
            )
            mofa = world.agency("mofa")
            assert isinstance(mofa.key, Ed25519PrivateKey)
            with mofa.client() as exchange:
                witness = Witness(
                    exchange, state_path=tmp_path / "state.json", name=mofa.agency, key=mofa.key
                )
                publish(fresh, mofa, 6)
                integrator(fresh).integrate(checkpoint=True)
                trusted = witness.run_once()

                # The attacker holds the database and the log's key: they change history,
                # rebuild the tree and sign a fresh, larger checkpoint.
                drop_triggers(fresh)
                ((canonical,),) = sql(fresh, "SELECT canonical FROM audit_entry WHERE seq = 2")
                forged = bytes(canonical).replace(b'"status":201', b'"status":202')
                sql(fresh, "UPDATE audit_entry SET canonical = :c WHERE seq = 2", c=forged)
                sql(
                    fresh,
                    "DELETE FROM audit_cosignature",
                    "DELETE FROM audit_checkpoint",
                    "DELETE FROM audit_hash",
                    "DELETE FROM audit_leaf",
                    "DELETE FROM audit_target",
                    "DELETE FROM record_feed",
                )
                publish(fresh, mofa, 2)
                rebuilt = integrator(fresh).integrate(checkpoint=True)
                assert rebuilt.size > trusted.size

                with pytest.raises(ForkDetected) as fork:
                    witness.run_once()
            assert "does not extend" in fork.value.reason
            assert f"\n{trusted.size}\n" in fork.value.trusted.decode()
            assert f"\n{rebuilt.size}\n" in fork.value.offered.decode()
            state = json.loads((tmp_path / "state.json").read_text())
            assert f"\n{trusted.size}\n" in state["checkpoint"]
        finally:
            server.stop()
