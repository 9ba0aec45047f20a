"""Preview cells in a (fake) WebUI: each cell's infotext keeps its <lora:NAME:W>, and the epoch files the
job registered in WebUI's Lora list are gone from it when the job ends, however it ends."""

from __future__ import annotations

import pytest
import torch

from model_workbench.host import ExtraNetwork, GenerationRequest

NAME = "proj_v1-000001-0123abcd"


@pytest.fixture
def host(fake_webui):
    from model_workbench.webui.host import WebuiHost

    fake_webui.shared.sd_model = torch.nn.Module()  # the job's end puts its layers back: there are none
    return WebuiHost()


@pytest.fixture
def epoch(tmp_path):
    path = tmp_path / f"{NAME}.safetensors"
    path.write_bytes(b"epoch one")
    return path


def cell(epoch, weight: float, name: str = NAME) -> GenerationRequest:
    return GenerationRequest(prompt="a cat", seed=11, width=64, height=64, sampler_name="Euler",
                             extra_networks=(ExtraNetwork(name, weight, path=epoch),))


def test_the_processing_object_keeps_a_script_runner_and_the_tag(fake_webui, host, epoch):
    p = host.build_processing(cell(epoch, 0.6))
    # WebUI 1.10.1 puts the un-stripped prompt back into the infotext only when p.scripts is not None.
    assert p.scripts is not None
    assert p.prompt == f"a cat <lora:{NAME}:0.6>"


def test_every_cell_infotext_carries_its_own_lora_tag_and_weight(fake_webui, host, epoch):
    infotexts = []
    with host.gpu_lock("preview"):
        for weight in (0, 0.5, 1):
            infotexts += host.generate(cell(epoch, weight)).infotexts
    prompts = [text.splitlines()[0] for text in infotexts]
    assert prompts == [f"a cat <lora:{NAME}:0>", f"a cat <lora:{NAME}:0.5>", f"a cat <lora:{NAME}:1>"]
    assert all(f"Lora hashes: \"{NAME}: " in text and "Seed: 11" in text for text in infotexts)


def test_registered_epochs_leave_webui_lora_list_when_the_job_ends(fake_webui, host, epoch):
    networks = fake_webui.networks
    with host.gpu_lock("preview"):
        host.generate(cell(epoch, 1))
        entry = networks.available_networks[NAME]
        assert networks.available_network_hash_lookup[entry.shorthash] is entry
    assert NAME not in networks.available_networks
    assert NAME not in networks.available_network_aliases
    assert entry not in networks.available_network_hash_lookup.values()


def test_registered_epochs_leave_when_the_job_fails_or_is_interrupted(fake_webui, host, epoch):
    with pytest.raises(InterruptedError), host.gpu_lock("preview"):
        host.generate(cell(epoch, 1))
        raise InterruptedError("stopped")
    assert NAME not in fake_webui.networks.available_networks
    assert NAME not in fake_webui.networks.available_network_aliases


def test_entries_webui_listed_itself_stay(fake_webui, host, epoch, tmp_path):
    networks, network = fake_webui.networks, fake_webui.network
    # The user's own LoRA, and the same epoch published into the LoRA folder under the same name.
    own = network.NetworkOnDisk("castle", str(tmp_path / "castle.safetensors"))
    published = network.NetworkOnDisk(NAME, str(epoch))
    published.set_hash("ab" * 32)
    for entry in (own, published):
        networks.available_networks[entry.name] = networks.available_network_aliases[entry.name] = entry
    with host.gpu_lock("preview"):
        host.generate(cell(epoch, 1))
    assert networks.available_networks == {"castle": own, NAME: published}
    assert networks.available_network_aliases == {"castle": own, NAME: published}
    assert networks.available_network_hash_lookup == {"ab" * 6: published}


def test_a_hash_webui_lists_points_back_at_webui_entry(fake_webui, host, epoch, tmp_path):
    """The epoch published under another name has the same hash: PNG Info must find the published file."""
    networks, network = fake_webui.networks, fake_webui.network
    copy = tmp_path / "published.safetensors"
    copy.write_bytes(epoch.read_bytes())
    published = network.NetworkOnDisk("published", str(copy))
    published.read_hash()
    networks.available_networks["published"] = networks.available_network_aliases["published"] = published
    with host.gpu_lock("preview"):
        host.generate(cell(epoch, 1))
        assert networks.available_network_hash_lookup[published.shorthash].name == NAME  # taken over meanwhile
    assert networks.available_network_hash_lookup == {published.shorthash: published}


def test_a_refresh_during_the_job_is_left_as_webui_made_it(fake_webui, host, epoch):
    networks = fake_webui.networks
    with host.gpu_lock("preview"):
        host.generate(cell(epoch, 1))
        networks.list_available_networks()
        mine = fake_webui.network.NetworkOnDisk(NAME, str(epoch))  # a file of that name now in the LoRA folder
        networks.available_networks[NAME] = networks.available_network_aliases[NAME] = mine
    assert networks.available_networks == {NAME: mine}
