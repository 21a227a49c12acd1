"""Warnings: one ChkptWarning base, attributed to the user's line whatever the entry point, and
the common slip of calling a stage with a Config is an error."""

from __future__ import annotations

import pathlib

import pytest

import chkpt

ROOT = pathlib.Path(__file__).parents[2]


def test_one_warning_base():
    assert issubclass(chkpt.StoreWarning, chkpt.ChkptWarning)
    assert issubclass(chkpt.ConfigWarning, chkpt.ChkptWarning)
    assert issubclass(chkpt.ChkptWarning, UserWarning)  # shown by default, as before


def test_calling_a_stage_with_a_config_is_a_type_error(calls):
    @chkpt.Stage.wrap()
    def download():
        calls("download")
        return 1

    with pytest.raises(
        TypeError, match=r"stage 'download' was called with a chkpt.Config.*Pipeline"
    ):
        download(chkpt.Config())
    assert calls["download"] == 0
    assert chkpt.Pipeline(download)(chkpt.Config()) == 1  # what the message suggests works
