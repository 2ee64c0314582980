"""Titles: a headline from the clip's own words, never a cut-off fragment with an ellipsis."""

from __future__ import annotations

import re

import pytest

from media.selection.titles import TITLE_CHARS, clip_title, headline, shorten


@pytest.mark.parametrize(
    ("sentence", "title"),
    [
        (
            "Why does a compost pile get so hot in the middle?",
            "Why does a compost pile get so hot in the middle?",
        ),
        ("So, the trick is a big pot.", "The trick is a big pot"),
        ("And after that, should people pick stocks?", "Should people pick stocks?"),
        (
            "Louis Armstrong made the solo the main event, and everyone followed him after.",
            "Louis Armstrong made the solo the main event",
        ),
        # Was "It mixed blues, ragtime, brass band music and church…": now cut where a
        # phrase ends, never mid-phrase with an ellipsis.
        (
            "It mixed blues, ragtime, brass band music and church singing in the street.",
            "It mixed blues, ragtime, brass band music and church singing",
        ),
        # A subordinate clause first: the main clause is the headline.
        (
            "When the compost pile finally heats up in the middle of summer, the microbes kill "
            "weed seeds and pathogens.",
            "The microbes kill weed seeds and pathogens",
        ),
    ],
)
def test_titles_are_readable_phrases(sentence: str, title: str) -> None:
    assert clip_title(sentence) == title
    assert len(clip_title(sentence)) <= TITLE_CHARS


@pytest.mark.parametrize(
    ("sentence", "title"),
    [
        ("Okay, then I thought you know, I heard a beep.", "I thought I heard a beep"),
        ("I mean, is Willard the nearest town?", "Is Willard the nearest town?"),
        ("Um, the pump, uh, needs a key.", "The pump, needs a key"),
        ("We were, we were going to the the store.", "We were going to the store"),
        ("The bodies must be burned and and and buried.", "The bodies must be burned and buried"),
        ("Yeah, yeah, I know where the keys are.", "I know where the keys are"),
        # Not fillers here: "you know" and "I mean" are the verbs of the sentence.
        ("You know I won't open this door again.", "You know I won't open this door again"),
        ("I mean it, Mr. Cooper.", "I mean it, Mr. Cooper"),
        ("No one knows why the engine failed...", "No one knows why the engine failed"),
        # Unpunctuated ASR text: "i" becomes "I", markup goes.
        ("i think the <vocnoise> levels are okay", "I think the levels are okay"),
    ],
)
def test_titles_drop_fillers_false_starts_and_markup(sentence: str, title: str) -> None:
    assert clip_title(sentence) == title


LONG = [
    "Reports, incredible as they seem, are not the results of mass hysteria in any way at all.",
    "We went right through the billboard, ripped over a gas pump and never stopped moving.",
    "In all parts of the country the wave of murder which is sweeping the eastern third of the "
    "nation is being committed by creatures.",
    "alright so this is the sick corpus uh hopefully the recording levels are okay um i have a "
    "cold so this probably sounds a lot different",
    "Everybody in the whole neighbourhood kept talking about the enormous storm for weeks.",
    "Absolutely-extraordinarily-unbelievably-long-hyphenated-compound-words-everywhere-here "
    "make titles hard.",
]
_OPEN = {"a", "an", "the", "and", "but", "or", "of", "to", "in", "with", "for", "my", "your"}


@pytest.mark.parametrize("sentence", LONG)
def test_a_long_sentence_never_gives_a_cut_off_fragment(sentence: str) -> None:
    title = clip_title(sentence)
    assert title and len(title) <= TITLE_CHARS
    assert "…" not in title and "..." not in title
    assert title.split()[-1].lower().strip(",") not in _OPEN
    said = set(re.findall(r"[a-z']+", sentence.lower()))
    assert set(re.findall(r"[a-z']+", title.lower())) <= said  # the clip's own words
    assert title[0].isupper()


def test_the_headline_is_the_weightiest_sentence_that_says_something() -> None:
    clip = [
        ("Okay.", -1.0),
        ("Where does the heat in a compost pile come from?", 0.9),
        ("Billions of microbes eat and breathe inside it.", 0.7),
        ("Right.", -1.0),
    ]
    assert headline(clip) == "Where does the heat in a compost pile come from?"
    # A back-channel or a fragment only when nothing else is there.
    assert headline([("Okay.", -1.0), ("It's on.", 0.5), ("Microbes eat sugar fast.", 0.1)]) == (
        "Microbes eat sugar fast"
    )
    assert headline([("Okay.", -1.0)]) == "Okay"
    assert headline([]) == ""


def test_titles_written_elsewhere_are_shortened_at_a_boundary() -> None:
    long = "A remarkably long title about compost nitrogen and carbon that goes on and on"
    assert shorten(long) == "A remarkably long title about compost nitrogen"
    assert shorten("Short title") == "Short title"
