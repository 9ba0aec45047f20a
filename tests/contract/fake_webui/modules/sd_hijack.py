"""Mirror of ``modules/sd_hijack.py``: ``model_hijack.embedding_db`` and the optimization switches the Train
tab turns off and on around training (calls recorded)."""

from modules.textual_inversion.textual_inversion import EmbeddingDatabase

calls = []


class StableDiffusionModelHijack:
    def __init__(self):
        self.embedding_db = EmbeddingDatabase()


model_hijack = StableDiffusionModelHijack()


def undo_optimizations():
    calls.append("undo_optimizations")


def apply_optimizations(option=None):
    calls.append("apply_optimizations")
