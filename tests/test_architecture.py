import pytest

from pathdyn.errors import ArchitectureError
from pathdyn.theory.architecture import Architecture, parse_depths


def test_basic_properties():
    arch = Architecture(depths=(2, 3, 5), n_in=8, n_out=15)
    assert arch.num_pathways == 3
    assert arch.depths == (2, 3, 5)
    assert Architecture.from_dict(arch.to_dict()) == arch


@pytest.mark.parametrize("hidden", [4, [[5], [6, 7]], None])
def test_dict_round_trip_keeps_widths_and_is_hashable(hidden):
    arch = Architecture(depths=(2, 3), hidden_widths=hidden)
    again = Architecture.from_dict(arch.to_dict())
    assert again == arch and hash(again) == hash(arch)
    assert again.hidden_width(2, 2) == arch.hidden_width(2, 2)


def test_from_dict_reports_a_bad_depths_string_with_the_other_problems():
    with pytest.raises(ArchitectureError) as info:
        Architecture.from_dict({"depths": "2,x", "foo": 1}, source="a.toml")
    message = str(info.value)
    assert message.startswith("a.toml: ") and "'x'" in message and "unknown key(s) foo" in message


def test_from_string_and_unequal_depths():
    assert Architecture.from_string("2, 3,5").depths == (2, 3, 5)
    assert Architecture.from_string("1").num_pathways == 1


@pytest.mark.parametrize(
    "text, fragment",
    [("", "expected comma-separated"), ("2,,3", "item 2 is empty"), ("2,a", "'a'"), ("2.5", "not a whole number")],
)
def test_parse_depths_errors(text, fragment):
    with pytest.raises(ArchitectureError, match=fragment):
        parse_depths(text)


def test_every_problem_reported_at_once():
    with pytest.raises(ArchitectureError) as info:
        Architecture(depths=(0, -1, 2.5, True), n_in=0, n_out=-3)
    message = str(info.value)
    for fragment in ("depths[1]", "depths[2]", "depths[3]", "depths[4]", "n_in", "n_out"):
        assert fragment in message
    assert "\n" not in message


def test_zero_pathways():
    with pytest.raises(ArchitectureError, match="zero pathways"):
        Architecture(depths=())


def test_hidden_widths():
    arch = Architecture(depths=(2, 3), hidden_widths=64)
    assert arch.hidden_width(2, 2) == 64
    arch = Architecture(depths=(2, 3), hidden_widths=[[10], [20, 30]])
    assert arch.hidden_width(2, 2) == 30
    with pytest.raises(ArchitectureError, match=r"hidden_widths\[2\]: 1 widths for depth 3"):
        Architecture(depths=(2, 3), hidden_widths=[[10], [20]])


def test_toml(tmp_path):
    path = tmp_path / "arch.toml"
    path.write_text('depths = [2, 3]\nn_in = 8\nn_out = 15\nwhitened = false\n')
    arch = Architecture.from_toml(path)
    assert arch.depths == (2, 3) and arch.n_in == 8 and not arch.whitened
    path.write_text('[architecture]\ndepths = "2,4"\n')
    assert Architecture.from_toml(path).depths == (2, 4)


def test_toml_unknown_keys_and_bad_values_together(tmp_path):
    path = tmp_path / "arch.toml"
    path.write_text('depths = [2, 0]\nwidth = 3\ncolour = "red"\n')
    with pytest.raises(ArchitectureError) as info:
        Architecture.from_toml(path)
    message = str(info.value)
    assert "colour, width" in message and "depths[2]" in message


def test_toml_missing_and_malformed(tmp_path):
    with pytest.raises(ArchitectureError, match="not found"):
        Architecture.from_toml(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("depths = [2,\n")
    with pytest.raises(ArchitectureError, match="not valid TOML"):
        Architecture.from_toml(bad)
    empty = tmp_path / "empty.toml"
    empty.write_text("n_in = 3\n")
    with pytest.raises(ArchitectureError, match="missing key 'depths'"):
        Architecture.from_toml(empty)
