"""The heuristics stage and its rule table (Gopher/C4/FineWeb rules, Chinese-aware, code and math routes)."""
