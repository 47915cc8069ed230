from datasketch.lsh import _optimal_param

from filters.dedup.sketch.lsh_params import candidate_probability, edge_probability, optimal_bands_rows


def test_optimal_bands_rows_match_datasketch():
    for threshold, num_perm in [(0.5, 128), (0.7, 128), (0.8, 64)]:
        assert optimal_bands_rows(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)


def test_optimal_bands_rows_match_datasketch_over_a_grid():
    """Gauss-Legendre (numpy) against datasketch's scipy quad: the same choice everywhere."""
    for num_perm in (32, 128):
        for weights in ((0.5, 0.5), (0.3, 0.7)):
            for i in range(5, 100, 10):
                got = optimal_bands_rows(i / 100, num_perm, *weights)
                assert got == _optimal_param(i / 100, num_perm, *weights), (i / 100, num_perm, weights)


def test_verification_cuts_low_similarity_edges():
    b, r = optimal_bands_rows(0.5, 128)
    assert candidate_probability(0.2, b, r) > 1e-3
    assert edge_probability(0.2, b, r, 128, 0.5) < 1e-12
    assert edge_probability(0.8, b, r, 128, 0.5) > 0.99
