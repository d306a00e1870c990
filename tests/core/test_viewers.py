from __future__ import annotations

import pytest

from clipfeed.core.viewers import ViewerId


def test_a_user_and_a_device_have_one_key_each_and_the_device_id_is_not_in_it() -> None:
    assert ViewerId.signed_in(42) == ViewerId("u:42", 42)
    device = ViewerId.anonymous("phone-1234")
    assert device.user_id is None and device.key.startswith("d:") and len(device.key) == 18
    assert "phone" not in device.key and ViewerId.anonymous("phone-1234") == device


def test_keys_parse_back_to_the_same_viewer() -> None:
    for viewer in (ViewerId.signed_in(42), ViewerId.anonymous("phone-1234")):
        assert ViewerId.parse(viewer.key) == viewer


def test_the_forms_stored_before_one_form_existed_parse_to_todays_keys() -> None:
    assert ViewerId.parse("42") == ViewerId.signed_in(42)
    assert ViewerId.parse("anon:phone-1234") == ViewerId.anonymous("phone-1234")


@pytest.mark.parametrize("key", ["", "u:", "u:x", "u:0", f"u:{2**63}", "d:xyz", "d:" + "A" * 16, "anon:", "٤٢",
                                 "region:eu", "user 7"])
def test_anything_else_is_not_a_viewer(key: str) -> None:
    with pytest.raises(ValueError):
        ViewerId.parse(key)
