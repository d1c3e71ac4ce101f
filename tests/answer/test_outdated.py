"""Documents that say of themselves that they no longer apply."""

import pytest

from appliance.answer.outdated import says_outdated


@pytest.mark.parametrize(
    ("heading", "text"),
    [
        ("Annual Leave Policy 2023 (superseded)", "This document is kept for reference."),
        ("", "VPN access with Cisco AnyConnect (RETIRED)\n\nStatus: retired on 1 June 2024."),
        ("Reisekosten", "Diese Richtlinie ist nicht mehr gültig.\n\nReisen werden erstattet."),
        ("年假制度（旧版）", "员工每年享有十天年假。"),
        ("", "Politique de congés\nCe document est obsolète : voir la version 2025."),
    ],
)
def test_a_document_that_says_it_no_longer_applies(heading, text):
    assert says_outdated(heading, text)


@pytest.mark.parametrize(
    ("heading", "text"),
    [
        (
            "Annual Leave Policy",
            "Version 4, effective 1 January 2025. It replaces the 2023 policy.",
        ),
        # Said further down, of a command or a function, not of the document.
        (
            "",
            "MKFS(8)\n\nNOM\nmkfs - Créer un système\n\nDESCRIPTION\nCette interface est obsolète.",
        ),
        ("warnings — Warning control", "Warning messages are issued when a feature is deprecated."),
    ],
)
def test_a_current_document_or_one_that_mentions_old_things(heading, text):
    assert not says_outdated(heading, text)
