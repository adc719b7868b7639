from hypothesis import given, strategies as st

from jackstop import keys


def test_generated_keys_are_well_formed():
    for prefix in keys.PREFIXES:
        token = keys.generate(prefix)
        assert token.startswith(prefix)
        assert len(token) == keys.TOKEN_LEN
        assert keys.is_well_formed(token)
        assert keys.is_well_formed(token, prefix)


def test_checksum_rejects_a_single_changed_character():
    token = keys.generate()
    i = 10
    swapped = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
    assert not keys.is_well_formed(swapped)


@given(st.text(alphabet=keys.BASE62, min_size=32, max_size=32))
def test_any_random_part_round_trips(body):
    token = "jsk_" + body + keys.checksum(body)
    assert keys.is_well_formed(token)
    assert not keys.is_well_formed(token[:-1] + ("0" if token[-1] != "0" else "1"))


def test_wrong_prefix_and_length_are_rejected():
    token = keys.generate()
    assert not keys.is_well_formed("sk_" + token[3:])
    assert not keys.is_well_formed(token + "x")
    assert not keys.is_well_formed(token, keys.ADMIN_TOKEN)
