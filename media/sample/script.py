"""The conversation of the sample recording, and its timing: pure, no I/O.

Each topic is a dialogue between the host (H) and the guest (G), one sentence per line;
consecutive lines of one speaker form a block. The planner opens with the intro, then walks the
other topics in a seeded order (reshuffled whenever all were used, so long samples repeat
sentences) and cuts each block into turns of 1-4 sentences, with a short reaction from the other
speaker between the pieces, so speakers always alternate. :func:`build_turns` places the turns
on the audio timeline from the synthesised sentences' lengths; :func:`to_webvtt` writes them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from media.transcript.cues import format_timestamp

SPEECH_RATE = 22_050  # espeak-ng's native rate: cue times are counted in its samples
HOST = "Alice Chen"
GUEST = "Bob Okafor"


@dataclass(frozen=True, slots=True)
class ScriptLine:
    """One spoken sentence: its speaker and its exact span in the final audio."""

    speaker: str
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True, slots=True)
class ScriptTurn:
    """1-4 consecutive sentences of one speaker."""

    speaker: str
    start_s: float
    end_s: float
    sentences: tuple[ScriptLine, ...]


SCRIPT = """
## intro
H: Hi everyone, and welcome back to Small Questions.
H: Today I am talking with my friend Bob Okafor.
G: Thanks for having me, Alice.
G: I brought a long list of things I have been curious about.

## remote work
H: Let's start with remote work, since everyone has an opinion about it.
H: What actually changed when your team went fully remote?
G: The biggest change was that meetings stopped being the default.
G: We started writing things down before we talked about them.
G: A short written proposal saves about half an hour of everyone's time.
H: Did people feel lonely, though?
G: Some did, especially the new hires.
G: So we paired every new person with a buddy for their first two months.
G: We also meet in person for one week every quarter.
H: And what would you tell a manager who is nervous about it?
G: Measure the work that gets done, not the hours people are online.
G: Trust tends to grow when you give it first.

## sleep science
H: Now, you have been reading a lot about sleep lately.
H: Why do we even need eight hours?
G: Not everyone needs exactly eight, but most adults need between seven and nine.
G: During deep sleep the brain clears out waste that builds up during the day.
G: During dream sleep it seems to sort and store memories.
H: Is it true that you can catch up on sleep over the weekend?
G: Only partly.
G: You can pay back a little of the debt, but your reaction time stays worse.
G: A regular schedule matters more than one long lie-in.
H: What is the one habit you would change first?
G: Put the phone in another room and keep the bedroom cool and dark.
G: It sounds boring, but it works for almost everyone.

## compost
H: Let's switch gears and talk about compost.
H: Why does a compost pile get so hot in the middle?
G: Because billions of microbes are eating and breathing in there.
G: A healthy pile can reach sixty degrees Celsius within a few days.
G: That heat also kills most weed seeds.
H: What goes wrong when a pile starts to smell?
G: Usually it is too wet and there is not enough air.
G: Mix in dry leaves or shredded cardboard and turn it with a fork.
G: You want roughly three parts brown material to one part green.
H: Can you compost in a small apartment?
G: Yes, a worm bin under the sink works surprisingly well.
G: The worms are quiet, and they do not ask for much.

## rocket engines
H: Here is one I know nothing about: rocket engines.
H: How does a rocket push itself forward in empty space?
G: It throws mass out of the back very fast, and the rocket moves the other way.
G: There is nothing to push against, and there does not need to be.
G: The nozzle turns hot, slow gas into a cold, very fast jet.
H: Why do engineers care so much about the shape of the nozzle?
G: Because the best shape depends on the air pressure outside.
G: A nozzle tuned for sea level wastes energy in the vacuum of space.
G: That is why upper stage engines have those enormous bells.
H: So what makes reusable rockets so hard?
G: Every landing puts the engine through a brutal cycle of heat and stress.
G: Inspecting and refurbishing it quickly is the real trick.

## jazz history
H: Let's talk about music for a minute.
H: Where did jazz actually come from?
G: It grew up in New Orleans around the start of the twentieth century.
G: It mixed blues, ragtime, brass band music and church singing.
G: Musicians learned by ear and played in the street, in dance halls and at parades.
H: When did improvisation become the center of it?
G: Louis Armstrong made the solo the main event in the nineteen twenties.
G: Later, bebop players pushed the harmony much further and played very fast.
G: Then came cool jazz, modal jazz, and free jazz, each one a reaction to the last.
H: If someone has never listened to jazz, where should they start?
G: Kind of Blue by Miles Davis.
G: It is calm and melodic, and it rewards a second listen.

## personal finance
H: Money is the topic people ask us about most.
H: What is the first thing you should do with a new salary?
G: Build an emergency fund that covers about three months of expenses.
G: Keep it in a boring savings account that you do not look at.
G: Then pay off any debt with a high interest rate.
H: And after that, should people pick stocks?
G: Most people are better off with a low cost index fund.
G: Picking single stocks is mostly a way to pay higher fees.
G: Time in the market beats timing the market.
H: How do you stay disciplined when the news is scary?
G: Automate the savings so the decision is already made.
G: And check the balance once a quarter, not every day.

## urban gardening
G: Can I ask you something for a change?
G: I heard you grow tomatoes on your balcony.
H: I do, and it has taught me a lot of patience.
H: The trick is a big pot, full sun, and water every single morning.
G: Do you ever get anything worth eating?
H: Last summer we picked about forty tomatoes from two plants.
H: The basil next to them kept the aphids away, or at least that is my theory.
G: What about the winter?
H: I grow lettuce and herbs under a small light on the kitchen shelf.
H: It is not a farm, but it is lovely to pick something fresh in January.

## learning languages
H: Let's talk about learning languages.
H: You learned Portuguese as an adult, right?
G: I did, starting at thirty five, which felt late at the time.
G: The first six months were mostly listening to podcasts on my commute.
G: Speaking came much later than I expected.
H: What helped you the most?
G: Talking to one patient person for half an hour twice a week.
G: Flash cards helped with words, but conversation made them stick.
H: Did you ever feel like giving up?
G: Every plateau felt like the end.
G: Then one day I understood a joke on the radio, and it all felt worth it.
"""

REACTIONS = {
    HOST: (
        "Right.",
        "That makes sense.",
        "Interesting.",
        "Go on.",
        "Hmm, I see.",
        "Really?",
        "Okay.",
    ),
    GUEST: ("Exactly.", "Right.", "Sure.", "That's true.", "Ha, yes.", "Mm-hm."),
}

_ROLES = {"H": HOST, "G": GUEST}


def parse_script(text: str = SCRIPT) -> dict[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    """Topic name → its blocks, each ``(speaker, sentences)``; consecutive lines merge."""
    topics: dict[str, list[tuple[str, list[str]]]] = {}
    blocks: list[tuple[str, list[str]]] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("## "):
            blocks = topics.setdefault(line[3:].strip(), [])
            continue
        role, _, sentence = line.partition(": ")
        if blocks is None or role not in _ROLES or not sentence:
            raise ValueError(
                f"script line {number}: expected 'H: text' or 'G: text' under a "
                f"'## topic' header, got {raw!r}"
            )
        speaker = _ROLES[role]
        if blocks and blocks[-1][0] == speaker:
            blocks[-1][1].append(sentence)
        else:
            blocks.append((speaker, [sentence]))
    return {name: tuple((s, tuple(lines)) for s, lines in b) for name, b in topics.items()}


TOPICS = parse_script()


def plan_turns(rng: random.Random) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Endless ``(speaker, sentences)`` turns; speakers alternate, 1-4 sentences per turn."""
    names = sorted(set(TOPICS) - {"intro"})
    last_speaker: str | None = None
    previous: str | None = None
    first = True
    while True:
        order = rng.sample(names, len(names))
        if order[0] == previous:  # never the same topic twice in a row across a reshuffle
            order.append(order.pop(0))
        for name in ["intro", *order] if first else order:
            for speaker, sentences in TOPICS[name]:
                other = GUEST if speaker == HOST else HOST
                rest = sentences
                while rest:
                    if last_speaker == speaker:  # the block continues: the other reacts
                        yield other, (rng.choice(REACTIONS[other]),)
                    take = rng.randint(1, 4)
                    yield speaker, rest[:take]
                    last_speaker, rest = speaker, rest[take:]
            previous = name
        first = False


def all_lines() -> set[tuple[str, str]]:
    """Every ``(speaker, sentence)`` a sample can contain, reactions included."""
    lines = {(s, text) for blocks in TOPICS.values() for s, texts in blocks for text in texts}
    return lines | {(s, text) for s, texts in REACTIONS.items() for text in texts}


def build_turns(
    duration_s: float, seed: int, length: Callable[[str, str], int]
) -> tuple[ScriptTurn, ...]:
    """Place the planned turns sample-exactly until the next one would overrun the recording.

    ``length(speaker, text)`` is a sentence's length in samples at :data:`SPEECH_RATE`. Gaps
    between turns are 0.3-0.9 s, pauses between a turn's sentences 0.15-0.35 s; the last turn
    keeps the sentences that end 0.3 s before the end.
    """
    rng = random.Random(f"gaps-{seed}")
    end = round((duration_s - 0.3) * SPEECH_RATE)
    pos = round(rng.uniform(0.5, 1.0) * SPEECH_RATE)
    turns: list[ScriptTurn] = []
    for speaker, sentences in plan_turns(random.Random(f"plan-{seed}")):
        cues: list[ScriptLine] = []
        at = pos
        for i, text in enumerate(sentences):
            start = at + (round(rng.uniform(0.15, 0.35) * SPEECH_RATE) if i else 0)
            at = start + length(speaker, text)
            if at > end:
                break
            cues.append(ScriptLine(speaker, start / SPEECH_RATE, at / SPEECH_RATE, text))
        if cues:
            turns.append(ScriptTurn(speaker, cues[0].start_s, cues[-1].end_s, tuple(cues)))
        if len(cues) < len(sentences):
            break
        pos = at + round(rng.uniform(0.3, 0.9) * SPEECH_RATE)
    return tuple(turns)


def to_webvtt(turns: Iterable[ScriptTurn]) -> str:
    """Zoom-style WebVTT: numbered cues, one per sentence, ``Speaker Name: text``."""
    lines = ["WEBVTT", ""]
    for n, cue in enumerate((cue for turn in turns for cue in turn.sentences), start=1):
        span = f"{format_timestamp(cue.start_s)} --> {format_timestamp(cue.end_s)}"
        lines += [str(n), span, f"{cue.speaker}: {cue.text}", ""]
    return "\n".join(lines)
