r"""MATH verifier: equivalence classes a reader accepts (issue 15), one table per class, worked out by hand.

Each row is (ground_truth, response, expected_correct). Every class also has rows that must stay
wrong: a hedge, a different value, an approximation. No row may end in any reason other than
``correct`` / ``wrong_answer``.
"""

import pytest

from rlvr_gym.verifiers.latex import extract_answer
from rlvr_gym.verifiers.math import MathVerifier
from tests.verifiers.math_cases import boxed, check_row, flatten

VERIFIER = MathVerifier(alpha=1.0)


# ----------------------------------------------------------------------------------------------
# Percent written as a word (normalization): the same number as 12\%
PERCENT_WORDS = [
    ("12\\%", boxed("12 percent"), True),
    ("12\\%", boxed("12 pct"), True),
    ("12\\%", boxed("12 percentage"), True),
    ("12\\%", boxed("12\\text{ percent}"), True),
    ("12\\%", boxed("13 percent"), False),
    ("12\\%", boxed("12 percent or 13 percent"), False),  # a hedge
]

# A left-hand side that only names the value (structure): the value is the answer
NAMED_VALUE = [
    ("(a,b)=(4,-1)", boxed("(4,-1)"), True),
    ("(a,b)=(4,-1)", boxed("(-1,4)"), False),  # a tuple keeps its order
    ("|PQ|=7", boxed("7"), True),
    ("P:Q=7", boxed("7"), True),
    ("g(t)=3", boxed("3"), True),
    ("g(2)=3", boxed("3"), True),
    ("\\frac{AM}{MB}=\\frac{2}{\\sqrt{3}}", boxed("\\frac{2\\sqrt{3}}{3}"), True),
    ("\\frac{AM}{MB}=\\frac{2}{\\sqrt{3}}", boxed("\\frac{\\sqrt{3}}{2}"), False),
    ("A_{1}:A_{2}=5:9", boxed("5:9"), True),  # ratios compare as text once the names are dropped
    ("A_{1}:A_{2}=5:9", boxed("9:5"), False),
    ("PQ=3,RS=8", boxed("3, 8"), True),
    ("7", boxed("h(x) = 7"), True),
    ("xy=12", boxed("12"), False),  # a product of two variables is an expression, not a name
    ("2a+b=5", boxed("5"), False),  # an equation is not a name and its value
]

# Named assignments against a plain list or tuple: the values in the order written (structure)
ASSIGNMENTS = [
    ("u=-3, v=\\frac{7}{2}", boxed("-3, \\frac{7}{2}"), True),
    ("u=-3, v=\\frac{7}{2}", boxed("-3, 3.5"), True),
    ("u=-3, v=\\frac{7}{2}", boxed("\\frac{7}{2}, -3"), False),  # the order written says which is which
    ("u=-3, v=\\frac{7}{2}", boxed("(-3, \\frac{7}{2})"), True),
    ("u=-3, v=\\frac{7}{2}", boxed("v = \\frac{7}{2}, u = -3"), True),  # assignment against assignment: by name
    ("u=-3, v=\\frac{7}{2}", boxed("-3, \\frac{7}{2}, 1"), False),
    ("m=1,n=4;m=2,n=3", boxed("(1,4),(2,3)"), True),  # two solutions, each an assignment
    ("m=1,n=4;m=2,n=3", boxed("(2,3),(1,4)"), True),
    ("m=1,n=4;m=2,n=3", boxed("(4,1),(2,3)"), False),
]

# An equation against its rearrangement (sympy: the same relation up to a constant factor)
EQUATIONS = [
    ("3x-6y+2=0", boxed("y=\\frac{1}{2}x+\\frac{1}{3}"), True),
    ("y=\\frac{1}{2}x+\\frac{1}{3}", boxed("3x-6y+2=0"), True),
    ("3x-6y+2=0", boxed("6y=3x+2"), True),
    ("3x-6y+2=0", boxed("y=\\frac{1}{2}x+1"), False),
    ("3x-6y+2=0", boxed("\\frac{1}{2}x+\\frac{1}{3}"), False),  # an expression is not an equation
    ("y=2x", boxed("x=\\frac{y}{2}"), True),
]

# Chains of equalities state their last member; an exception inside sympy is never a verdict
CHAINS = [
    ("w=4", boxed("w=1+3=4"), True),
    ("w=4", boxed("w=2+3=5"), False),
    ("4", boxed("w = 2\\cdot 2 = 4"), True),
    ("w=2+2=4", boxed("w=1+3=4"), True),
    ("w=2+2=4", boxed("w=5+5=4"), True),  # the stated value is 4 (the working is not graded)
    ("w=2+2=4", boxed("w=2+2=5"), False),
    ("4", boxed("w\\approx 4"), False),  # an approximation is not an exact value
]

# Tuples: a repeated item, semicolons inside tuples, a named tuple followed by more tuples (structure)
TUPLES = [
    ("(2,5,1),(5,2,1)", boxed("(5,2,1), (2,5,1), (5, 2, 1)"), True),  # the same tuple written twice
    ("(2,5,1),(5,2,1)", boxed("(5,2,1), (2,5,1), (2,5,2)"), False),  # a third, different tuple
    ("1, 1, 3", boxed("1, 3"), False),  # the gold repeats a root: a multiset, duplicates count
    ("1, 3", boxed("1, 3, 3"), True),
    ("(1;-4;2),(0;0;0)", boxed("(0,0,0), (1,-4,2)"), True),
    ("(1;-4;2)", boxed("(1,4,2)"), False),
    ("(2,9),(9,2)", boxed("(a,b)=(2,9) \\quad\\text{and}\\quad (9,2)"), True),
    ("(2,9),(9,2)", boxed("(a,b)=(2,9) \\quad\\text{or}\\quad (9,3)"), False),
]

# Matrices: an array in brackets is the same matrix as a pmatrix (structure, entry by entry)
MATRICES = [
    ("\\begin{pmatrix} 2 & -1 \\\\ 0 & 5 \\end{pmatrix}", boxed("\\left[\\begin{array}{cc} 2 & -1 \\\\ 0 & 5 \\end{array}\\right]"), True),
    (
        "\\begin{pmatrix} 2 & -1 \\\\ 0 & 5 \\end{pmatrix}",
        boxed("\\left(\\begin{array}{cc} 2 & -1 \\\\ 0 & \\frac{10}{2} \\end{array}\\right)"),
        True,
    ),
    ("\\begin{pmatrix} 2 & -1 \\\\ 0 & 5 \\end{pmatrix}", boxed("\\left[\\begin{array}{cc} 2 & -1 \\\\ 5 & 0 \\end{array}\\right]"), False),
]

# An inequality chain about an expression against an interval (sympy sets)
INEQUALITY_CHAINS = [
    ("-2<g(t)<5", boxed("(-2,5)"), True),
    ("-2<g(t)<5", boxed("(-2,5]"), False),
    ("(-2,5)", boxed("-2<g(t)<5"), True),
    ("2<|w|<3", boxed("(-3,-2)\\cup(2,3)"), True),  # solvable for w: the union
    ("2<|w|<3", boxed("(2,3)"), False),
    ("-4<b<9", boxed("(-4,9)"), True),
]

# Powers with a symbolic exponent: kept unevaluated, compared exactly (sympy)
SYMBOLIC_POWERS = [
    (
        "t_{1}=3^{\\frac{1+\\sqrt{5}}{2}}, t_{2}=3^{\\frac{1-\\sqrt{5}}{2}}",
        "$\\boxed{3^{\\frac{\\sqrt{5}+1}{2}}}$ and $\\boxed{3^{-\\frac{\\sqrt{5}-1}{2}}}$",
        True,
    ),
    (
        "t_{1}=3^{\\frac{1+\\sqrt{5}}{2}}, t_{2}=3^{\\frac{1-\\sqrt{5}}{2}}",
        "$\\boxed{3^{\\frac{\\sqrt{5}+1}{2}}}$ and $\\boxed{3^{\\frac{\\sqrt{5}-1}{2}}}$",
        False,
    ),
    ("2^{\\sqrt{2}}", boxed("2^{\\frac{2}{\\sqrt{2}}}"), True),
    ("2^{\\sqrt{2}}", boxed("2.66514414"), False),  # no float tolerance
]

# Sums and products: equal in sympy's canonical form (factors and terms reordered), never computed
SUMS = [
    ("S_m=\\sum_{j=1}^{m} a_j b_{m-j}", boxed("S_m=\\sum_{j=1}^{m} b_{m-j} a_j"), True),
    ("\\sum_{j=1}^{m} (a_j + c_j)", boxed("\\sum_{j=1}^{m} (c_j + a_j)"), True),
    ("\\prod_{j=1}^{m} a_j b_j", boxed("\\prod_{j=1}^{m} b_j a_j"), True),
    ("S_m=\\sum_{j=1}^{m} a_j b_{m-j}", boxed("S_m=\\sum_{j=0}^{m} a_j b_{m-j}"), False),  # other bounds
    ("\\sum_{j=1}^{m} a_j b_j", boxed("\\sum_{j=1}^{m} a_j c_j"), False),
]

# Final-answer sentences and the order of statements (extraction; see latex.py's policy)
FINAL_SENTENCES = [
    ("27", "We tried every case.\n\nFinal Answer: The smallest $k$ is 27.", True),
    ("27", "Final Answer: The number of ordered pairs is $27$. I hope it is correct.", True),
    ("27", "Final Answer: Maria bought 27 apples.", True),
    ("27", "Final Answer: The smallest $k$ is 28.", False),
    ("27", "Final Answer: The smallest $k$ is 27 or 28.", False),  # a hedge
    ("4350", "First $\\boxed{150}$ per month. So the total is 4200 + 150 = 4350.\nThe final answer is $4,350$.", True),
    ("150", "First $\\boxed{150}$ per month. So the total is 4200 + 150 = 4350.\nThe final answer is $4,350$.", False),
    ("150", "So $\\boxed{150}$. The final answer is positive, since both factors are.", True),  # prose, not a value
    ("150", "So $\\boxed{150}$. Note that the answer is 4350 in the other unit.", True),  # only "final answer" overrides
    ("9", "Answer $9$", True),
    ("9", "Answer \\[ 9 \\]", True),
]

TABLES = {
    "percent_words": PERCENT_WORDS,
    "named_value": NAMED_VALUE,
    "assignments": ASSIGNMENTS,
    "equations": EQUATIONS,
    "chains": CHAINS,
    "tuples": TUPLES,
    "matrices": MATRICES,
    "inequality_chains": INEQUALITY_CHAINS,
    "symbolic_powers": SYMBOLIC_POWERS,
    "sums": SUMS,
    "final_sentences": FINAL_SENTENCES,
}
ALL_CASES, CASE_IDS = flatten(TABLES)


@pytest.mark.parametrize(("group", "ground_truth", "response", "expected"), ALL_CASES, ids=CASE_IDS)
def test_table(group, ground_truth, response, expected):
    check_row(VERIFIER, ground_truth, response, expected)


def test_cheap_stages_only_reject_or_match_exact_text():
    """The string/number stages accept only identical normalized text or equal exact numbers; the new
    classes that need algebra are decided by sympy (``method`` says which stage decided)."""
    for ground_truth, response in [
        ("3x-6y+2=0", boxed("6y=3x+2")),
        ("-2<g(t)<5", boxed("(-2,5)")),
        ("2^{\\sqrt{2}}", boxed("2^{\\frac{2}{\\sqrt{2}}}")),
    ]:
        verdict = VERIFIER.verify(response, ground_truth)
        assert verdict.correct and verdict.details["method"] == "sympy", verdict


@pytest.mark.parametrize(
    ("response", "answer", "source"),
    [
        ("Final Answer: The largest $n$ is 34.", "34", "phrase"),
        ("so \\boxed{255}. Hence 10,455 in all.\n\nThe final answer is $10,455$.", "10,455", "phrase"),
        ("The final answer is $10,455$. Check: \\boxed{10455}", "10455", "boxed"),  # the box is the later statement
        ("so \\boxed{255}. The final answer is positive.", "255", "boxed"),
    ],
)
def test_the_final_statement_is_read(response, answer, source):
    extraction = extract_answer(response)
    assert (extraction.answer, extraction.source) == (answer, source)


@pytest.mark.parametrize(
    ("leaf", "expected"),
    [
        ("z=3+3=2", "False"),  # 3+3=2 is false: the whole chain is false, never an AttributeError
        ("z=1+1=2", "Eq(z, 2)"),  # Eq(z, 2) and the true 2=2
        ("1<x=2", "Eq(x, 2) & (1 < x)"),
    ],
)
def test_chains_reach_sympy_without_an_exception(leaf, expected):
    """latex2sympy2_extended's ``And`` fails when a chain collapses to one relation; we evaluate it part by part."""
    from rlvr_gym.verifiers.math.symbolic import gold_sympy

    assert str(gold_sympy(leaf)) == expected
