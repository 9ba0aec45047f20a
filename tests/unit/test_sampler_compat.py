"""WebUI 1.10.1's trainers build their sampler with ``Sampler.__init__(data_source)``, which newer torch refuses."""

from __future__ import annotations

import pytest

from model_workbench.webui.sampler_compat import sampler_takes_data_source


class BareSampler:  # newer torch: Sampler has no __init__ of its own
    pass


class WebuiGroupedSampler(BareSampler):  # what WebUI's GroupedBatchSampler does
    def __init__(self, data_source: object) -> None:
        super().__init__(data_source)


class OldSampler:  # torch 2.1: __init__(self, data_source=None) that ignores the argument
    def __init__(self, data_source: object = None) -> None:
        self.seen = data_source


def test_webuis_sampler_is_refused_by_a_bare_base_and_works_inside_the_shim():
    with pytest.raises(TypeError):
        WebuiGroupedSampler([1, 2])
    with sampler_takes_data_source(BareSampler):
        assert isinstance(WebuiGroupedSampler([1, 2]), WebuiGroupedSampler)
    assert "__init__" not in vars(BareSampler)  # put back as it was, even for the rest of the program
    with pytest.raises(TypeError):
        WebuiGroupedSampler([1, 2])


def test_the_shim_is_undone_when_the_run_fails():
    with pytest.raises(RuntimeError), sampler_takes_data_source(BareSampler):
        raise RuntimeError("the trainer failed")
    assert "__init__" not in vars(BareSampler)


def test_a_torch_that_still_has_the_argument_is_left_alone():
    original = OldSampler.__init__
    with sampler_takes_data_source(OldSampler):
        assert OldSampler.__init__ is original
    assert OldSampler.__init__ is original


def test_installed_torch_builds_webuis_sampler_inside_the_shim():
    import torch.utils.data

    class Grouped(torch.utils.data.Sampler):
        def __init__(self, data_source: object) -> None:
            super().__init__(data_source)

        def __iter__(self):
            return iter(())

    with sampler_takes_data_source(torch.utils.data.Sampler):
        Grouped([1, 2])
