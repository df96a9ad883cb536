"""The Japanese catalogue covers every message, and the compiled file is current."""

from __future__ import annotations

from babel.messages.mofile import read_mo

from exchange.ui import catalogue


class TestCatalogue:
    def test_every_message_of_the_source_has_a_japanese_translation(self) -> None:
        stored = catalogue._read(catalogue.CATALOGUE)
        extracted = catalogue.extract()
        missing = []
        for message in extracted:
            translated = stored.get(message.id) if message.id else None
            if message.id and (translated is None or not translated.string):
                missing.append(message.id)
        assert not missing, f"run scripts/translations; untranslated: {missing}"

    def test_the_compiled_catalogue_is_the_stored_one(self) -> None:
        with catalogue.COMPILED.open("rb") as handle:
            compiled = read_mo(handle)
        stored = catalogue._read(catalogue.CATALOGUE)
        assert {m.id: m.string for m in compiled if m.id} == {
            m.id: m.string for m in stored if m.id
        }, "run scripts/translations"
