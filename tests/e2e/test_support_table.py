"""The README's supported-layer table is generated from the registries and must stay in sync."""
from export_tf import support_table


def test_readme_table_matches_the_registries():
    with open(support_table.README) as f:
        text = f.read()
    assert support_table.render_readme(text) == text, "run `make readme-table` and commit README.md"


def test_every_exported_op_has_an_importer():
    assert "| Conv2D | conv | conv2d |" in support_table.table()
