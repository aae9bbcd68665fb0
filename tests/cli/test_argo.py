"""`fmops run`, `render` and `validate` as a user and Argo call them: a new process, exit codes, one line."""

from tests.helpers import fmops


def test_validate_and_render_check_pass_on_the_committed_workflows():
    assert fmops("validate").stdout == "13 documents checked, 0 problem(s)\n"
    assert fmops("render", "--check").stdout.endswith("17 files up to date\n")


def test_bad_input_is_exit_2_and_one_line():
    for args, line in [
        (["validate", "does/not/exist"], "fmops validate: error: does/not/exist: does not exist"),
        (["run", "nope", "--workflows", "absent"], "fmops run: error: absent: workflows directory does not exist"),
    ]:
        result = fmops(*args, check=False)
        assert (result.returncode, result.stderr) == (2, line + "\n"), args
