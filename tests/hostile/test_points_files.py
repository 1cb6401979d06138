"""Hostile --points files: every bad one a clear line and exit 2 before any computation (an
earlier result kept), the odd-but-valid ones working."""

import pytest

BAD = [
    ("missing", None, ("not found",)),
    ("empty", "", ("empty",)),
    ("header_only", "x,y,disparity\n", ("no points",)),
    ("nan", "x,y,disparity\n1,2,0.5\n3,nan,0.1\n", ("line 3", "finite")),
    ("inf", "x,y,disparity\n1,2,inf\n", ("line 2", "finite")),
    ("text", "x,y,disparity\n1,2,deep\n", ("line 2", "number")),
    ("missing_column", "x,disparity\n1,0.5\n", ("missing column", "y")),
    ("short_row", "x,y,disparity\n1,2\n", ("line 2", "fields")),
    ("nul_bytes", b"x,y,disparity\n1,2,\x000.5\n", ("NUL",)),
    ("binary", bytes(range(256)) * 8, ("p.csv",)),
    ("latin1", "x,y,disparit\xe9\n1,2,3\n".encode("latin-1"), ("UTF-8",)),
    ("huge_field", "x,y,disparity\n1,2," + "9" * 200000 + "\n", ("p.csv",)),
    ("disparity_1e30", "x,y,disparity\n10,10,1e30\n20,20,0.5\n", ("line 2", "1e30")),
    ("disparity_beyond_image", "x,y,disparity\n10,10,0.5\n20,20,500\n", ("sane range",)),
    ("coordinates_1e300", "x,y,disparity\n1e300,10,0.5\n", ("line 2",)),
    ("all_outside", "x,y,disparity\n-100,-100,0.5\n900,900,0.5\n", ("outside",)),
    ("negative_confidence", "x,y,disparity,confidence\n10,10,0.5,-1\n", ("confidence",)),
    ("nan_confidence", "x,y,disparity,confidence\n10,10,0.5,nan\n", ("line 2",)),
    ("unclosed_quote", 'x,y,disparity\n"1,2,0.5\n', ("p.csv",)),
]


@pytest.mark.parametrize("kind,text,says", BAD, ids=[k for k, _, _ in BAD])
def test_bad_points_file(corpus, hostile, capsys, kind, text, says):
    scene = corpus.hci()
    pts = corpus.root / "p.csv" if text is None else corpus.points(text)
    out = corpus.old_result()
    argv = hostile.run_args(scene, out, "--passes", "1000", "--iters", "1000", points=pts)
    hostile.check(hostile.Case(argv, out, says=says, state="old"), corpus.root, capsys)


def test_points_file_is_a_folder(corpus, hostile, capsys):
    scene, out = corpus.hci(), corpus.root / "out"
    (corpus.root / "p.csv").mkdir()
    argv = hostile.run_args(scene, out, points=corpus.root / "p.csv")
    hostile.check(hostile.Case(argv, out, says=("folder",)), corpus.root, capsys)


VALID = [
    (
        "bom_crlf_comments",
        "\ufeff# made by hand\r\nX, Y ,Disparity\r\n10,10,0.5\r\n\r\n30,20,0.2\r\n",
    ),
    ("single_point", "x,y,disparity\n20,20,0.5\n"),
    ("duplicates", "x,y,disparity\n" + "20,20,0.5\n" * 50),
    ("extra_columns_any_order", "id,disparity,note,y,x\n1,0.5,a,10,10\n2,0.3,b,20,30\n"),
    ("some_outside", "x,y,disparity\n10,10,0.5\n-500,3,0.5\n"),
]


@pytest.mark.parametrize("kind,text", VALID, ids=[k for k, _ in VALID])
def test_odd_but_valid_points_files(corpus, hostile, capsys, kind, text):
    scene, out = corpus.hci(), corpus.root / "out"
    argv = hostile.run_args(scene, out, "--no-optimize", points=corpus.points(text))
    hostile.check(hostile.Case(argv, out, code=0, state="whole"), corpus.root, capsys)
