"""Generated protobuf code must match protos/."""

from rcommerce import codegen


def test_generated_code_is_up_to_date() -> None:
    assert codegen.main(["--check"]) == 0, "run `python -m rcommerce.codegen` and commit rcommerce/gen"
