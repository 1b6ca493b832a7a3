"""One-sentence explanations of the paper's symbols, each with its equation number.

Used by widget ``help=`` texts (:func:`help_text`, Markdown) and by figures' hovertemplates
(:func:`hover`, Plotly's HTML subset). The equation numbers are the slides' (1)-(5):
GD's step (1), the masks and B (2), AM's least-squares step (3), the bounds (4)-(5).
"""
from __future__ import annotations

import textwrap

GLOSSARY: dict[str, str] = {
    "kappa": "κ = σ²_max / σ²_min of Bᵗ/√n is the condition number of the linearized problem: it sets GD's "
             "linear factor (κ − 1)/(κ + 1) in ρ_GD of bound (4) and multiplies ρ₃ in ρ_AM = κρ₃/σ_max of bound (5).",
    "rho3": "ρ₃ measures the error of the ReLU non-linearity, Σ_q ‖E_q‖ ≤ ρ₃ ‖Wᵗ − W*‖_F with "
            "E_q = (Bᵗ − B*) vec(W* + I)/√n restricted to neuron q (Lemma 2), and enters both rates ρ_GD and ρ_AM "
            "of bounds (4)–(5).",
    "delta": "δ is Theorem 1's start radius: bounds (4)–(5) hold from any W⁰ with ‖W⁰ − W*‖_F ≤ δ ‖W* + I‖_F, "
             "0 < δ < 1, which the identity start W⁰ = 0 meets when ‖W*‖_F ≤ δ√d/(1 + δ) (Assumption 1).",
    "flips": "A flip is a (sample i, neuron q) pair whose ReLU state 1{x_i·(w_q + e_q) > 0}, a diagonal entry of "
             "the mask P_q in (2), differs from the teacher's; AM freezes the masks at each step, and once no flip "
             "is left its least-squares step (3) lands exactly on W*.",
}


def text(key: str) -> str:
    """The sentence for ``key`` (one of GLOSSARY's keys), as plain Unicode text."""
    return GLOSSARY[key]


LATEX = (("‖W⁰ − W*‖_F", r"$\|W^0 - W^*\|_F$"), ("‖W* + I‖_F", r"$\|W^* + I\|_F$"),
         ("‖W − W*‖_F", r"$\|W - W^*\|_F$"), ("‖W + I‖_F", r"$\|W + I\|_F$"), ("‖∇L‖_F", r"$\|\nabla L\|_F$"),
         ("‖Wᵗ − W*‖_F", r"$\|W^t - W^*\|_F$"), ("‖W*‖_F/‖I‖_F", r"$\|W^*\|_F/\|I\|_F$"),
         ("‖W*‖_F", r"$\|W^*\|_F$"),
         ("σ²_max / σ²_min", r"$\sigma^2_{\max} / \sigma^2_{\min}$"), ("Bᵗ/√n", r"$B^t/\sqrt{n}$"),
         ("(κ − 1)/(κ + 1)", r"$(\kappa - 1)/(\kappa + 1)$"), ("ρ_GD", r"$\rho_{\mathrm{GD}}$"),
         ("ρ_AM = κρ₃/σ_max", r"$\rho_{\mathrm{AM}} = \kappa\rho_3/\sigma_{\max}$"),
         ("ρ_AM", r"$\rho_{\mathrm{AM}}$"), ("Σ_q ‖E_q‖", r"$\sum_q \|E_q\|$"),
         ("E_q = (Bᵗ − B*) vec(W* + I)/√n", r"$E_q = (B^t - B^*)\,\mathrm{vec}(W^* + I)/\sqrt{n}$"),
         ("1{x_i·(w_q + e_q) > 0}", r"$\mathbb{1}\{x_i \cdot (w_q + e_q) > 0\}$"), ("P_q", r"$P_q$"),
         ("δ√d/(1 + δ)", r"$\delta\sqrt{d}/(1 + \delta)$"))


def help_text(key: str) -> str:
    """The sentence for a Streamlit ``help=`` tooltip (:func:`latex`)."""
    return latex(GLOSSARY[key])


def latex(s: str) -> str:
    """Plain text as Markdown for Streamlit: the formulas of ``LATEX`` typeset by KaTeX, the
    asterisk of a bare W* and the underscore of a name (W_star) kept literal."""
    parts = []
    for plain, tex in LATEX:
        if plain in s:
            s = s.replace(plain, f"\0{len(parts)}\1")
            parts.append(tex)
    s = s.replace("*", "\\*").replace("_", "\\_")
    for i, tex in enumerate(parts):
        s = s.replace(f"\0{i}\1", tex)
    return s


SUBSCRIPTS = (("σ²_max", "σ²<sub>max</sub>"), ("σ²_min", "σ²<sub>min</sub>"), ("σ_max", "σ<sub>max</sub>"),
              ("ρ_GD", "ρ<sub>GD</sub>"), ("ρ_AM", "ρ<sub>AM</sub>"), ("E_q", "E<sub>q</sub>"),
              ("P_q", "P<sub>q</sub>"),
              ("Σ_q", "Σ<sub>q</sub>"), ("‖_F", "‖<sub>F</sub>"), ("w_q", "w<sub>q</sub>"), ("e_q", "e<sub>q</sub>"),
              ("x_i", "x<sub>i</sub>"))


def html(s: str) -> str:
    """Plain text with _subscripts as Plotly HTML (σ²_max -> σ²<sub>max</sub>)."""
    s = s.replace("<", "&lt;").replace(">", "&gt;")        # a bare < would open a tag for Plotly
    for plain, tagged in SUBSCRIPTS:
        s = s.replace(plain, tagged)
    return s


def hover(key: str, width: int = 60) -> str:
    """The sentence for a Plotly hovertemplate: wrapped at ``width`` characters with <br>,
    subscripts as <sub> (the text has no braces or percent signs for Plotly to misread)."""
    return "<br>".join(html(line) for line in textwrap.wrap(GLOSSARY[key], width, break_on_hyphens=False))
