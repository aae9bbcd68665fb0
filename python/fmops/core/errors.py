"""The one error type that means "the user's input is wrong": the CLI prints it as one line, exit 2."""


class InputError(Exception):
    """Bad input: a missing path, a malformed line, an unknown field. The message names where and what."""


def where(uri: str, line: int | None = None, field: str | None = None) -> str:
    """`file:line: field 'x'` prefix for messages, so every error names its place the same way."""
    place = uri if line is None else f"{uri}:{line}"
    return place if field is None else f"{place}: field '{field}'"
