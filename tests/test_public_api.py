"""Every public name of keras_pool, keras_pool.ops and keras_pool.registry in the
release before the regrouping (commit 2f5a6ae, issue 25) still imports.

The lists were read from that commit (`dir()` of each module, less the modules it
imported: `keras`, `np`, `math`, `itertools`). New names may be added; none of
these may go.
"""

import importlib

import pytest

BEFORE_REGROUPING = {
    "keras_pool": """
        BlurPool1D BlurPool2D BlurPool3D BlurPooling1D BlurPooling2D BlurPooling3D
        GatedPool1D GatedPool2D GatedPool3D GatedPooling1D GatedPooling2D GatedPooling3D
        GlobalLpPool1D GlobalLpPool2D GlobalLpPool3D
        GlobalLpPooling1D GlobalLpPooling2D GlobalLpPooling3D
        GlobalMinPool1D GlobalMinPool2D GlobalMinPool3D
        GlobalMinPooling1D GlobalMinPooling2D GlobalMinPooling3D
        GlobalSoftPool1D GlobalSoftPool2D GlobalSoftPool3D
        GlobalSoftPooling1D GlobalSoftPooling2D GlobalSoftPooling3D
        GlobalStochasticPool1D GlobalStochasticPool2D GlobalStochasticPool3D
        GlobalStochasticPooling1D GlobalStochasticPooling2D GlobalStochasticPooling3D
        LpPool1D LpPool2D LpPool3D LpPooling1D LpPooling2D LpPooling3D
        MaxBlurPool1D MaxBlurPool2D MaxBlurPool3D MaxBlurPooling1D MaxBlurPooling2D MaxBlurPooling3D
        MinPool1D MinPool2D MinPool3D MinPooling1D MinPooling2D MinPooling3D
        MixedPool1D MixedPool2D MixedPool3D MixedPooling1D MixedPooling2D MixedPooling3D
        SoftPool1D SoftPool2D SoftPool3D SoftPooling1D SoftPooling2D SoftPooling3D
        StochasticPool1D StochasticPool2D StochasticPool3D
        StochasticPooling1D StochasticPooling2D StochasticPooling3D
        antialias antialiasing layers ops registry surgery swap_pooling xla_clusters
    """,
    "keras_pool.ops": """
        HALF_DTYPES MATRIX_BLUR_MAX MAX_FILTER_SIZE PADDINGS PADDING_MODES
        binomial_filter blur_matrix blur_pads blur_pool blurred_shape cluster gated_pool
        global_lp_pool global_min_pool global_shape global_soft_pool global_stochastic_pool
        inside_xla lp_pool max_blur_pool max_blurred_shape min_pool mixed_pool
        normalize_blur_arguments normalize_bool normalize_choice normalize_data_format
        normalize_number normalize_p normalize_padding normalize_tuple pooled_shape
        soft_pool spatial_dims stochastic_pool with_spatial
    """,
    "keras_pool.registry": "HEADS OPTIONS POOLINGS head layers pooling pooling_classes",
}


@pytest.mark.parametrize("module", sorted(BEFORE_REGROUPING))
def test_public_names_of_the_release_before_still_import(module):
    imported = importlib.import_module(module)
    missing = [name for name in BEFORE_REGROUPING[module].split() if not hasattr(imported, name)]
    assert not missing, f"{module} lost {missing}"


def test_aliases_are_the_same_classes():
    import keras_pool

    for name in BEFORE_REGROUPING["keras_pool"].split():
        if name.endswith(("Pool1D", "Pool2D", "Pool3D")):  # the short alias of ...Pooling{N}D
            long_name = name[:-2] + "ing" + name[-2:]
            assert getattr(keras_pool, name) is getattr(keras_pool, long_name), name
